// Data-loader image preprocessing: one fused pass from a u8 HWC image to a normalised f32 CHW
// window, with random crop (zero padding where the window leaves the image) and horizontal
// flip. The SIMD kernel and its scalar twin agree bit for bit: both compute <f32>v * s + b as a
// separate mul and add (no fused madd), and padded pixels are v = 0 through the same formula.

// @ts-ignore: decorator
@inline function pick(c: i32, v0: f32, v1: f32, v2: f32, v3: f32): f32 {
  return c == 0 ? v0 : c == 1 ? v1 : c == 2 ? v2 : v3;
}

/** [lo, hi] clamp of an i64, as i32 (window bounds computed without i32 overflow). */
// @ts-ignore: decorator
@inline function clampTo(v: i64, lo: i32, hi: i32): i32 {
  return <i32>(v < <i64>lo ? <i64>lo : v > <i64>hi ? <i64>hi : v);
}

/**
 * n copies of v at p (f32): 4-wide stores, the last one moved back to end at p + 4n
 * (overlapping the one before) when n is not a multiple of 4; one at a time when n < 4.
 */
// @ts-ignore: decorator
@inline function fillF32(p: usize, n: i32, v: f32): void {
  if (n >= 4) {
    const vv = f32x4.splat(v);
    for (let i = 0; i < n - 4; i += 4) v128.store(p + (<usize>i << 2), vv);
    v128.store(p + (<usize>(n - 4) << 2), vv);
  } else {
    for (let i = 0; i < n; i++) store<f32>(p + (<usize>i << 2), v);
  }
}

/** Four i32 lanes (bytes 0..255) -> f32 * s + b, mul then add. Signed convert: the lanes are
 *  non-negative, so it is exact and the same as unsigned, which x64 lacks (V8 emulates it). */
// @ts-ignore: decorator
@inline function norm4(v: v128, s: v128, b: v128): v128 {
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(v), s), b);
}

/**
 * Swizzle mask moving byte (pixel(j) * ch + c) of a 16-byte load into the low byte of i32 lane j
 * and zeroing the rest (index 0x80 is out of range, so it reads 0), where pixel(j) = first + j,
 * or first - j when flipped.
 */
// @ts-ignore: decorator
@inline function laneMask(first: i32, flip: bool, ch: i32, c: i32): v128 {
  const step = i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(ch));
  const at = i32x4.splat(first * ch + c + 0x80808000);
  return flip ? i32x4.sub(at, step) : i32x4.add(at, step);
}

/**
 * Random crop + horizontal flip + u8 -> normalised f32, HWC -> CHW, for 1 <= ch <= 4:
 * for c < ch, y < oh, x < ow: sy = top + y; sx = flip != 0 ? left + (ow - 1 - x) : left + x;
 * v = src[(sy * w + sx) * ch + c] when 0 <= sy < h and 0 <= sx < w, else 0;
 * out[(c * oh + y) * ow + x] = <f32>v * s[c] + b[c]. The window may hang off any edge or miss
 * the image entirely (crop with padding); any size may be 0. Reads only bytes inside
 * [src, src + h*w*ch) and writes only [out, out + ch*oh*ow*4). The caller folds ToTensor and
 * Normalize into s = 1 / (255 std) and b = -mean / std.
 */
export function u8_crop_flip_normalize(
  src: usize, h: i32, w: i32, ch: i32,
  out: usize, oh: i32, ow: i32,
  top: i32, left: i32, flip: i32,
  s0: f32, s1: f32, s2: f32, s3: f32, b0: f32, b1: f32, b2: f32, b3: f32,
): void {
  if (oh <= 0 || ow <= 0 || ch <= 0) return;
  const rev = flip != 0;
  const plane = (<usize>oh * <usize>ow) << 2;
  const total = <usize>h * <usize>w * <usize>ch;
  // Rows y in [y0, y1) and columns x in [x0, x1) read the image; the rest is padding.
  const y0 = clampTo(-<i64>top, 0, oh);
  let y1 = clampTo(<i64>h - <i64>top, y0, oh);
  const x0 = clampTo(rev ? <i64>left + <i64>ow - <i64>w : -<i64>left, 0, ow);
  const x1 = clampTo(rev ? <i64>left + <i64>ow : <i64>w - <i64>left, x0, ow);
  if (x0 == x1) y1 = y0;
  // Padding values through the same formula (0 * s may be -0 or NaN).
  const f0 = <f32>0 * s0 + b0, f1 = <f32>0 * s1 + b1, f2 = <f32>0 * s2 + b2, f3 = <f32>0 * s3 + b3;
  const rowBytes = <usize>ow << 2;
  for (let c = 0; c < ch; c++) {
    const f = pick(c, f0, f1, f2, f3), pc = out + <usize>c * plane;
    fillF32(pc, y0 * ow, f);
    fillF32(pc + <usize>y1 * rowBytes, (oh - y1) * ow, f);
  }
  if (y0 == y1) return;

  const vs0 = f32x4.splat(s0), vs1 = f32x4.splat(s1), vs2 = f32x4.splat(s2), vs3 = f32x4.splat(s3);
  const vb0 = f32x4.splat(b0), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vb3 = f32x4.splat(b3);
  // Swizzle masks for a group of g pixels from one load (bytes [0, g * ch)); output lane j of
  // quarter k takes pixel 4k + j, or g - 1 - (4k + j) flipped. ch 1: 16 pixels per load (bytes
  // widened in place, reversed first when flipped), then 4 per load32; ch 2: 8 per load (m0, m1
  // the first four, m2, m3 the second; m2, m3 alone serve a flipped 4-pixel load64 and m0, m1 an
  // unflipped one); ch 3 and 4: 4 per load, mask c for channel c.
  const g = ch == 1 ? 16 : ch == 2 ? 8 : 4;
  const first = rev ? g - 1 : 0;
  let m0: v128, m1: v128, m2: v128, m3: v128;
  if (ch == 1) {
    m0 = rev ? i8x16(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0) : i8x16(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    m1 = laneMask(rev ? 3 : 0, rev, 1, 0);
    m2 = m1; m3 = m1;
  } else if (ch == 2) {
    m0 = laneMask(first, rev, 2, 0); m1 = laneMask(first, rev, 2, 1);
    const second = rev ? 3 : 4;
    m2 = laneMask(second, rev, 2, 0); m3 = laneMask(second, rev, 2, 1);
  } else {
    m0 = laneMask(first, rev, ch, 0); m1 = laneMask(first, rev, ch, 1);
    m2 = laneMask(first, rev, ch, 2); m3 = laneMask(first, rev, ch, 3);
  }
  const ucw = <usize>ch;
  const o0 = out, o1 = out + plane, o2 = out + 2 * plane, o3 = out + 3 * plane;

  for (let y = y0; y < y1; y++) {
    const row = <usize>y * rowBytes;
    // Padding first. With ow >= 4 an edge narrower than 4 is still one 4-wide store: it spills
    // into the inside part, which is written after and overwrites it.
    const l = ow >= 4 && x0 > 0 ? max(x0, 4) : x0;
    const r = ow >= 4 && x1 < ow ? min(x1, ow - 4) : x1;
    for (let c = 0; c < ch; c++) {
      const f = pick(c, f0, f1, f2, f3), pc = out + <usize>c * plane + row;
      fillF32(pc, l, f);
      fillF32(pc + (<usize>r << 2), ow - r, f);
    }
    // Source pixel of output column x is rl + x, or rl + ow - 1 - x flipped (usize arithmetic
    // wraps, so a negative left is fine: every pixel index used here is inside the image).
    const rl = <usize>(top + y) * <usize>w + <usize>left;
    const flipBase = rl + <usize>ow; // pixel of the group [x, x + n) flipped: flipBase - x - n
    // Groups of g pixels, or of 4 when fewer than g are inside; instead of a tail, the last group
    // moves back to end at x1, overlapping the one before (it recomputes the same values). Scalar
    // code only when fewer than 4 pixels are inside.
    const n = x1 - x0;
    let x = x0;
    if (ch == 1) {
      if (n >= 16) {
        for (; x < x1; x += 16) {
          if (x + 16 > x1) x = x1 - 16;
          let v = v128.load(src + (rev ? flipBase - <usize>x - 16 : rl + <usize>x));
          if (rev) v = i8x16.swizzle(v, m0);
          const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
          const po = o0 + row + (<usize>x << 2);
          v128.store(po, norm4(i32x4.extend_low_i16x8_u(lo), vs0, vb0));
          v128.store(po, norm4(i32x4.extend_high_i16x8_u(lo), vs0, vb0), 16);
          v128.store(po, norm4(i32x4.extend_low_i16x8_u(hi), vs0, vb0), 32);
          v128.store(po, norm4(i32x4.extend_high_i16x8_u(hi), vs0, vb0), 48);
        }
      } else if (n >= 4) {
        for (; x < x1; x += 4) {
          if (x + 4 > x1) x = x1 - 4;
          const v = v128.load32_zero(src + (rev ? flipBase - <usize>x - 4 : rl + <usize>x));
          v128.store(o0 + row + (<usize>x << 2), norm4(i8x16.swizzle(v, m1), vs0, vb0));
        }
      }
    } else if (ch == 2) {
      if (n >= 8) {
        for (; x < x1; x += 8) {
          if (x + 8 > x1) x = x1 - 8;
          const v = v128.load(src + ((rev ? flipBase - <usize>x - 8 : rl + <usize>x) << 1));
          const q = row + (<usize>x << 2);
          v128.store(o0 + q, norm4(i8x16.swizzle(v, m0), vs0, vb0));
          v128.store(o1 + q, norm4(i8x16.swizzle(v, m1), vs1, vb1));
          v128.store(o0 + q, norm4(i8x16.swizzle(v, m2), vs0, vb0), 16);
          v128.store(o1 + q, norm4(i8x16.swizzle(v, m3), vs1, vb1), 16);
        }
      } else if (n >= 4) {
        for (; x < x1; x += 4) {
          if (x + 4 > x1) x = x1 - 4;
          const v = v128.load64_zero(src + ((rev ? flipBase - <usize>x - 4 : rl + <usize>x) << 1));
          const q = row + (<usize>x << 2);
          v128.store(o0 + q, norm4(i8x16.swizzle(v, rev ? m2 : m0), vs0, vb0));
          v128.store(o1 + q, norm4(i8x16.swizzle(v, rev ? m3 : m1), vs1, vb1));
        }
      }
    } else if (n >= 4) {
      // ch 3 reads 12 bytes per group: one 16-byte load while it stays inside the image, else
      // 8 + 4 bytes (only a group among the last pixels of the image). ch 4 reads exactly 16.
      for (; x < x1; x += 4) {
        if (x + 4 > x1) x = x1 - 4;
        const off = (rev ? flipBase - <usize>x - 4 : rl + <usize>x) * ucw;
        const p = src + off;
        const v = off + 16 <= total ? v128.load(p) : v128.load32_lane(p, v128.load64_zero(p), 2, 8);
        const q = row + (<usize>x << 2);
        v128.store(o0 + q, norm4(i8x16.swizzle(v, m0), vs0, vb0));
        v128.store(o1 + q, norm4(i8x16.swizzle(v, m1), vs1, vb1));
        v128.store(o2 + q, norm4(i8x16.swizzle(v, m2), vs2, vb2));
        if (ch == 4) v128.store(o3 + q, norm4(i8x16.swizzle(v, m3), vs3, vb3));
      }
    }
    for (; x < x1; x++) {
      const p = src + (rev ? flipBase - <usize>x - 1 : rl + <usize>x) * ucw;
      const q = row + (<usize>x << 2);
      for (let c = 0; c < ch; c++) {
        store<f32>(out + <usize>c * plane + q, <f32>load<u8>(p + <usize>c) * pick(c, s0, s1, s2, s3) + pick(c, b0, b1, b2, b3));
      }
    }
  }
}

export function u8_crop_flip_normalize__scalar(
  src: usize, h: i32, w: i32, ch: i32,
  out: usize, oh: i32, ow: i32,
  top: i32, left: i32, flip: i32,
  s0: f32, s1: f32, s2: f32, s3: f32, b0: f32, b1: f32, b2: f32, b3: f32,
): void {
  for (let c = 0; c < ch; c++) {
    const s = pick(c, s0, s1, s2, s3), b = pick(c, b0, b1, b2, b3);
    for (let y = 0; y < oh; y++) {
      const sy = <i64>top + <i64>y;
      for (let x = 0; x < ow; x++) {
        const sx = flip != 0 ? <i64>left + <i64>(ow - 1 - x) : <i64>left + <i64>x;
        let v: u32 = 0;
        if (sy >= 0 && sy < <i64>h && sx >= 0 && sx < <i64>w) v = load<u8>(src + <usize>((sy * <i64>w + sx) * <i64>ch + <i64>c));
        store<f32>(out + ((<usize>(c * oh + y) * <usize>ow + <usize>x) << 2), <f32>v * s + b);
      }
    }
  }
}
