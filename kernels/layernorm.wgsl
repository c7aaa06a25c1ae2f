// Layer norm of each contiguous f32 row of n (n >= 1):
//   out = (x - mean) / sqrt(var + eps) * weight + bias,  var = mean((x - mean)^2) (biased).
// Two passes over the row as the reference does (mean, then squared deviations), so a large
// mean does not cancel the variance. One workgroup per row, 256 invocations, group sums
// (groupSum: a workgroup tree or subgroup operations, appended from src/backend/wgsl-group.ts).
// Spliced per pipeline (src/backend/wgsl-ops.ts): the DECL marker becomes the optional Weight /
// Bias bindings and those of Out and P (inputs are [x, weight?, bias?], then out, then the
// uniform); the W and B markers become f32 expressions of column i (Weight[i] or 1.0, Bias[i]
// or 0.0).
struct Params {
  rows: u32,
  n: u32,
  eps: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
{{DECL}}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return; // the whole workgroup: the folds below stay in uniform control flow
  }
  let base = row * P.n;
  var s = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    s += X[base + i];
  }
  let mean = groupSum(lid.x, s) / f32(P.n);
  var q = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    let d = X[base + i] - mean;
    q += d * d;
  }
  let rstd = inverseSqrt(groupSum(lid.x, q) / f32(P.n) + P.eps);
  for (var i = lid.x; i < P.n; i += 256u) {
    Out[base + i] = (X[base + i] - mean) * rstd * {{W}} + {{B}};
  }
}
