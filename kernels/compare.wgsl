// Comparison over a collapsed broadcast (src/ops/broadcast.ts): out[i] = op(A[ia], B[ib]) as a
// bool byte (0 or 1). WGSL has no 8-bit storage, so Out is bound as array<u32> and each
// invocation builds one whole word from elements 4w .. 4w+3 (little-endian: element 4w is the
// low byte). Bytes past `total` in the last word are written as 0; they are the buffer's
// padding (gpu buffers are whole words). {{EXPR}} is the op's bool expression in a and b
// (COMPARE in src/ops/elementwise-spec.ts). Shapes and strides travel in the uniform (rank <= 8).
struct Params {
  rank: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4<u32>, 2>,
  stride: array<array<vec4<u32>, 2>, 2>, // a, b
}
const OPERANDS = 2u; // for stridedOffsets (kernels/strided.wgsl)

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> Out: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;

fn op(a: f32, b: f32) -> bool {
  return {{EXPR}};
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * 256u;
  if (w * 4u >= P.total) {
    return;
  }
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let i = w * 4u + k;
    if (i >= P.total) {
      break;
    }
    let o = stridedOffsets(i);
    word |= select(0u, 1u, op(A[o.x], B[o.y])) << (8u * k);
  }
  Out[w] = word;
}
