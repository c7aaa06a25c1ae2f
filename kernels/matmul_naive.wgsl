// Rung 0 of the WGSL matmul ladder: one output per invocation, straight from global memory,
// no shared memory and no barriers. The baseline the other rungs are measured against; its
// 8x8 workgroup fits every adapter. Contract and bindings: matmul_common.wgsl.
{{COMMON}}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let i = gid.y;
  let j = gid.x;
  if (i >= P.m || j >= P.n) { return; }
  let off = batchOffsets(wid.z);
  var acc = 0.0;
  for (var p = 0u; p < P.k; p++) {
    acc += loadA(off.x, i, p) * loadB(off.y, p, j);
  }
  stC(wid.z * P.m * P.n + i * P.n + j, act(acc + biasAt(j)));
}
