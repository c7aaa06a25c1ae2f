// The machine's f32x4 multiply-add peak, for the benchmark's "fraction of peak" column (not a
// kernel of the seam). Twelve independent chains acc = acc * s + t: each step is one f32x4
// mul and one add (8 flops), and twelve chains keep both the multiplier and adder ports busy
// through their latency. Returns a lane sum so the work cannot be optimised away.
import { fma } from './gemm_ukernel';

export function f32_peak_madd(iters: i32, seed: f32): f32 {
  const s = f32x4.splat(0.999), t = f32x4.splat(seed * 1e-3);
  let a0 = f32x4.splat(seed), a1 = f32x4.splat(seed + 1), a2 = f32x4.splat(seed + 2), a3 = f32x4.splat(seed + 3);
  let a4 = f32x4.splat(seed + 4), a5 = f32x4.splat(seed + 5), a6 = f32x4.splat(seed + 6), a7 = f32x4.splat(seed + 7);
  let a8 = f32x4.splat(seed + 8), a9 = f32x4.splat(seed + 9), a10 = f32x4.splat(seed + 10), a11 = f32x4.splat(seed + 11);
  for (let i = 0; i < iters; i++) {
    a0 = fma(t, a0, s); a1 = fma(t, a1, s); a2 = fma(t, a2, s); a3 = fma(t, a3, s);
    a4 = fma(t, a4, s); a5 = fma(t, a5, s); a6 = fma(t, a6, s); a7 = fma(t, a7, s);
    a8 = fma(t, a8, s); a9 = fma(t, a9, s); a10 = fma(t, a10, s); a11 = fma(t, a11, s);
  }
  const v = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)));
  const w = f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11));
  const u = f32x4.add(v, w);
  return f32x4.extract_lane(u, 0) + f32x4.extract_lane(u, 1) + f32x4.extract_lane(u, 2) + f32x4.extract_lane(u, 3);
}
