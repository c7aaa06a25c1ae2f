// Binary elementwise op over a collapsed broadcast (src/ops/broadcast.ts).
// {{EXPR}} is the op's f32 expression in a and b, from src/ops/elementwise-spec.ts.
// Shapes and strides travel in the uniform, so one pipeline per op serves every shape of
// rank <= 8. The grid may be 2-D when there are more than 65535 workgroups.
// IO (spliced at the IO marker): ldA / ldB / stOut over f32 or f16 storage (src/backend/wgsl-half.ts). main: one
// element per invocation (f32); pairs: one output word of two halves per invocation (f16).

struct Params {
  rank: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4<u32>, 2>,
  stride: array<array<vec4<u32>, 2>, 2>, // a, b
}
const OPERANDS = 2u; // for stridedOffsets (kernels/strided.wgsl)

{{IO}}
@group(0) @binding(3) var<uniform> P: Params;

fn op(a: f32, b: f32) -> f32 {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i < P.total) {
    stOut(i, at(i));
  }
}

@compute @workgroup_size(256)
fn pairs(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = 2u * (gid.x + gid.y * nwg.x * 256u);
  if (i + 1u < P.total) {
    stOut2(i, vec2<f32>(at(i), at(i + 1u)));
  } else if (i < P.total) {
    stOut(i, at(i));
  }
}

// op at output element i: its operands' offsets from the collapsed broadcast.
fn at(i: u32) -> f32 {
  let o = stridedOffsets(i);
  return op(ldA(o.x), ldB(o.y));
}
