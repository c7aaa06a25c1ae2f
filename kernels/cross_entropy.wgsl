// Per-row cross-entropy of f32 logits [rows, classes] against i32 labels [rows], with label
// smoothing s:  out[r] = logsumexp(x_r) - (1 - s) * x_r[y] - s * mean(x_r).
// One workgroup per row, 256 invocations: a tree max, then one pass folding both sum exp(x - max)
// and sum x (two trees in workgroup memory).
// Bad labels: run() cannot see the labels, so a label outside [0, classes) makes the row NaN
// and records the row in Err (Err[0] = 1, Err[1] = atomicMin of the row); the backend reads
// Err on its next read() and throws IndexError there (src/backend/gpu-index-errors.ts).
// -inf and NaN come in the uniform: WGSL rejects non-finite constant expressions.
struct Params {
  rows: u32,
  classes: u32,
  smoothing: f32,
  negInf: f32,
  nan: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> Out: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(4) var<storage, read_write> Err: array<atomic<u32>, 2>;

var<workgroup> pa: array<f32, 256>;
var<workgroup> pb: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let base = row * P.classes;
  var m = P.negInf;
  for (var i = lid.x; i < P.classes; i += 256u) {
    m = max(m, X[base + i]);
  }
  pa[lid.x] = m;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) {
      pa[lid.x] = max(pa[lid.x], pa[lid.x + w]);
    }
    workgroupBarrier();
  }
  let rowMax = pa[0];
  workgroupBarrier();
  var se = 0.0;
  var sx = 0.0;
  for (var i = lid.x; i < P.classes; i += 256u) {
    let v = X[base + i];
    se += exp(v - rowMax);
    sx += v;
  }
  pa[lid.x] = se;
  pb[lid.x] = sx;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w) {
      pa[lid.x] = pa[lid.x] + pa[lid.x + w];
      pb[lid.x] = pb[lid.x] + pb[lid.x + w];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let y = Labels[row];
    if (y < 0 || u32(y) >= P.classes) {
      atomicStore(&Err[0], 1u);
      atomicMin(&Err[1], row);
      Out[row] = P.nan;
    } else {
      let lse = rowMax + log(pa[0]);
      Out[row] = lse - (1.0 - P.smoothing) * X[base + u32(y)] - P.smoothing * (pb[0] / f32(P.classes));
    }
  }
}
