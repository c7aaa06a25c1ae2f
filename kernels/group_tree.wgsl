// One fold over a workgroup of 256 invocations, the workgroup-memory variant (any adapter);
// src/backend/wgsl-group.ts instantiates it per fold and chooses it or group_subgroup.wgsl.
// Contract of {{NAME}}(lid, x): every invocation of the workgroup calls it in uniform control
// flow (lid = local_invocation_index; lanes without data pass the fold's identity) and gets the
// fold of all 256 x; it ends with a barrier, so the kernel may call a fold again at once.
// {{SCRATCH}} is workgroup memory shared by the folds of one type.
fn {{NAME}}(lid: u32, x: {{T}}) -> {{T}} {
  {{SCRATCH}}[lid] = x;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      {{SCRATCH}}[lid] = {{NAME}}Combine({{SCRATCH}}[lid], {{SCRATCH}}[lid + w]);
    }
    workgroupBarrier();
  }
  let total = {{SCRATCH}}[0];
  workgroupBarrier(); // all have read the total before the next fold overwrites it
  return total;
}
