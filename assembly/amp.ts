// Mixed-precision support: the GradScaler's unscale pass. One pass over a gradient buffer
// multiplies every element by 1 / scale in place and reports whether any element was inf or
// NaN *before* scaling (the overflow the scaler backs off on). Non-finite is tested on the
// bits (exponent all ones), which no fast-math reordering can fold away.

const EXP_MASK: u32 = 0x7f800000;

/** g[i] *= invScale for i < n; returns 1 when some g[i] was inf or NaN, else 0. */
export function f32_unscale(g: usize, n: i32, invScale: f32): i32 {
  const vs = f32x4.splat(invScale), mask = i32x4.splat(EXP_MASK);
  let bad = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    const v = v128.load(g + q);
    bad = v128.or(bad, i32x4.eq(v128.and(v, mask), mask));
    v128.store(g + q, f32x4.mul(v, vs));
  }
  let found = v128.any_true(bad) ? 1 : 0;
  for (; i < n; i++) found |= unscale1(g, i, invScale);
  return found;
}

// @ts-ignore: decorator
@inline function unscale1(g: usize, i: i32, invScale: f32): i32 {
  const q = <usize>i << 2;
  const bits = load<u32>(g + q);
  store<f32>(g + q, reinterpret<f32>(bits) * invScale);
  return (bits & EXP_MASK) == EXP_MASK ? 1 : 0;
}

export function f32_unscale__scalar(g: usize, n: i32, invScale: f32): i32 {
  let found = 0;
  for (let i = 0; i < n; i++) found |= unscale1(g, i, invScale);
  return found;
}
