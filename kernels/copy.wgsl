// Strided copy of 4-byte elements (f32, i32): Out[dstOffset + i.dst] = In[srcOffset + i.src]
// for every index i of shape (rank <= 8, collapsed by src/ops/layout.ts). The bits move as
// u32, so any 4-byte dtype is copied exactly (NaN payloads included).

struct Params {
  rank: u32,
  total: u32,
  srcOffset: u32,
  dstOffset: u32,
  shape: array<vec4<u32>, 2>,
  stride: array<array<vec4<u32>, 2>, 2>, // src, dst
}

const OPERANDS = 2u; // for stridedOffsets (kernels/strided.wgsl)

@group(0) @binding(0) var<storage, read> In: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<u32>;
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
  Out[d] = In[s];
}
