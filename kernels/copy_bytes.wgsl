// Strided copy of 1- or 2-byte elements (u8, bool, f16): Out[dstOffset + i.dst] =
// In[srcOffset + i.src] for every index i of shape (rank <= 8, collapsed by src/ops/layout.ts).
// WGSL has no 8- or 16-bit storage, so both buffers are words and one invocation moves one
// element. Elements of Out that are not addressed must keep their bytes, and an output word may
// hold elements of several invocations, so the element is merged into its word with two
// atomics: clear its bits (atomicAnd), then set them (atomicOr). Each byte has one writer, and
// And/Or on disjoint bits commute, so the result does not depend on the order.
struct Params {
  rank: u32,
  total: u32,
  srcOffset: u32,
  dstOffset: u32,
  shape: array<vec4<u32>, 2>,
  stride: array<array<vec4<u32>, 2>, 2>, // src, dst
  itemBytes: u32, // 1 or 2
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

const OPERANDS = 2u; // for stridedOffsets (kernels/strided.wgsl)

@group(0) @binding(0) var<storage, read> In: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<atomic<u32>>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.total) {
    return;
  }
  let o = stridedOffsets(i);
  let s = P.srcOffset + o.x;
  let d = P.dstOffset + o.y;
  let per = 4u / P.itemBytes; // elements per word
  let bits = 8u * P.itemBytes;
  let mask = (1u << bits) - 1u;
  let v = (In[s / per] >> (bits * (s % per))) & mask;
  let shift = bits * (d % per);
  atomicAnd(&Out[d / per], ~(mask << shift));
  atomicOr(&Out[d / per], v << shift);
}
