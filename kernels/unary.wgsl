// Unary elementwise op; {{EXPR}} is the op's f32 expression in a (src/ops/elementwise-spec.ts).
// IO (spliced at the IO marker): ldX / stOut over f32 or f16 storage (src/backend/wgsl-half.ts). main: one element per
// invocation (f32); pairs: one output word of two halves per invocation (f16).

struct Params {
  size: u32,
}

{{IO}}
@group(0) @binding(2) var<uniform> P: Params;

fn op(a: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < P.size) {
    stOut(i, op(ldX(i)));
  }
}

@compute @workgroup_size(256)
fn pairs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = 2u * (gid.x + gid.y * nwg.x * 256u);
  if (i + 1u < P.size) {
    stOut2(i, vec2<f32>(op(ldX(i)), op(ldX(i + 1u))));
  } else if (i < P.size) {
    stOut(i, op(ldX(i)));
  }
}
