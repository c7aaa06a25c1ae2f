// col2im (KernelParams['col2im']): one invocation per input pixel of images [first,
// first + images), gathering the column entries that read it, taps in row-major order.
// Gathering instead of scattering needs no float atomics (WGSL has none) and is deterministic.

@group(0) @binding(0) var<storage, read> Cols: array<f32>;
@group(0) @binding(1) var<storage, read_write> Dx: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let ix = i % P.w;
  let iy = (i / P.w) % P.h;
  let plane = i / (P.w * P.h); // img * c + ch
  let kk = P.kh * P.kw;
  let ohw = P.oh * P.ow;
  var s = 0.0;
  for (var ki = 0u; ki < P.kh; ki++) {
    let oy = reach(iy, P.ph, ki, P.dh, P.sh, P.oh);
    if (oy == -2) { break; }
    if (oy < 0) { continue; }
    for (var kj = 0u; kj < P.kw; kj++) {
      let ox = reach(ix, P.pw, kj, P.dw, P.sw, P.ow);
      if (ox == -2) { break; }
      if (ox < 0) { continue; }
      s += Cols[(plane * kk + ki * P.kw + kj) * ohw + u32(oy) * P.ow + u32(ox)];
    }
  }
  Dx[P.first * P.c * P.h * P.w + i] = s;
}
