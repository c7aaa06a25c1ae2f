// Binary elementwise op over a collapsed broadcast (src/ops/broadcast.ts).
// {{EXPR}} is the op's f32 expression in a and b, from src/ops/elementwise-spec.ts.
// Shapes and strides travel in the uniform, so one pipeline per op serves every shape of
// rank <= 8. The grid may be 2-D when there are more than 65535 workgroups.

struct Params {
  rank: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4<u32>, 2>,
  aStride: array<vec4<u32>, 2>,
  bStride: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

fn op(a: f32, b: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.total) {
    return;
  }
  var rem = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = P.rank; d > 0u; d--) {
    let q = (d - 1u) / 4u;
    let r = (d - 1u) % 4u;
    let ext = P.shape[q][r];
    let c = rem % ext;
    rem = rem / ext;
    ia += c * P.aStride[q][r];
    ib += c * P.bStride[q][r];
  }
  Out[i] = op(A[ia], B[ib]);
}
