// Fused SGD step in place (torch.optim.SGD), one invocation per element:
//   d = g + weightDecay * p;  with momentum: buf = step == 1 ? d : momentum * buf + (1 - dampening) * d,
//   d = nesterov ? d + momentum * buf : buf;  then p -= lr * d.
// Bindings follow the backend's order for in-place kernels: inputs [grads, momentum buffer?],
// then the params (the output, read and written), then the uniform. Without momentum the
// buffer is not bound, so two markers are spliced (src/backend/wgsl-ops.ts): DECL becomes the
// bindings of Buf (with momentum), Prm and P; MOMENTUM the buffer update lines, or nothing.
// Host-side constants (1 - dampening) arrive in the uniform as f32, as PyTorch's f32 kernels use.
struct Params {
  size: u32,
  firstStep: u32,
  nesterov: u32,
  _pad: u32,
  lr: f32,
  momentum: f32,
  oneMinusDampening: f32,
  weightDecay: f32,
}

@group(0) @binding(0) var<storage, read> G: array<f32>;
{{DECL}}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.size) {
    return;
  }
  let p = Prm[i];
  var d = G[i] + P.weightDecay * p;
{{MOMENTUM}}
  Prm[i] = p - P.lr * d;
}
