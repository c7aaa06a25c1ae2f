// softmax / log-softmax of each contiguous f32 row of n (n >= 1):
//   out = exp(x - max) / sum exp(x - max)   or   out = x - max - log(sum exp(x - max)).
// One workgroup per row (rows beyond the per-dimension dispatch limit spill into grid y): 256
// invocations stride over the row, then a tree in workgroup memory, once for the max and once
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

var<workgroup> partial: array<f32, 256>;

// Tree-fold partial[] into partial[0]; every invocation of the workgroup must call it.
fn treeMax(lid: u32) {
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      partial[lid] = max(partial[lid], partial[lid + w]);
    }
    workgroupBarrier();
  }
}

fn treeSum(lid: u32) {
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      partial[lid] = partial[lid] + partial[lid + w];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let base = row * P.n;
  var m = P.negInf;
  for (var i = lid.x; i < P.n; i += 256u) {
    m = max(m, ldX(base + i));
  }
  partial[lid.x] = m;
  treeMax(lid.x);
  let rowMax = partial[0];
  workgroupBarrier(); // everyone has read partial[0] before it is overwritten
  var s = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    s += exp(ldX(base + i) - rowMax);
  }
  partial[lid.x] = s;
  treeSum(lid.x);
  let total = partial[0];
  let logTotal = log(total);
  for (var i = lid.x; i < P.n; i += 256u) {
    let z = ldX(base + i) - rowMax;
    stOut(base + i, select(exp(z) / total, z - logTotal, P.log != 0u));
  }
}
