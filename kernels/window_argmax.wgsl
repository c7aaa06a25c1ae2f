// The max of one pooling window, spliced into maxpool.wgsl and maxpool_grad.wgsl at {{ARGMAX}}:
// the index (iy * w + ix) in its plane of the window's first maximum, NaN beating any number,
// or -1 for a window with no element of x.
fn windowArg(plane: u32, oy: u32, ox: u32) -> i32 {
  let base = plane * P.h * P.w;
  var best = 0.0;
  var arg = -1;
  for (var ki = 0u; ki < P.kh; ki++) {
    let iy = i32(oy * P.sh + ki * P.dh) - i32(P.ph);
    if (iy < 0 || iy >= i32(P.h)) { continue; }
    for (var kj = 0u; kj < P.kw; kj++) {
      let ix = i32(ox * P.sw + kj * P.dw) - i32(P.pw);
      if (ix < 0 || ix >= i32(P.w)) { continue; }
      let at = iy * i32(P.w) + ix;
      let v = X[base + u32(at)];
      if (arg < 0 || v > best || (isNan(v) && !isNan(best))) {
        best = v;
        arg = at;
      }
    }
  }
  return arg;
}
