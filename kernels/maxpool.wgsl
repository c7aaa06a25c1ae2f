// Max pooling (KernelParams['maxPool2d']): one invocation per output. The window's first
// maximum in row-major tap order; NaN beats any number (the first NaN); padding never wins.

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

{{ARGMAX}}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let ohw = P.oh * P.ow;
  let plane = i / ohw;
  let arg = windowArg(plane, (i % ohw) / P.ow, i % P.ow);
  var v = P.negInf;
  if (arg >= 0) { v = X[plane * P.h * P.w + u32(arg)]; }
  Y[i] = v;
}
