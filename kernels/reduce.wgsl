// Reduction along one axis; X is viewed as [outer, reduce, inner], Out as [outer, inner].
// {{COMBINE}} folds b into a (a + b, max(a, b), ...); P.identity is its identity (0, -inf,
// +inf), passed at run time because WGSL rejects infinite constant expressions. The result is
// divided by P.divisor (1, or reduce for mean, as PyTorch divides). IO (spliced): ldX / stOut over f32
// or f16 storage (src/backend/wgsl-half.ts); f16 sums accumulate in f32.
// rows: inner == 1. One workgroup per output; 256 invocations stride over the row, then
//       groupFold (a workgroup tree or subgroup operations, appended from
//       src/backend/wgsl-group.ts with {{COMBINE}} and identity P.identity) combines them.
// cols: inner > 1. One invocation per output, walking down the reduced axis; neighbouring
//       invocations read neighbouring addresses.

struct Params {
  outer: u32,
  reduce: u32,
  inner: u32,
  divisor: f32,
  identity: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

{{IO}}
@group(0) @binding(2) var<uniform> P: Params;

fn combine(a: f32, b: f32) -> f32 {
  return {{COMBINE}};
}

@compute @workgroup_size(256)
fn rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= P.outer) {
    return; // the whole workgroup: the fold below stays in uniform control flow
  }
  var s: f32 = P.identity; // lanes past the row's end fold the identity
  for (var r = lid.x; r < P.reduce; r += 256u) {
    s = combine(s, ldX(o * P.reduce + r));
  }
  let total = groupFold(lid.x, s);
  if (lid.x == 0u) {
    stOut(o, total / P.divisor);
  }
}

@compute @workgroup_size(256)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.outer * P.inner) {
    return;
  }
  let o = t / P.inner;
  let i = t % P.inner;
  var s: f32 = P.identity;
  for (var r = 0u; r < P.reduce; r++) {
    s = combine(s, ldX((o * P.reduce + r) * P.inner + i));
  }
  stOut(t, s / P.divisor);
}
