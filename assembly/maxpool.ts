// Max pooling over NCHW planes and its gradient. x, y (and dy, dx) point at the first of
// `planes` planes of [h, w] / [oh, ow]. A window's max is its first maximum in row-major tap
// order, NaN beating any number (the first NaN), padding never taken; the gradient of each
// output goes to that element (PyTorch's rule), summed where windows overlap.
// Scalar only: windows are small and strided; the compare chain dominates, not loads.
import { W_DH, W_DW, W_H, W_KH, W_KW, W_OH, W_OW, W_PH, W_PW, W_SH, W_SW, W_W, word } from './conv_desc';

/** Index (iy * w + ix) of the max of window (oy, ox) in a plane; -1 when it holds no element. */
// @ts-ignore: decorator
@inline function argmaxWindow(plane: usize, desc: usize, oy: i32, ox: i32): i32 {
  const h = word(desc, W_H), w = word(desc, W_W), kh = word(desc, W_KH), kw = word(desc, W_KW);
  const y0 = oy * word(desc, W_SH) - word(desc, W_PH), x0 = ox * word(desc, W_SW) - word(desc, W_PW);
  const dh = word(desc, W_DH), dw = word(desc, W_DW);
  let best: f32 = -Infinity, arg = -1;
  for (let ki = 0; ki < kh; ki++) {
    const iy = y0 + ki * dh;
    if (iy < 0 || iy >= h) continue;
    for (let kj = 0; kj < kw; kj++) {
      const ix = x0 + kj * dw;
      if (ix < 0 || ix >= w) continue;
      const at = iy * w + ix;
      const v = load<f32>(plane + (<usize>at << 2));
      if (arg < 0 || v > best || (v != v && best == best)) { best = v; arg = at; }
    }
  }
  return arg;
}

export function f32_maxpool2d(x: usize, y: usize, desc: usize, planes: i32): void {
  const hw = <usize>word(desc, W_H) * <usize>word(desc, W_W), oh = word(desc, W_OH), ow = word(desc, W_OW);
  for (let p = 0; p < planes; p++) {
    const plane = x + (<usize>p * hw << 2), out = y + (<usize>p * <usize>oh * <usize>ow << 2);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const arg = argmaxWindow(plane, desc, oy, ox);
        store<f32>(out + (<usize>(oy * ow + ox) << 2), arg < 0 ? -Infinity : load<f32>(plane + (<usize>arg << 2)));
      }
    }
  }
}

export function f32_maxpool2d_grad(x: usize, dy: usize, dx: usize, desc: usize, planes: i32): void {
  const hw = <usize>word(desc, W_H) * <usize>word(desc, W_W), oh = word(desc, W_OH), ow = word(desc, W_OW);
  memory.fill(dx, 0, <usize>planes * hw << 2);
  for (let p = 0; p < planes; p++) {
    const plane = x + (<usize>p * hw << 2), g = dy + (<usize>p * <usize>oh * <usize>ow << 2), d = dx + (<usize>p * hw << 2);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const arg = argmaxWindow(plane, desc, oy, ox);
        if (arg < 0) continue;
        const q = d + (<usize>arg << 2);
        store<f32>(q, load<f32>(q) + load<f32>(g + (<usize>(oy * ow + ox) << 2)));
      }
    }
  }
}
