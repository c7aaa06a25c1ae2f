// im2col: the column matrix of a convolution, so that the convolution is one GEMM per image
// (W [o, kg] x cols [kg, oh*ow] = y [o, oh*ow], NCHW with no copy; src/backend/conv-driver.ts).
// For each image, group g, and tap (ci, ki, kj), row g*kg + (ci*kh + ki)*kw + kj holds the
// input pixel each output position reads through that tap, 0 where it reads padding; with
// `ones` the last row of each group is all 1, which turns the bias into one more GEMM term
// (the bias sits in W's last column), so bias and activation need no extra pass.
//
// x points at the first image's [c, h, w], cols at [images, groups, kg, oh*ow]. Rows are built
// a line (one oy) at a time: zeros for the padded ends, then the valid run, which is a
// memory.copy at stride 1 and an f32x4 even-lane shuffle at stride 2; other strides gather.
import { W_C, W_DH, W_DW, W_GROUPS, W_H, W_KH, W_KW, W_OH, W_ONES, W_OW, W_PH, W_PW, W_SH, W_SW, W_W, validHi, validLo, word } from './conv_desc';

export function f32_im2col(x: usize, cols: usize, desc: usize, images: i32): void {
  im2col(x, cols, desc, images, true);
}

/** Scalar twin: the same result, one element at a time. */
export function f32_im2col__scalar(x: usize, cols: usize, desc: usize, images: i32): void {
  im2col(x, cols, desc, images, false);
}

// @ts-ignore: decorator
@inline function im2col(x: usize, cols: usize, desc: usize, images: i32, simd: bool): void {
  const c = word(desc, W_C), h = word(desc, W_H), w = word(desc, W_W), kh = word(desc, W_KH), kw = word(desc, W_KW);
  const oh = word(desc, W_OH), ow = word(desc, W_OW), sh = word(desc, W_SH), sw = word(desc, W_SW);
  const ph = word(desc, W_PH), pw = word(desc, W_PW), dh = word(desc, W_DH), dw = word(desc, W_DW);
  const groups = word(desc, W_GROUPS), ones = word(desc, W_ONES);
  const cg = c / groups, kg = cg * kh * kw + ones, ohw = <usize>oh * <usize>ow;
  for (let img = 0; img < images; img++) {
    const xi = x + (<usize>img * <usize>c * <usize>h * <usize>w << 2);
    const ci = cols + (<usize>img * <usize>groups * <usize>kg * ohw << 2);
    for (let ch = 0; ch < c; ch++) {
      const g = ch / cg, cl = ch % cg;
      const plane = xi + (<usize>ch * <usize>h * <usize>w << 2);
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const row = ci + (((<usize>g * <usize>kg + <usize>((cl * kh + ki) * kw + kj)) * ohw) << 2);
          const off = kj * dw - pw, lo = validLo(off, sw), hi = max(lo, validHi(off, sw, w, ow));
          if (simd && sw == 1 && sh == 1 && ow == w && hi > lo) {
            sameRow(plane, row, ki * dh - ph, off, lo, hi, h, oh, ow);
            continue;
          }
          for (let oy = 0; oy < oh; oy++) {
            const d = row + (<usize>oy * <usize>ow << 2);
            const iy = oy * sh - ph + ki * dh;
            if (iy < 0 || iy >= h || hi == lo) {
              zero(d, ow, simd);
              continue;
            }
            zero(d, lo, simd);
            zero(d + (<usize>hi << 2), ow - hi, simd);
            const src = plane + ((<usize>iy * <usize>w + <usize>off) << 2); // x index of ox = 0 (may be before the row)
            let ox = lo;
            if (simd && sw == 1) {
              memory.copy(d + (<usize>lo << 2), src + (<usize>lo << 2), <usize>(hi - lo) << 2);
              continue;
            }
            if (simd && sw == 2) {
              // Four outputs from eight inputs, when all eight lie inside the row.
              for (; ox + 4 <= hi && off + 2 * ox + 8 <= w; ox += 4) {
                const p = src + (<usize>(2 * ox) << 2);
                v128.store(d + (<usize>ox << 2), v128.shuffle<f32>(v128.load(p), v128.load(p, 16), 0, 2, 4, 6));
              }
            }
            for (; ox < hi; ox++) store<f32>(d + (<usize>ox << 2), load<f32>(src + (<usize>(ox * sw) << 2)));
          }
        }
      }
    }
    if (ones != 0) {
      for (let g = 0; g < groups; g++) {
        const row = ci + (((<usize>g * <usize>kg + <usize>(kg - 1)) * ohw) << 2);
        for (let i: usize = 0; i < ohw; i++) store<f32>(row + (i << 2), 1);
      }
    }
  }
}

/**
 * One row of the columns at stride 1 when ow == w (the 'same' convolutions): output line oy
 * is x's line oy + base shifted by `off`, so lines that have an x line above and below are
 * one contiguous copy of x; the few elements that copy takes from the neighbouring lines
 * (columns [0, lo) and [hi, ow)) are then zeroed. The first and last valid lines are copied
 * exactly, so nothing is read outside x's image.
 */
function sameRow(plane: usize, row: usize, base: i32, off: i32, lo: i32, hi: i32, h: i32, oh: i32, ow: i32): void {
  const y0 = max(0, -base), y1 = min(oh, h - base);
  if (y1 <= y0) { memory.fill(row, 0, <usize>oh * <usize>ow << 2); return; }
  memory.fill(row, 0, <usize>y0 * <usize>ow << 2);
  memory.fill(row + (<usize>y1 * <usize>ow << 2), 0, <usize>(oh - y1) * <usize>ow << 2);
  exactLine(plane, row, base, off, lo, hi, ow, y0);
  if (y1 - 1 > y0) exactLine(plane, row, base, off, lo, hi, ow, y1 - 1);
  if (y1 - y0 > 2) {
    const d = row + (<usize>(y0 + 1) * <usize>ow << 2);
    memory.copy(d, plane + ((<usize>(y0 + 1 + base) * <usize>ow + <usize>off) << 2), <usize>(y1 - y0 - 2) * <usize>ow << 2);
    for (let oy = y0 + 1; oy < y1 - 1; oy++) {
      const l = row + (<usize>oy * <usize>ow << 2);
      for (let ox = 0; ox < lo; ox++) store<f32>(l + (<usize>ox << 2), 0);
      for (let ox = hi; ox < ow; ox++) store<f32>(l + (<usize>ox << 2), 0);
    }
  }
}

// @ts-ignore: decorator
@inline function exactLine(plane: usize, row: usize, base: i32, off: i32, lo: i32, hi: i32, ow: i32, oy: i32): void {
  const d = row + (<usize>oy * <usize>ow << 2);
  zero(d, lo, true);
  zero(d + (<usize>hi << 2), ow - hi, true);
  memory.copy(d + (<usize>lo << 2), plane + ((<usize>(oy + base) * <usize>ow + <usize>(off + lo)) << 2), <usize>(hi - lo) << 2);
}

// @ts-ignore: decorator
@inline function zero(d: usize, n: i32, simd: bool): void {
  if (n <= 0) return;
  if (simd) memory.fill(d, 0, <usize>n << 2);
  else for (let i = 0; i < n; i++) store<f32>(d + (<usize>i << 2), 0);
}
