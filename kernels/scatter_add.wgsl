// The gradient of gather: Out[o, k, c] = sum over j with Idx[j] == k of G[o, j, c], added in j
// order, G [outer, count, inner], Out [outer, axisLen, inner] (f32). One invocation per output
// item scans Idx (the same sequence in every invocation): O(outer * axisLen * inner * count)
// compares, deterministic, and no atomics (WGSL has no float atomics; a CAS loop would make
// the sum's order, hence its bits, vary from run to run). An index outside [0, axisLen) adds
// nothing: the gather whose gradient this is refused it already.
struct Params {
  outer: u32,
  axisLen: u32,
  inner: u32,
  count: u32,
  total: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read> Idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.total) {
    return;
  }
  let c = t % P.inner;
  let row = t / P.inner; // o * axisLen + k
  let k = i32(row % P.axisLen);
  let base = (row / P.axisLen) * P.count * P.inner + c;
  var s = 0.0;
  for (var j = 0u; j < P.count; j++) {
    if (Idx[j] == k) {
      s += G[base + j * P.inner];
    }
  }
  Out[t] = s;
}
