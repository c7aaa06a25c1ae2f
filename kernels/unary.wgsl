// Unary elementwise op; {{EXPR}} is the op's f32 expression in a (src/ops/elementwise-spec.ts).

struct Params {
  size: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

fn op(a: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < P.size) {
    Out[i] = op(X[i]);
  }
}
