// The matmul ladder's vector rung, for m = 1 or n = 1 (a vector times a matrix), where a 2-D
// tile would leave most invocations idle. The product is a length-L vector (L = n when m = 1,
// else m), each output a dot product of length k. A workgroup of 16 x GY invocations owns 16
// outputs: column x of the workgroup walks output l's dot product in GY interleaved slices of
// k, then the GY partial sums meet in a tree in workgroup memory. With m = 1 and B stored
// [k, n], neighbouring invocations read neighbouring columns (coalesced). Workgroups spread over
// x and y of the grid (num_workgroups) when L / 16 exceeds the per-dimension limit.
// Contract and bindings: matmul_common.wgsl. Spliced: {{GY}}, a power of two.
{{COMMON}}

const GY = {{GY}}u;
var<workgroup> partial: array<array<f32, 16>, GY>;

@compute @workgroup_size(16, GY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let rowVec = P.m == 1u; // true: out[l] = A'[0, :] . B'[:, l]; else out[l] = A'[l, :] . B'[:, 0]
  let len = select(P.m, P.n, rowVec);
  let l = (wid.y * nwg.x + wid.x) * 16u + lid.x;
  let off = batchOffsets(wid.z);
  var s = 0.0;
  if (l < len) {
    if (rowVec) {
      for (var p = lid.y; p < P.k; p += GY) { s += loadA(off.x, 0u, p) * loadB(off.y, p, l); }
    } else {
      for (var p = lid.y; p < P.k; p += GY) { s += loadA(off.x, l, p) * loadB(off.y, p, 0u); }
    }
  }
  partial[lid.y][lid.x] = s;
  workgroupBarrier();
  for (var h = GY / 2u; h > 0u; h /= 2u) {
    if (lid.y < h) { partial[lid.y][lid.x] += partial[lid.y + h][lid.x]; }
    workgroupBarrier();
  }
  if (lid.y == 0u && l < len) {
    stC(wid.z * P.m * P.n + l, act(partial[0][lid.x] + biasAt(select(0u, l, rowVec))));
  }
}
