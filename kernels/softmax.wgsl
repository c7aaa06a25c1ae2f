// softmax / log-softmax of each contiguous f32 row of n (n >= 1):
//   out = exp(x - max) / sum exp(x - max)   or   out = x - max - log(sum exp(x - max)).
// One workgroup per row (rows beyond the per-dimension dispatch limit spill into grid y): 256
// invocations stride over the row, then a group fold (groupMax, groupSum: a workgroup tree or
// subgroup operations, appended from src/backend/wgsl-group.ts), once for the max and once
// for the sum, then a third strided pass writes. n need not be a multiple of 256; idle lanes
// hold the fold's identity. P.log selects the form at run time, so one pipeline serves both.
// P.negInf is -inf, passed in because WGSL rejects infinite constant expressions.
// IO (spliced at the IO marker): ldX / stOut over f32 or f16 storage (src/backend/wgsl-half.ts).
struct Params {
  rows: u32,
  n: u32,
  log: u32,
  negInf: f32,
}

{{IO}}
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return; // the whole workgroup: the folds below stay in uniform control flow
  }
  let base = row * P.n;
  var m = P.negInf;
  for (var i = lid.x; i < P.n; i += 256u) {
    m = max(m, ldX(base + i));
  }
  let rowMax = groupMax(lid.x, m);
  var s = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    s += exp(ldX(base + i) - rowMax);
  }
  let total = groupSum(lid.x, s);
  let logTotal = log(total);
  for (var i = lid.x; i < P.n; i += 256u) {
    let z = ldX(base + i) - rowMax;
    stOut(base + i, select(exp(z) / total, z - logTotal, P.log != 0u));
  }
}
