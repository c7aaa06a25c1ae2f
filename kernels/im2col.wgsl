// im2col (the contract: KernelParams['im2col'] in src/backend/backend.ts; the cpu twin:
// assembly/im2col.ts): one invocation per column element of images [first, first + images).
// Cols is [images, groups, kg, oh*ow]; with `ones`, row kg - 1 of each group is all 1.

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Cols: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = flatIndex(gid, nwg);
  if (i >= P.total) { return; }
  let ohw = P.oh * P.ow;
  let cg = P.c / P.groups;
  let kk = P.kh * P.kw;
  let kg = cg * kk + P.ones;
  let col = i % ohw;
  let r = i / ohw;
  let row = r % kg;
  let g = (r / kg) % P.groups;
  let img = r / (kg * P.groups);
  if (row == cg * kk) {
    Cols[i] = 1.0;
    return;
  }
  let ci = row / kk;
  let ki = (row / P.kw) % P.kh;
  let kj = row % P.kw;
  let iy = i32((col / P.ow) * P.sh + ki * P.dh) - i32(P.ph);
  let ix = i32((col % P.ow) * P.sw + kj * P.dw) - i32(P.pw);
  var v = 0.0;
  if (iy >= 0 && iy < i32(P.h) && ix >= 0 && ix < i32(P.w)) {
    v = X[(((P.first + img) * P.c + g * cg + ci) * P.h + u32(iy)) * P.w + u32(ix)];
  }
  Cols[i] = v;
}
