// Per-row cross-entropy of f32 logits [rows, classes] against i32 labels [rows], with label
// smoothing s:  out[r] = logsumexp(x_r) - (1 - s) * x_r[y] - s * mean(x_r).
// One workgroup per row, 256 invocations: a group max, then one pass folding both sum exp(x - max)
// and sum x as one vec2 group sum (groupMax, groupSum2: a workgroup tree or subgroup
// operations, appended from src/backend/wgsl-group.ts).
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

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return; // the whole workgroup: the folds below stay in uniform control flow
  }
  let base = row * P.classes;
  var m = P.negInf;
  for (var i = lid.x; i < P.classes; i += 256u) {
    m = max(m, X[base + i]);
  }
  let rowMax = groupMax(lid.x, m);
  var se = 0.0;
  var sx = 0.0;
  for (var i = lid.x; i < P.classes; i += 256u) {
    let v = X[base + i];
    se += exp(v - rowMax);
    sx += v;
  }
  let sums = groupSum2(lid.x, vec2<f32>(se, sx));
  if (lid.x == 0u) {
    let y = Labels[row];
    if (y < 0 || u32(y) >= P.classes) {
      atomicStore(&Err[0], 1u);
      atomicMin(&Err[1], row);
      Out[row] = P.nan;
    } else {
      let lse = rowMax + log(sums.x);
      Out[row] = lse - (1.0 - P.smoothing) * X[base + u32(y)] - P.smoothing * (sums.y / f32(P.classes));
    }
  }
}
