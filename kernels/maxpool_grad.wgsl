// Max pooling's gradient (KernelParams['maxPool2dGrad']): one invocation per input pixel,
// summing dy over the windows that touch it and whose first maximum it is (windows recomputed
// here: a gather, so no atomics; windows are small).

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> Dy: array<f32>;
@group(0) @binding(2) var<storage, read_write> Dx: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

{{ARGMAX}}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let hw = P.h * P.w;
  let plane = i / hw;
  let at = i32(i % hw);
  let iy = (i % hw) / P.w;
  let ix = i % P.w;
  var s = 0.0;
  for (var ki = 0u; ki < P.kh; ki++) {
    let oy = reach(iy, P.ph, ki, P.dh, P.sh, P.oh);
    if (oy == -2) { break; }
    if (oy < 0) { continue; }
    for (var kj = 0u; kj < P.kw; kj++) {
      let ox = reach(ix, P.pw, kj, P.dw, P.sw, P.ow);
      if (ox == -2) { break; }
      if (ox < 0) { continue; }
      if (windowArg(plane, u32(oy), u32(ox)) == at) {
        s += Dy[(plane * P.oh + u32(oy)) * P.ow + u32(ox)];
      }
    }
  }
  Dx[i] = s;
}
