// One fold over a workgroup of 256 invocations, the subgroup variant (`enable subgroups;`, which
// src/backend/wgsl-group.ts puts first); same contract as group_tree.wgsl: every invocation
// calls {{NAME}}(lid, x) in uniform control flow and gets the fold of all 256 x, and it ends
// with a barrier. Two barriers per fold instead of the tree's ten.
// 1. {{NAME}}Subgroup folds x over the subgroup; its first active lane appends the result to
//    {{SCRATCH}} at a slot taken from a workgroup counter. Nothing is assumed about subgroup
//    size or about which invocations share a subgroup (WebGPU promises neither: subgroups need
//    not follow local_invocation_index, and may be partly filled), so slots are counted, not
//    computed; there are at most 256 subgroups.
// 2. After a barrier, every subgroup folds all n slots (its active lanes take slots rank,
//    rank + lanes, ...; lanes without a slot hold the identity), then folds across its lanes
//    again: every invocation gets the total without a third barrier.
// The counter alternates between two words (groupCalls counts this invocation's folds, the
// same in every invocation): a fold resets the other word, which the previous fold has
// finished reading and the next one will use, before its closing barrier.
fn {{NAME}}(lid: u32, x: {{T}}) -> {{T}} {
  let part = {{NAME}}Subgroup(x);
  let rank = subgroupExclusiveAdd(1u);
  let lanes = subgroupAdd(1u);
  let c = groupCalls & 1u;
  groupCalls += 1u;
  if (rank == 0u) {
    {{SCRATCH}}[atomicAdd(&groupSlots[c], 1u)] = part;
  }
  workgroupBarrier();
  let n = atomicLoad(&groupSlots[c]);
  var t: {{T}} = {{IDENTITY}};
  for (var j = rank; j < n; j += lanes) {
    t = {{NAME}}Combine(t, {{SCRATCH}}[j]);
  }
  let total = {{NAME}}Subgroup(t);
  atomicStore(&groupSlots[c ^ 1u], 0u);
  workgroupBarrier();
  return total;
}
