// Shared prelude of the window kernels (im2col, col2im, maxpool, maxpool_grad), prepended by
// src/backend/wgsl-conv.ts. Geometry as in src/backend/backend.ts PoolGeom / ConvGeom, in
// uniforms, so one pipeline per kernel serves every shape. `total` counts the invocations'
// elements; one invocation writes one element, and the grid spreads over x then y.

struct Params {
  c: u32, h: u32, w: u32, kh: u32,
  kw: u32, oh: u32, ow: u32, sh: u32,
  sw: u32, ph: u32, pw: u32, dh: u32,
  dw: u32, groups: u32, ones: u32, first: u32,
  images: u32, total: u32, negInf: f32, _pad0: u32, // negInf: -inf has no WGSL literal
}

fn flatIndex(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

// Output position o of an axis reached by input index i through tap k: o = (i + pad - k*dil) / s,
// when that is a whole number in [0, n); -1 otherwise (and -2 once i + pad - k*dil < 0, after
// which larger taps cannot reach i either).
fn reach(i: u32, pad: u32, k: u32, dil: u32, s: u32, n: u32) -> i32 {
  let t = i32(i + pad) - i32(k * dil);
  if (t < 0) { return -2; }
  if (u32(t) % s != 0u || u32(t) / s >= n) { return -1; }
  return i32(u32(t) / s);
}

// NaN test on the bits: WGSL lets a compiler assume floats are never NaN, so v != v may fold.
fn isNan(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
}
