// Fused Adam / AdamW step in place (torch.optim.Adam, AdamW; amsgrad off), one invocation per
// element. Inputs [grads, m, v], then the params (the output), then the uniform; params, m and
// v are read and written.
//   AdamW (decoupled): p *= 1 - lr * weightDecay; d = g.   Adam: d = g + weightDecay * p.
//   m = beta1 m + (1 - beta1) d;  v = beta2 v + (1 - beta2) d^2;
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps),  bc_i = 1 - beta_i^step.
// The step-dependent constants (lr / bc1, sqrt(bc2), 1 - lr * weightDecay) are computed on the
// host in f64 and arrive as f32, so one pipeline serves every step of both optimizers.
struct Params {
  size: u32,
  decoupled: u32,
  _pad0: u32,
  _pad1: u32,
  beta1: f32,
  oneMinusBeta1: f32,
  beta2: f32,
  oneMinusBeta2: f32,
  lrOverBc1: f32,
  sqrtBc2: f32,
  eps: f32,
  weightDecay: f32,
  decay: f32,
  _pad2: u32,
  _pad3: u32,
  _pad4: u32,
}

@group(0) @binding(0) var<storage, read> G: array<f32>;
@group(0) @binding(1) var<storage, read_write> M: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> Prm: array<f32>;
@group(0) @binding(4) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.size) {
    return;
  }
  var p = Prm[i];
  var d = G[i];
  if (P.decoupled != 0u) {
    p = p * P.decay;
  } else {
    d = d + P.weightDecay * p;
  }
  let m = P.beta1 * M[i] + P.oneMinusBeta1 * d;
  let v = P.beta2 * V[i] + P.oneMinusBeta2 * d * d;
  M[i] = m;
  V[i] = v;
  Prm[i] = p - P.lrOverBc1 * m / (sqrt(v) / P.sqrtBc2 + P.eps);
}
