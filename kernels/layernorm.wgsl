// Layer norm of each contiguous f32 row of n (n >= 1):
//   out = (x - mean) / sqrt(var + eps) * weight + bias,  var = mean((x - mean)^2) (biased).
// Two passes over the row as the reference does (mean, then squared deviations), so a large
// mean does not cancel the variance. One workgroup per row, 256 invocations, tree sums.
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

var<workgroup> partial: array<f32, 256>;

fn treeSum(lid: u32) -> f32 {
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid < w) {
      partial[lid] = partial[lid] + partial[lid + w];
    }
    workgroupBarrier();
  }
  let s = partial[0];
  workgroupBarrier(); // all have read partial[0] before the next pass overwrites it
  return s;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= P.rows) {
    return;
  }
  let base = row * P.n;
  var s = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    s += X[base + i];
  }
  partial[lid.x] = s;
  let mean = treeSum(lid.x) / f32(P.n);
  var q = 0.0;
  for (var i = lid.x; i < P.n; i += 256u) {
    let d = X[base + i] - mean;
    q += d * d;
  }
  partial[lid.x] = q;
  let rstd = inverseSqrt(treeSum(lid.x) / f32(P.n) + P.eps);
  for (var i = lid.x; i < P.n; i += 256u) {
    Out[base + i] = (X[base + i] - mean) * rstd * {{W}} + {{B}};
  }
}
