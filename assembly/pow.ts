// pow(a, b) on f32 as exp(b * log|a|) computed in f64, then PyTorch's (C99's) special cases.
// Why f64: the result's relative error is |b log a| times the relative error of log a, and
// b log a reaches ~100 for results still inside the f32 range, so an f32 log would cost up to
// ~100 ulp. In f64 the series below are good to ~2^-37, and the one rounding to f32 leaves the
// result within 1 ulp (measured, scripts/ulp-sweep.ts).
//
// Special cases, applied on the f32 lanes after the f64 core (same as C99 pow / torch.pow):
//   pow(x, +-0) = 1 for any x, NaN too;  pow(1, y) = 1 for any y, NaN too;  pow(-1, +-Inf) = 1;
//   negative finite base: odd integer y negates |x|^y, even integer y keeps it, other finite y
//   gives NaN; -0 and -Inf bases follow the same sign rule without the NaN case;
//   otherwise NaN in either operand gives NaN. |x| < 1 with y = +Inf is 0, and so on: those
//   fall out of exp(y * log|x|) with IEEE infinities.

const LN2: f64 = 0.6931471805599453;
const INV_LN2: f64 = 1.4426950408889634;
const SQRT_HALF_BITS: i64 = 0x3fe6a09e667f3bcd;
const ONE_BITS: i64 = 0x3ff0000000000000;

/** log|a| for an f64x2 made from f32s (so never subnormal in f64); 0 -> -Inf, Inf -> Inf. */
// @ts-ignore: decorator
@inline function logAbs2(a: v128): v128 {
  const x = f64x2.abs(a);
  // x = 2^k * m, m in [sqrt(1/2), sqrt(2)): the f32 log's reduction, on 64-bit lanes.
  const ix = i64x2.add(x, i64x2.splat(ONE_BITS - SQRT_HALF_BITS));
  const k64 = i64x2.sub(i64x2.shr_u(ix, 52), i64x2.splat(1023));
  const k = f64x2.convert_low_i32x4_s(v128.shuffle<i32>(k64, k64, 0, 2, 0, 2));
  const m = i64x2.add(v128.and(ix, i64x2.splat(0x000fffffffffffff)), i64x2.splat(SQRT_HALF_BITS));
  const f = f64x2.sub(m, f64x2.splat(1));
  const s = f64x2.div(f, f64x2.add(f64x2.splat(2), f));
  const z = f64x2.mul(s, s);
  // log m = 2 atanh(s) = 2s (1 + z/3 + z^2/5 + ...), |s| <= 0.172: seven terms reach 2^-39.
  let p = f64x2.add(f64x2.mul(z, f64x2.splat(1.0 / 13)), f64x2.splat(1.0 / 11));
  p = f64x2.add(f64x2.mul(p, z), f64x2.splat(1.0 / 9));
  p = f64x2.add(f64x2.mul(p, z), f64x2.splat(1.0 / 7));
  p = f64x2.add(f64x2.mul(p, z), f64x2.splat(1.0 / 5));
  p = f64x2.add(f64x2.mul(p, z), f64x2.splat(1.0 / 3));
  p = f64x2.add(f64x2.mul(p, z), f64x2.splat(1));
  let y = f64x2.add(f64x2.mul(k, f64x2.splat(LN2)), f64x2.mul(f64x2.add(s, s), p));
  y = v128.bitselect(f64x2.splat(-Infinity), y, f64x2.eq(x, f64x2.splat(0)));
  return v128.bitselect(x, y, f64x2.eq(x, f64x2.splat(Infinity)));
}

/** e^y in f64 for y clamped to +-200 (far past the f32 range; NaN passes through). */
// @ts-ignore: decorator
@inline function exp2x(y: v128): v128 {
  y = f64x2.min(f64x2.max(y, f64x2.splat(-200)), f64x2.splat(200));
  const n = f64x2.nearest(f64x2.mul(y, f64x2.splat(INV_LN2)));
  const r = f64x2.sub(y, f64x2.mul(n, f64x2.splat(LN2)));
  // Taylor series of e^r to r^10 for |r| <= ln2/2: truncation below 2^-41.
  let p = f64x2.add(f64x2.mul(r, f64x2.splat(1.0 / 3628800)), f64x2.splat(1.0 / 362880));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 40320));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 5040));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 720));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 120));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 24));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1.0 / 6));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(0.5));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1));
  p = f64x2.add(f64x2.mul(p, r), f64x2.splat(1));
  const ni = i64x2.extend_low_i32x4_s(i32x4.trunc_sat_f64x2_s_zero(n));
  return f64x2.mul(p, i64x2.shl(i64x2.add(ni, i64x2.splat(1023)), 52));
}

/** |a|^b for lanes 0 and 1 of a and b, as f32 in lanes 0 and 1. */
// @ts-ignore: decorator
@inline function powAbsHalf(a: v128, b: v128): v128 {
  const y = f64x2.mul(f64x2.promote_low_f32x4(b), logAbs2(f64x2.promote_low_f32x4(a)));
  return f32x4.demote_f64x2_zero(exp2x(y));
}

// @ts-ignore: decorator
@inline export function powV(a: v128, b: v128): v128 {
  const lo = powAbsHalf(a, b);
  const hi = powAbsHalf(v128.shuffle<f32>(a, a, 2, 3, 2, 3), v128.shuffle<f32>(b, b, 2, 3, 2, 3));
  let r = v128.shuffle<f32>(lo, hi, 0, 1, 4, 5);
  r = v128.bitselect(f32x4.add(a, b), r, v128.or(f32x4.ne(a, a), f32x4.ne(b, b)));
  const bInt = f32x4.eq(f32x4.trunc(b), b); // true for +-Inf, false for NaN
  const half = f32x4.mul(b, f32x4.splat(0.5));
  const bOdd = v128.and(bInt, f32x4.ne(f32x4.trunc(half), half));
  const aSign = i32x4.shr_s(a, 31);
  r = v128.xor(r, v128.and(v128.and(aSign, bOdd), i32x4.splat(0x80000000)));
  const aNeg = v128.and(f32x4.lt(a, f32x4.splat(0)), f32x4.ne(a, f32x4.splat(-Infinity)));
  r = v128.bitselect(f32x4.splat(NaN), r, v128.andnot(aNeg, bInt));
  const one = v128.or(
    v128.or(f32x4.eq(b, f32x4.splat(0)), f32x4.eq(a, f32x4.splat(1))),
    v128.and(f32x4.eq(a, f32x4.splat(-1)), f32x4.eq(f32x4.abs(b), f32x4.splat(Infinity))),
  );
  return v128.bitselect(f32x4.splat(1), r, one);
}

// ---------- scalar twin: the same steps on one lane ----------

// @ts-ignore: decorator
@inline function logAbs1(a: f64): f64 {
  const x = abs<f64>(a);
  if (x == 0) return -Infinity;
  if (x == Infinity) return x;
  const ix = reinterpret<i64>(x) + (ONE_BITS - SQRT_HALF_BITS);
  const k = <f64>(<i32>(<i64>(<u64>ix >> 52) - 1023));
  const f = reinterpret<f64>((ix & 0x000fffffffffffff) + SQRT_HALF_BITS) - 1;
  const s = f / (2 + f);
  const z = s * s;
  let p = z * (1.0 / 13) + 1.0 / 11;
  p = p * z + 1.0 / 9;
  p = p * z + 1.0 / 7;
  p = p * z + 1.0 / 5;
  p = p * z + 1.0 / 3;
  p = p * z + 1;
  return k * LN2 + (s + s) * p;
}

// @ts-ignore: decorator
@inline function exp1x(y: f64): f64 {
  y = min<f64>(max<f64>(y, -200), 200);
  const n = nearest<f64>(y * INV_LN2);
  const r = y - n * LN2;
  let p = r * (1.0 / 3628800) + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1;
  p = p * r + 1;
  return p * reinterpret<f64>((<i64>(<i32>n) + 1023) << 52);
}

export function powS(a: f32, b: f32): f32 {
  if (b == 0 || a == 1 || (a == -1 && abs<f32>(b) == Infinity)) return 1;
  if (a != a || b != b) return a + b;
  let r = <f32>exp1x(<f64>b * logAbs1(<f64>a));
  const bInt = trunc<f32>(b) == b;
  const half = b * 0.5;
  if (bInt && trunc<f32>(half) != half && (reinterpret<i32>(a) < 0)) r = -r;
  if (a < 0 && a != -Infinity && !bInt) return NaN;
  return r;
}
