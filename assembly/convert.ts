// Dtype conversions and image preprocessing. Each kernel reads n elements at x and writes n at
// out (sizes in elements, pointers in bytes); f16 is raw IEEE half bits, bool and u8 are bytes.
// f32 -> f16 matches src/f16.ts bit for bit: round to nearest even, subnormals, overflow to Inf,
// Inf kept, NaN kept quiet with the top mantissa bits.

// ---------- f32 -> f16 ----------

const F16_INF: i32 = 0x7c00;

/** Half bits of four f32 lanes, in the low 16 bits of each i32 lane. */
// @ts-ignore: decorator
@inline function halfBitsV(x: v128): v128 {
  const sign = v128.and(i32x4.shr_u(x, 16), i32x4.splat(0x8000));
  const ax = v128.and(x, i32x4.splat(0x7fffffff));
  // Normal halves: rebias the exponent (127 -> 15) in place, round the low 13 mantissa bits to
  // nearest even; a carry correctly bumps the exponent, and anything at or past 2^16 clamps to Inf.
  const rebased = i32x4.sub(ax, i32x4.splat(112 << 23));
  const odd = v128.and(i32x4.shr_u(rebased, 13), i32x4.splat(1));
  const normal = i32x4.min_u(i32x4.shr_u(i32x4.add(rebased, i32x4.add(i32x4.splat(0xfff), odd)), 13), i32x4.splat(F16_INF));
  // |x| < 2^-14: adding 0.5 rounds |x| to a multiple of 2^-24 (nearest even), which the low
  // mantissa bits of the sum then hold: that is the subnormal half (1024 when it rounds up to 2^-14).
  const sub = i32x4.sub(f32x4.add(ax, f32x4.splat(0.5)), i32x4.splat(0x3f000000));
  let h = v128.bitselect(sub, normal, i32x4.lt_u(ax, i32x4.splat(113 << 23)));
  const nan = v128.or(i32x4.splat(0x7e00), i32x4.shr_u(v128.and(ax, i32x4.splat(0x7fffff)), 13));
  h = v128.bitselect(nan, h, i32x4.gt_u(ax, i32x4.splat(0x7f800000)));
  return v128.or(h, sign);
}

// @ts-ignore: decorator
@inline function halfBitsS(x: f32): u32 {
  const bits = reinterpret<u32>(x);
  const sign = (bits >> 16) & 0x8000;
  const ax = bits & 0x7fffffff;
  if (ax > 0x7f800000) return sign | 0x7e00 | ((ax & 0x7fffff) >> 13);
  if (ax < (113 << 23)) return sign | (reinterpret<u32>(reinterpret<f32>(ax) + 0.5) - 0x3f000000);
  const rebased = ax - (112 << 23);
  return sign | min<u32>((rebased + 0xfff + ((rebased >> 13) & 1)) >> 13, F16_INF);
}

export function f32_to_f16(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const p = x + (<usize>i << 2);
    v128.store(out + (<usize>i << 1), i16x8.narrow_i32x4_u(halfBitsV(v128.load(p)), halfBitsV(v128.load(p, 16))));
  }
  for (; i + 4 <= n; i += 4) {
    const h = halfBitsV(v128.load(x + (<usize>i << 2)));
    v128.store64_lane(out + (<usize>i << 1), i16x8.narrow_i32x4_u(h, h), 0);
  }
  for (; i < n; i++) store<u16>(out + (<usize>i << 1), halfBitsS(load<f32>(x + (<usize>i << 2))));
}

export function f32_to_f16__scalar(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<u16>(out + (<usize>i << 1), halfBitsS(load<f32>(x + (<usize>i << 2))));
}

// ---------- f16 -> f32 ----------

const TWO_POW_112: f32 = 5.192296858534828e33;

/** f32 lanes from half bits in the low 16 bits of each i32 lane (exact). */
// @ts-ignore: decorator
@inline function fromHalfV(h: v128): v128 {
  const sign = i32x4.shl(v128.and(h, i32x4.splat(0x8000)), 16);
  const em = i32x4.shl(v128.and(h, i32x4.splat(0x7fff)), 13);
  // Exponent and mantissa shifted into f32 position, scaled by 2^(127-15): exact for normal and
  // subnormal halves alike. Inf and NaN (exponent 31) keep their mantissa under an f32 Inf exponent.
  const finite = f32x4.mul(em, f32x4.splat(TWO_POW_112));
  const special = v128.or(em, i32x4.splat(0x7f800000));
  return v128.or(sign, v128.bitselect(special, finite, i32x4.ge_u(em, i32x4.splat(0x7c00 << 13))));
}

// @ts-ignore: decorator
@inline function fromHalfS(h: u32): f32 {
  const sign = (h & 0x8000) << 16;
  const em = (h & 0x7fff) << 13;
  const v = em >= (0x7c00 << 13) ? em | 0x7f800000 : reinterpret<u32>(reinterpret<f32>(em) * TWO_POW_112);
  return reinterpret<f32>(sign | v);
}

export function f16_to_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const h = v128.load(x + (<usize>i << 1));
    const po = out + (<usize>i << 2);
    v128.store(po, fromHalfV(i32x4.extend_low_i16x8_u(h)));
    v128.store(po, fromHalfV(i32x4.extend_high_i16x8_u(h)), 16);
  }
  for (; i + 4 <= n; i += 4) {
    v128.store(out + (<usize>i << 2), fromHalfV(i32x4.extend_low_i16x8_u(v128.load64_zero(x + (<usize>i << 1)))));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), fromHalfS(load<u16>(x + (<usize>i << 1))));
}

export function f16_to_f32__scalar(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), fromHalfS(load<u16>(x + (<usize>i << 1))));
}

// ---------- i32 <-> f32 ----------

/** Round to nearest even (i32 magnitudes past 2^24 lose low bits). */
export function i32_to_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), f32x4.convert_i32x4_s(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), <f32>load<i32>(x + (<usize>i << 2)));
}

export function i32_to_f32__scalar(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), <f32>load<i32>(x + (<usize>i << 2)));
}

/**
 * Truncate toward zero, saturating: values past the i32 range become -2^31 or 2^31 - 1 and NaN
 * becomes 0 (Wasm's trunc_sat; PyTorch leaves these cases undefined).
 */
export function f32_to_i32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(out + (<usize>i << 2), i32x4.trunc_sat_f32x4_s(v128.load(x + (<usize>i << 2))));
  for (; i < n; i++) store<i32>(out + (<usize>i << 2), <i32>load<f32>(x + (<usize>i << 2)));
}

export function f32_to_i32__scalar(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<i32>(out + (<usize>i << 2), <i32>load<f32>(x + (<usize>i << 2)));
}

// ---------- u8 / bool -> f32 ----------

/** Bytes to f32 (bool bytes are 0 or 1, so the same kernel serves both). */
export function u8_to_f32(x: usize, out: usize, n: i32): void {
  let i = 0;
  for (; i + 16 <= n; i += 16) {
    const v = v128.load(x + <usize>i);
    const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
    const po = out + (<usize>i << 2);
    v128.store(po, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)));
    v128.store(po, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), 16);
    v128.store(po, f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), 32);
    v128.store(po, f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), 48);
  }
  for (; i + 4 <= n; i += 4) {
    const v = v128.load32_zero(x + <usize>i);
    v128.store(out + (<usize>i << 2), f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v))));
  }
  for (; i < n; i++) store<f32>(out + (<usize>i << 2), <f32>load<u8>(x + <usize>i));
}

export function u8_to_f32__scalar(x: usize, out: usize, n: i32): void {
  for (let i = 0; i < n; i++) store<f32>(out + (<usize>i << 2), <f32>load<u8>(x + <usize>i));
}

// ---------- image normalisation ----------

// @ts-ignore: decorator
@inline function pick(c: i32, v0: f32, v1: f32, v2: f32, v3: f32): f32 {
  return c == 0 ? v0 : c == 1 ? v1 : c == 2 ? v2 : v3;
}

/**
 * u8 image HWC -> f32 CHW: out[c * pixels + p] = x[p * ch + c] * scale[c] + bias[c], for
 * pixels = H * W and 1 <= ch <= 4. The caller folds (v / 255 - mean) / std into
 * scale = 1 / (255 std) and bias = -mean / std.
 */
export function u8_normalize_hwc(
  x: usize, out: usize, pixels: i32, ch: i32,
  s0: f32, s1: f32, s2: f32, s3: f32, b0: f32, b1: f32, b2: f32, b3: f32,
): void {
  const plane = <usize>pixels << 2;
  const o0 = out, o1 = out + plane, o2 = out + 2 * plane, o3 = out + 3 * plane;
  let p = 0;
  if (ch == 1) {
    const vs = f32x4.splat(s0), vb = f32x4.splat(b0);
    for (; p + 16 <= pixels; p += 16) {
      const v = v128.load(x + <usize>p);
      const lo = i16x8.extend_low_i8x16_u(v), hi = i16x8.extend_high_i8x16_u(v);
      const po = o0 + (<usize>p << 2);
      v128.store(po, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(lo)), vs), vb));
      v128.store(po, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(lo)), vs), vb), 16);
      v128.store(po, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_low_i16x8_u(hi)), vs), vb), 32);
      v128.store(po, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i32x4.extend_high_i16x8_u(hi)), vs), vb), 48);
    }
  } else {
    // Four pixels per step from one 16-byte load; a swizzle per channel moves byte c + j*ch into
    // the low byte of i32 lane j and zeroes the rest (index 0x80 is out of range, so it reads 0).
    const idx = i32x4.add(i32x4.mul(i32x4(0, 1, 2, 3), i32x4.splat(ch)), i32x4.splat(0x80808000));
    const m0 = idx, m1 = i32x4.add(idx, i32x4.splat(1)), m2 = i32x4.add(idx, i32x4.splat(2)), m3 = i32x4.add(idx, i32x4.splat(3));
    const vs0 = f32x4.splat(s0), vs1 = f32x4.splat(s1), vs2 = f32x4.splat(s2), vs3 = f32x4.splat(s3);
    const vb0 = f32x4.splat(b0), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2), vb3 = f32x4.splat(b3);
    // Only while a whole 16-byte load lies inside the image (which implies 4 more pixels, ch <= 4).
    const bytes = <usize>pixels * <usize>ch;
    for (; <usize>(p * ch) + 16 <= bytes; p += 4) {
      const v = v128.load(x + <usize>(p * ch));
      const q = <usize>p << 2;
      v128.store(o0 + q, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i8x16.swizzle(v, m0)), vs0), vb0));
      v128.store(o1 + q, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i8x16.swizzle(v, m1)), vs1), vb1));
      if (ch > 2) v128.store(o2 + q, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i8x16.swizzle(v, m2)), vs2), vb2));
      if (ch > 3) v128.store(o3 + q, f32x4.add(f32x4.mul(f32x4.convert_i32x4_u(i8x16.swizzle(v, m3)), vs3), vb3));
    }
  }
  for (; p < pixels; p++) {
    for (let c = 0; c < ch; c++) {
      const v = <f32>load<u8>(x + <usize>(p * ch + c));
      store<f32>(out + (<usize>c * plane) + (<usize>p << 2), v * pick(c, s0, s1, s2, s3) + pick(c, b0, b1, b2, b3));
    }
  }
}

export function u8_normalize_hwc__scalar(
  x: usize, out: usize, pixels: i32, ch: i32,
  s0: f32, s1: f32, s2: f32, s3: f32, b0: f32, b1: f32, b2: f32, b3: f32,
): void {
  const plane = <usize>pixels << 2;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < ch; c++) {
      const v = <f32>load<u8>(x + <usize>(p * ch + c));
      store<f32>(out + (<usize>c * plane) + (<usize>p << 2), v * pick(c, s0, s1, s2, s3) + pick(c, b0, b1, b2, b3));
    }
  }
}
