// f32 transcendental functions for the elementwise kernels. Wasm SIMD has no exp, log or tanh,
// so each function here has an f32x4 form (`...V`) and a scalar form (`...S`) that runs the same
// algorithm in the same order, so a value gets the same bits from either, and from a SIMD
// kernel's body or its scalar tail.
//
// Contract: inputs are any f32, including NaN, infinities and subnormals; results follow the
// reference (src/ops/elementwise-spec.ts) on special values. Measured max error against the
// f64 reference rounded to f32, over all 2^32 f32 inputs (scripts/ulp-sweep.ts --step 1):
//   exp 1 ulp, log 1 ulp, tanh 2 ulp, sigmoid 2 ulp, silu 3 ulp, gelu 3 ulp (rsqrt, in the
//   spec table, 1 ulp).
// Polynomial coefficients were fitted for this file (weighted least squares on Chebyshev
// points, refined toward minimax) and rounded to f32. pow lives in ./pow (it works in f64).

export { powV, powS } from './pow';

// ---------- exp ----------

const LOG2E: f32 = 1.44269502;
// ln 2 split so that n * LN2_HI is exact for |n| < 512 (LN2_HI has 15 significant bits).
const LN2_HI: f32 = 0.693145751953125;
const LN2_LO: f32 = 1.42860677e-6;
// Past ln(FLT_MAX) the result overflows to +Inf; below ln(2^-150) ~ -103.97 it rounds to 0.
// EXP_LO sits lower because a caller asking for e^x * 2^64 still needs values down to about
// -110; with k = 64, arguments below EXP_LO give exactly 0. The clamp keeps n + k within
// [-173, 128], which the two-factor scaling below represents.
const EXP_HI: f32 = 89;
const EXP_LO: f32 = -120;
// Adding 1.5 * 2^23 rounds |v| < 2^22 to the nearest integer (ties to even) and leaves it in the
// low mantissa bits: cheaper than f32x4.nearest plus a saturating float -> int conversion.
const ROUNDER: f32 = 12582912;
const ROUNDER_BITS: i32 = 0x4b400000;
// e^r ~= 1 + r + r^2 * (E0 + E1 r + E2 r^2 + E3 r^3 + E4 r^4) for |r| <= ln2/2 (0.05 ulp).
const E0: f32 = 0.49999994, E1: f32 = 0.16666517, E2: f32 = 0.041668426, E3: f32 = 0.0083691236, E4: f32 = 0.0013813754;

/**
 * e^(x + lo) * 2^k for each lane; `lo` is a small correction to x (0 for a plain exp) that lets a
 * caller pass an argument carried in two f32s, and k (0 or 64, for x <= 0 only) lets a caller
 * keep a result that would be subnormal in the normal range until its last product. NaN in,
 * NaN out: the clamp lets it through and it reaches the polynomial whatever n becomes.
 */
// @ts-ignore: decorator
@inline export function expLoV(x0: v128, lo: v128, k: i32): v128 {
  // Constants come from EXP_C with load32_splat, one broadcast load each: V8 builds an inline
  // v128.const from immediates on every iteration, which made this loop ~3x slower.
  const c = EXP_C;
  // pmin/pmax (one instruction each) with x first return x when it is NaN.
  const x = f32x4.pmin(f32x4.pmax(x0, v128.load32_splat(c)), v128.load32_splat(c, 4));
  const t = f32x4.add(f32x4.mul(x, v128.load32_splat(c, 8)), v128.load32_splat(c, 12));
  const n = f32x4.sub(t, v128.load32_splat(c, 12));
  let r = f32x4.sub(x, f32x4.mul(n, v128.load32_splat(c, 16)));
  r = f32x4.add(f32x4.sub(r, f32x4.mul(n, v128.load32_splat(c, 20))), lo);
  let q = f32x4.add(f32x4.mul(v128.load32_splat(c, 40), r), v128.load32_splat(c, 36));
  q = f32x4.add(f32x4.mul(q, r), v128.load32_splat(c, 32));
  q = f32x4.add(f32x4.mul(q, r), v128.load32_splat(c, 28));
  q = f32x4.add(f32x4.mul(q, r), v128.load32_splat(c, 24));
  const p = f32x4.add(v128.load32_splat(c, 44), f32x4.add(r, f32x4.mul(f32x4.mul(r, r), q)));
  // 2^n as 2^n1 * 2^n2 with both halves normal: p * 2^n1 is exact, the second product rounds
  // once, into a subnormal or to Inf when the result lies there.
  const ni = i32x4.add(i32x4.sub(t, v128.load32_splat(c, 48)), i32x4.splat(k));
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const bias = v128.load32_splat(c, 52);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  const y = f32x4.mul(f32x4.mul(p, s1), s2);
  return k == 0 ? y : v128.andnot(y, f32x4.lt(x0, v128.load32_splat(c)));
}

/** exp's constants, in the order expLoV reads them (byte offsets 0, 4, ... 52). */
const EXP_C = memory.data<u32>([
  reinterpret<u32>(EXP_LO), reinterpret<u32>(EXP_HI), reinterpret<u32>(LOG2E), reinterpret<u32>(ROUNDER),
  reinterpret<u32>(LN2_HI), reinterpret<u32>(LN2_LO), reinterpret<u32>(E0), reinterpret<u32>(E1),
  reinterpret<u32>(E2), reinterpret<u32>(E3), reinterpret<u32>(E4), reinterpret<u32>(<f32>1),
  <u32>ROUNDER_BITS, 127,
]);

// @ts-ignore: decorator
@inline export function expLoS(x0: f32, lo: f32, k: i32): f32 {
  if (k != 0 && x0 < EXP_LO) return 0;
  let x = x0 < EXP_LO ? EXP_LO : x0;
  x = EXP_HI < x ? EXP_HI : x;
  const t = x * LOG2E + ROUNDER;
  const n = t - ROUNDER;
  let r = x - n * LN2_HI;
  r = (r - n * LN2_LO) + lo;
  let q = E4 * r + E3;
  q = q * r + E2;
  q = q * r + E1;
  q = q * r + E0;
  const p: f32 = 1 + (r + (r * r) * q);
  const ni = reinterpret<i32>(t) - ROUNDER_BITS + k;
  const n1 = ni >> 1;
  const n2 = ni - n1;
  return (p * reinterpret<f32>((n1 + 127) << 23)) * reinterpret<f32>((n2 + 127) << 23);
}

// @ts-ignore: decorator
@inline export function expV(x: v128): v128 { return expLoV(x, f32x4.splat(0), 0); }
export function expS(x: f32): f32 { return expLoS(x, 0, 0); }

// ---------- exp of arguments <= 0 (softmax, log-sum-exp) ----------

// After a row's max is subtracted every argument is <= 0 or NaN: nothing overflows, and 2^n is
// a single normal power of two for every normal result. A result below 2^-126 (x < ln 2^-126)
// is flushed to 0, as XNNPACK's softmax does; otherwise the reduction and polynomial are
// expLoV's (1 ulp). The magic number carries the exponent bias, so t << 23 is 2^n directly.
// A degree-5 polynomial (s + r s P(r), 2.2 ulp, XNNPACK's choice) made the softmax ~7% faster
// but broke tests/nn.test.ts's 5-ulp budget down to 2^-126 (5.3 ulp seen), so it stays at 6.
const EXPNEG_CUTOFF: f32 = -87.33654475;
const EXPNEG_MAGIC_BITS: u32 = 0x4b40007f;

/** expNeg's constants: byte offset 4 * i holds constant i (see expNegC). */
export const EXPNEG_C = memory.data<u32>([
  reinterpret<u32>(EXPNEG_CUTOFF), reinterpret<u32>(LOG2E), EXPNEG_MAGIC_BITS, reinterpret<u32>(LN2_HI),
  reinterpret<u32>(LN2_LO), reinterpret<u32>(E0), reinterpret<u32>(E1), reinterpret<u32>(E2),
  reinterpret<u32>(E3), reinterpret<u32>(E4), reinterpret<u32>(<f32>1),
]);
/** Constant i of EXPNEG_C in every lane (one broadcast load; see expLoV on v128.const). */
// @ts-ignore: decorator
@inline export function expNegC(i: i32): v128 { return v128.load32_splat(EXPNEG_C + (<usize>i << 2)); }

/** e^x for x <= 0 or NaN, flushing results below 2^-126 to 0. */
// @ts-ignore: decorator
@inline export function expNegV(x: v128): v128 {
  const t = f32x4.add(f32x4.mul(x, expNegC(1)), expNegC(2));
  const n = f32x4.sub(t, expNegC(2));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, expNegC(3))), f32x4.mul(n, expNegC(4)));
  let q = f32x4.add(f32x4.mul(expNegC(9), r), expNegC(8));
  q = f32x4.add(f32x4.mul(q, r), expNegC(7));
  q = f32x4.add(f32x4.mul(q, r), expNegC(6));
  q = f32x4.add(f32x4.mul(q, r), expNegC(5));
  const p = f32x4.add(expNegC(10), f32x4.add(r, f32x4.mul(f32x4.mul(r, r), q)));
  return v128.andnot(f32x4.mul(p, i32x4.shl(t, 23)), f32x4.lt(x, expNegC(0)));
}

/** Scalar twin of expNegV (same bits). */
export function expNegS(x: f32): f32 {
  const t = x * LOG2E + reinterpret<f32>(EXPNEG_MAGIC_BITS);
  const n = t - reinterpret<f32>(EXPNEG_MAGIC_BITS);
  const r = (x - n * LN2_HI) - n * LN2_LO;
  let q = E4 * r + E3;
  q = q * r + E2;
  q = q * r + E1;
  q = q * r + E0;
  const p: f32 = 1 + (r + (r * r) * q);
  return x < EXPNEG_CUTOFF ? 0 : p * reinterpret<f32>(reinterpret<u32>(t) << 23);
}

// ---------- log ----------

const SQRT_HALF_BITS: i32 = 0x3f3504f3;
const FLT_MIN: f32 = 1.17549435e-38;
// log(1+f) = f - f^2/2 + s (f^2/2 + z (L0 + L1 z + L2 z^2)), s = f / (2 + f), z = s^2 <= 0.0295.
const L0: f32 = 0.66666818, L1: f32 = 0.39973488, L2: f32 = 0.29964343;

/**
 * Natural log. x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals are scaled by 2^23 first),
 * then log(m) from f = m - 1, which is exact, plus small corrections, so there is no
 * cancellation near x = 1. log(+-0) = -Inf, log(x < 0) = NaN, log(Inf) = Inf, NaN -> NaN.
 */
// @ts-ignore: decorator
@inline export function logV(x: v128): v128 {
  // Constants from LOG_C (see expLoV: inline v128.consts are rebuilt on every loop trip).
  const c = LOG_C;
  const tiny = f32x4.lt(x, v128.load32_splat(c));
  const xs = v128.bitselect(f32x4.mul(x, v128.load32_splat(c, 4)), x, tiny);
  const kAdj = v128.and(tiny, v128.load32_splat(c, 8));
  // Adding (1.0 - sqrt(1/2)) bits carries into the exponent exactly when the mantissa is past sqrt(2).
  const ix = i32x4.add(xs, v128.load32_splat(c, 12));
  const k = i32x4.sub(i32x4.sub(i32x4.shr_u(ix, 23), v128.load32_splat(c, 16)), kAdj);
  const m = i32x4.add(v128.and(ix, v128.load32_splat(c, 20)), v128.load32_splat(c, 24));
  const one = v128.load32_splat(c, 28);
  const f = f32x4.sub(m, one);
  const s = f32x4.div(f, f32x4.add(v128.load32_splat(c, 32), f));
  const z = f32x4.mul(s, s);
  const R = f32x4.mul(z, f32x4.add(v128.load32_splat(c, 36), f32x4.mul(z, f32x4.add(v128.load32_splat(c, 40), f32x4.mul(z, v128.load32_splat(c, 44))))));
  const hfsq = f32x4.mul(f32x4.mul(v128.load32_splat(c, 48), f), f);
  const kf = f32x4.convert_i32x4_s(k);
  const corr = f32x4.add(f32x4.mul(s, f32x4.add(hfsq, R)), f32x4.mul(kf, v128.load32_splat(c, 52)));
  let y = f32x4.add(f32x4.mul(kf, v128.load32_splat(c, 56)), f32x4.sub(f, f32x4.sub(hfsq, corr)));
  const zero = f32x4.splat(0);
  y = v128.bitselect(v128.load32_splat(c, 60), y, f32x4.eq(x, zero));
  y = v128.bitselect(x, y, f32x4.eq(x, v128.load32_splat(c, 64)));
  return v128.bitselect(v128.load32_splat(c, 68), y, v128.or(f32x4.lt(x, zero), f32x4.ne(x, x)));
}

/** log's constants, in the order logV reads them (byte offsets 0, 4, ... 68). */
const LOG_C = memory.data<u32>([
  reinterpret<u32>(FLT_MIN), reinterpret<u32>(<f32>8388608), 23, <u32>(0x3f800000 - SQRT_HALF_BITS),
  127, 0x7fffff, <u32>SQRT_HALF_BITS, reinterpret<u32>(<f32>1),
  reinterpret<u32>(<f32>2), reinterpret<u32>(L0), reinterpret<u32>(L1), reinterpret<u32>(L2),
  reinterpret<u32>(<f32>0.5), reinterpret<u32>(LN2_LO), reinterpret<u32>(LN2_HI), reinterpret<u32>(-Infinity as f32),
  reinterpret<u32>(Infinity as f32), reinterpret<u32>(NaN as f32),
]);

export function logS(x: f32): f32 {
  if (x == 0) return -Infinity;
  if (x < 0 || x != x) return NaN;
  if (x == Infinity) return x;
  let kAdj = 0;
  if (x < FLT_MIN) { x *= 8388608; kAdj = 23; }
  const ix = reinterpret<i32>(x) + (0x3f800000 - SQRT_HALF_BITS);
  const k = (<i32>(<u32>ix >> 23)) - 127 - kAdj;
  const f = reinterpret<f32>((ix & 0x7fffff) + SQRT_HALF_BITS) - 1;
  const s = f / (2 + f);
  const z = s * s;
  const R = z * (L0 + z * (L1 + z * L2));
  const hfsq = (<f32>0.5 * f) * f;
  const kf = <f32>k;
  const corr = s * (hfsq + R) + kf * LN2_LO;
  return kf * LN2_HI + (f - (hfsq - corr));
}

// ---------- tanh, sigmoid, silu ----------

// Below TANH_SMALL, tanh(x) = x + x^3 (T0 + T1 w + ... + T4 w^4), w = x^2 (0.07 ulp): no
// cancellation near 0. Above it, (1 - E) / (1 + E) with E = e^(-2|x|) <= 0.29, which never
// overflows and tends to exactly 1.
const TANH_SMALL: f32 = 0.625;
const T0: f32 = -0.33333281, T1: f32 = 0.13331442, T2: f32 = -0.053739712, T3: f32 = 0.020639079, T4: f32 = -0.0057049785;
const SIGN: i32 = 0x80000000;

// @ts-ignore: decorator
@inline export function tanhV(x: v128): v128 {
  const ax = f32x4.abs(x);
  const w = f32x4.mul(x, x);
  let p = f32x4.add(f32x4.mul(f32x4.splat(T4), w), f32x4.splat(T3));
  p = f32x4.add(f32x4.mul(p, w), f32x4.splat(T2));
  p = f32x4.add(f32x4.mul(p, w), f32x4.splat(T1));
  p = f32x4.add(f32x4.mul(p, w), f32x4.splat(T0));
  const small = f32x4.add(x, f32x4.mul(f32x4.mul(x, w), p));
  const e = expV(f32x4.mul(ax, f32x4.splat(-2)));
  const big = f32x4.div(f32x4.sub(f32x4.splat(1), e), f32x4.add(f32x4.splat(1), e));
  // NaN fails `ax < TANH_SMALL` and comes out of the exp branch as NaN. x's sign goes onto
  // either branch; that also keeps tanh(-0) = -0, which the small branch alone would lose.
  const r = v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(TANH_SMALL)));
  return v128.bitselect(x, r, i32x4.splat(SIGN));
}

export function tanhS(x: f32): f32 {
  const ax = abs<f32>(x);
  if (ax < TANH_SMALL) {
    const w = x * x;
    let p = T4 * w + T3;
    p = p * w + T2;
    p = p * w + T1;
    p = p * w + T0;
    return copysign<f32>(x + (x * w) * p, x);
  }
  const e = expS(ax * -2);
  return copysign<f32>((1 - e) / (1 + e), x);
}

/**
 * 1 / (1 + e^-z) from E = e^(-|z|) in (0, 1]: 1 / (1 + E) for z >= 0, E / (1 + E) for z < 0.
 * Nothing overflows, sigmoid(-large) is 0 (or its subnormal value), never NaN.
 */
// @ts-ignore: decorator
@inline function sigmoidFromE(neg: v128, e: v128): v128 {
  const d = f32x4.add(f32x4.splat(1), e);
  return v128.bitselect(f32x4.div(e, d), f32x4.div(f32x4.splat(1), d), neg);
}

// @ts-ignore: decorator
@inline export function sigmoidV(x: v128): v128 {
  return sigmoidFromE(f32x4.lt(x, f32x4.splat(0)), expV(f32x4.neg(f32x4.abs(x))));
}

export function sigmoidS(x: f32): f32 {
  const e = expS(-abs<f32>(x));
  const d: f32 = 1 + e;
  return x < 0 ? e / d : 1 / d;
}

// x * sigmoid(z) for silu (z = x) and gelu (z = 2u), from E64 = e^(-|z|) * 2^64: x / (1 + E) for
// z >= 0, (x * E64) * 2^-64 / (1 + E) for z < 0. Where e^z is subnormal, forming x * e^z from a
// subnormal e^z would cost up to ~50 ulp; x * E64 is normal and the 2^-64 rounds once. E itself
// (E64 * 2^-64, possibly rounded) only enters 1 + E, where it is negligible if that small.
const TWO_POW_M64: f32 = 5.421010862427522e-20;

// @ts-ignore: decorator
@inline function xSigmoidV(x: v128, neg: v128, e64: v128): v128 {
  const d = f32x4.add(f32x4.splat(1), f32x4.mul(e64, f32x4.splat(TWO_POW_M64)));
  const num = v128.bitselect(f32x4.mul(f32x4.mul(x, e64), f32x4.splat(TWO_POW_M64)), x, neg);
  return f32x4.div(num, d);
}

// @ts-ignore: decorator
@inline function xSigmoidS(x: f32, neg: bool, e64: f32): f32 {
  const d: f32 = 1 + e64 * TWO_POW_M64;
  return (neg ? (x * e64) * TWO_POW_M64 : x) / d;
}

/** x * sigmoid(x). silu(-Inf) is NaN (-Inf * 0), as in PyTorch. */
// @ts-ignore: decorator
@inline export function siluV(x: v128): v128 {
  return xSigmoidV(x, f32x4.lt(x, f32x4.splat(0)), expLoV(f32x4.neg(f32x4.abs(x)), f32x4.splat(0), 64));
}
export function siluS(x: f32): f32 { return xSigmoidS(x, x < 0, expLoS(-abs<f32>(x), 0, 64)); }

// ---------- gelu (tanh form) ----------

// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3) equals x * sigmoid(2u), which has
// no cancellation for negative x. 2u = x (G1 + G2 x^2) is formed in f64: for x < 0 the result is
// about x e^(2u), so an f32 rounding of 2u (|2u| up to ~100) would cost up to ~100 ulp. The f64
// value is clamped to +-200 (sigmoid is saturated in f32 well before) and handed to exp as
// hi + lo f32s.
const G1: f64 = 1.5957691216057308; // 2 sqrt(2/pi)
const G2: f64 = 0.0713548162726009; // 2 sqrt(2/pi) * 0.044715

// @ts-ignore: decorator
@inline function geluArg2(x: v128): v128 {
  const z = f64x2.mul(x, f64x2.add(f64x2.splat(G1), f64x2.mul(f64x2.splat(G2), f64x2.mul(x, x))));
  return f64x2.min(f64x2.max(z, f64x2.splat(-200)), f64x2.splat(200));
}

// @ts-ignore: decorator
@inline export function geluV(x: v128): v128 {
  const z0 = geluArg2(f64x2.promote_low_f32x4(x));
  const z1 = geluArg2(f64x2.promote_low_f32x4(v128.shuffle<f32>(x, x, 2, 3, 2, 3)));
  const h0 = f32x4.demote_f64x2_zero(z0), h1 = f32x4.demote_f64x2_zero(z1);
  const l0 = f32x4.demote_f64x2_zero(f64x2.sub(z0, f64x2.promote_low_f32x4(h0)));
  const l1 = f32x4.demote_f64x2_zero(f64x2.sub(z1, f64x2.promote_low_f32x4(h1)));
  const hi = v128.shuffle<f32>(h0, h1, 0, 1, 4, 5);
  const lo = v128.shuffle<f32>(l0, l1, 0, 1, 4, 5);
  const neg = f32x4.lt(hi, f32x4.splat(0));
  // e^(-|hi + lo|): flip the pair's sign where it is positive.
  const flip = v128.andnot(i32x4.splat(SIGN), neg);
  return xSigmoidV(x, neg, expLoV(v128.xor(hi, flip), v128.xor(lo, flip), 64));
}

export function geluS(x: f32): f32 {
  const xd = <f64>x;
  const z = min<f64>(max<f64>(xd * (G1 + G2 * (xd * xd)), -200), 200);
  const hi = <f32>z;
  const lo = <f32>(z - <f64>hi);
  const neg = hi < 0;
  return xSigmoidS(x, neg, neg ? expLoS(hi, lo, 64) : expLoS(-hi, -lo, 64));
}
