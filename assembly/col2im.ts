// col2im: the adjoint of im2col (without its ones row), the last step of a convolution's input
// gradient: dx[img, ch, iy, ix] = sum of the column entries that im2col would have filled from
// that pixel. dcols points at [images, c*kh*kw, oh*ow], dx at the first image's [c, h, w].
//
// f32x4 version: scatter-add line by line (dx zeroed, then each column line added into the
// input line it came from), vectorised when the stride along w is 1. Scalar twin: a gather per
// input pixel over the taps that touch it (the formulation the gpu uses, which needs no
// atomics). The two sum in different orders, so they agree to rounding, not bit for bit.
import { W_C, W_DH, W_DW, W_H, W_KH, W_KW, W_OH, W_OW, W_PH, W_PW, W_SH, W_SW, W_W, validHi, validLo, word } from './conv_desc';

export function f32_col2im(dcols: usize, dx: usize, desc: usize, images: i32): void {
  const c = word(desc, W_C), h = word(desc, W_H), w = word(desc, W_W), kh = word(desc, W_KH), kw = word(desc, W_KW);
  const oh = word(desc, W_OH), ow = word(desc, W_OW), sh = word(desc, W_SH), sw = word(desc, W_SW);
  const ph = word(desc, W_PH), pw = word(desc, W_PW), dh = word(desc, W_DH), dw = word(desc, W_DW);
  const ohw = <usize>oh * <usize>ow, hw = <usize>h * <usize>w;
  memory.fill(dx, 0, <usize>images * <usize>c * hw << 2);
  for (let img = 0; img < images; img++) {
    for (let ch = 0; ch < c; ch++) {
      const plane = dx + ((<usize>img * <usize>c + <usize>ch) * hw << 2);
      for (let ki = 0; ki < kh; ki++) {
        for (let kj = 0; kj < kw; kj++) {
          const row = dcols + (((<usize>img * <usize>c + <usize>ch) * <usize>(kh * kw) + <usize>(ki * kw + kj)) * ohw << 2);
          const off = kj * dw - pw, lo = validLo(off, sw), hi = validHi(off, sw, w, ow);
          if (hi <= lo) continue;
          for (let oy = 0; oy < oh; oy++) {
            const iy = oy * sh - ph + ki * dh;
            if (iy < 0 || iy >= h) continue;
            const s = row + (<usize>oy * <usize>ow << 2);
            const d = plane + ((<usize>iy * <usize>w + <usize>off) << 2);
            let ox = lo;
            if (sw == 1) {
              for (; ox + 4 <= hi; ox += 4) {
                const p = d + (<usize>ox << 2);
                v128.store(p, f32x4.add(v128.load(p), v128.load(s + (<usize>ox << 2))));
              }
            }
            for (; ox < hi; ox++) {
              const p = d + (<usize>(ox * sw) << 2);
              store<f32>(p, load<f32>(p) + load<f32>(s + (<usize>ox << 2)));
            }
          }
        }
      }
    }
  }
}

export function f32_col2im__scalar(dcols: usize, dx: usize, desc: usize, images: i32): void {
  const c = word(desc, W_C), h = word(desc, W_H), w = word(desc, W_W), kh = word(desc, W_KH), kw = word(desc, W_KW);
  const oh = word(desc, W_OH), ow = word(desc, W_OW), sh = word(desc, W_SH), sw = word(desc, W_SW);
  const ph = word(desc, W_PH), pw = word(desc, W_PW), dh = word(desc, W_DH), dw = word(desc, W_DW);
  const ohw = <usize>oh * <usize>ow;
  for (let img = 0; img < images; img++) {
    for (let ch = 0; ch < c; ch++) {
      const rows = dcols + ((<usize>img * <usize>c + <usize>ch) * <usize>(kh * kw) * ohw << 2);
      for (let iy = 0; iy < h; iy++) {
        for (let ix = 0; ix < w; ix++) {
          let s: f32 = 0;
          for (let ki = 0; ki < kh; ki++) {
            const t = iy + ph - ki * dh;
            if (t < 0) break;
            if (t % sh != 0 || t / sh >= oh) continue;
            for (let kj = 0; kj < kw; kj++) {
              const u = ix + pw - kj * dw;
              if (u < 0) break;
              if (u % sw != 0 || u / sw >= ow) continue;
              s += load<f32>(rows + ((<usize>(ki * kw + kj) * ohw + <usize>(t / sh) * <usize>ow + <usize>(u / sw)) << 2));
            }
          }
          store<f32>(dx + ((((<usize>img * <usize>c + <usize>ch) * <usize>h + <usize>iy) * <usize>w + <usize>ix) << 2), s);
        }
      }
    }
  }
}
