// Small f32x4 helpers shared by the kernel families.

/** Sum of the four lanes, in lane order. */
// @ts-ignore: decorator
@inline export function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** acc + a * b: a fused multiply-add in the relaxed-SIMD build (which may or may not round
 *  once, per the relaxed spec), a multiply then an add otherwise. */
// @ts-ignore: decorator
@inline export function fma(acc: v128, a: v128, b: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}
