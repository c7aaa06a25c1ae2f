// GradScaler's unscale pass, in place, one invocation per element: G[i] *= invScale, and the
// found-inf flag (one u32, shared by every gradient of a step so one readback serves them all)
// is set to 1 when G[i] was inf or NaN before scaling. The flag is only ever set, never
// cleared: the host zeroes it once per step. Non-finite is tested on the bits (exponent all
// ones): WGSL lets implementations assume float values are finite, so isinf-style arithmetic
// tests may be folded away. Bindings follow the backend's order for in-place kernels: the
// input [found], then the grads (the output, read and written), then the uniform.
struct Params {
  size: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  invScale: f32,
  _pad3: u32,
  _pad4: u32,
  _pad5: u32,
}

@group(0) @binding(0) var<storage, read_write> Found: array<atomic<u32>>;
@group(0) @binding(1) var<storage, read_write> G: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= P.size) {
    return;
  }
  let bits = G[i];
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    atomicStore(&Found[0], 1u);
  }
  G[i] = bitcast<u32>(bitcast<f32>(bits) * P.invScale);
}
