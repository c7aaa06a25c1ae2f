// out[i] = cond[ic] != 0 ? A[ia] : B[ib] over a collapsed broadcast (rank <= 8), f32 out.
// cond is bool bytes; WGSL has no 8-bit storage, so Cond is bound as array<u32> and byte ic is
// extracted from its word (little-endian). Shapes and strides travel in the uniform.
struct Params {
  rank: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
  shape: array<vec4<u32>, 2>,
  stride: array<array<vec4<u32>, 2>, 3>, // cond, a, b
}
const OPERANDS = 3u; // for stridedOffsets (kernels/strided.wgsl)

@group(0) @binding(0) var<storage, read> Cond: array<u32>;
@group(0) @binding(1) var<storage, read> A: array<f32>;
@group(0) @binding(2) var<storage, read> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> Out: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.total) {
    return;
  }
  let o = stridedOffsets(i); // cond, a, b
  let cond = (Cond[o.x / 4u] >> (8u * (o.x % 4u))) & 0xffu;
  Out[i] = select(B[o.z], A[o.y], cond != 0u);
}
