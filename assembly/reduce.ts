// Reductions along one axis. x is viewed as [outer, reduce, inner] (row-major f32), out as
// [outer, inner]. Accumulation is in f32.
// - sum divided by `divisor` (1 for sum, reduce for mean, as PyTorch divides): reduce may be 0.
// - max / min: NaN propagates (Wasm's f32.max/min and f32x4.max/min do). reduce >= 1.
// - argmax / argmin: i32 index of the first extreme value; a NaN counts as the extreme, as in
//   PyTorch. reduce >= 1. (The op layer refuses empty max/min/arg* reductions.)

import { hsum } from './simd';


/** out = (sum over the reduced axis) / divisor. f32x4; four accumulators on contiguous rows. */
export function f32_sum(x: usize, out: usize, outer: i32, reduce: i32, inner: i32, divisor: f32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      const p = x + (<usize>o * <usize>reduce << 2);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let r = 0;
      for (; r + 16 <= reduce; r += 16) {
        const q = p + (<usize>r << 2);
        a0 = f32x4.add(a0, v128.load(q));
        a1 = f32x4.add(a1, v128.load(q, 16));
        a2 = f32x4.add(a2, v128.load(q, 32));
        a3 = f32x4.add(a3, v128.load(q, 48));
      }
      for (; r + 4 <= reduce; r += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>r << 2)));
      let s = hsum(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)));
      for (; r < reduce; r++) s += load<f32>(p + (<usize>r << 2));
      store<f32>(out + (<usize>o << 2), s / divisor);
    }
    return;
  }
  const vd = f32x4.splat(divisor);
  for (let o = 0; o < outer; o++) {
    const po = out + (<usize>o * <usize>inner << 2);
    memory.fill(po, 0, <usize>inner << 2);
    for (let r = 0; r < reduce; r++) {
      const px = x + ((<usize>o * <usize>reduce + <usize>r) * <usize>inner << 2);
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const q = <usize>i << 2;
        v128.store(po + q, f32x4.add(v128.load(po + q), v128.load(px + q)));
      }
      for (; i < inner; i++) {
        const q = <usize>i << 2;
        store<f32>(po + q, load<f32>(po + q) + load<f32>(px + q));
      }
    }
    let i = 0;
    for (; i + 4 <= inner; i += 4) v128.store(po + (<usize>i << 2), f32x4.div(v128.load(po + (<usize>i << 2)), vd));
    for (; i < inner; i++) store<f32>(po + (<usize>i << 2), load<f32>(po + (<usize>i << 2)) / divisor);
  }
}

/** Scalar twin of f32_sum. */
export function f32_sum__scalar(x: usize, out: usize, outer: i32, reduce: i32, inner: i32, divisor: f32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s: f32 = 0;
      for (let r = 0; r < reduce; r++) s += load<f32>(x + (((<usize>o * <usize>reduce + <usize>r) * <usize>inner + <usize>i) << 2));
      store<f32>(out + ((<usize>o * <usize>inner + <usize>i) << 2), s / divisor);
    }
  }
}

/** max (isMax = 1) or min (0) along the axis. f32x4 across inner, or across a contiguous row. */
export function f32_extreme(x: usize, out: usize, outer: i32, reduce: i32, inner: i32, isMax: i32): void {
  for (let o = 0; o < outer; o++) {
    const base = x + (<usize>o * <usize>reduce * <usize>inner << 2);
    const po = out + (<usize>o * <usize>inner << 2);
    if (inner == 1) {
      let r = 0;
      let s = load<f32>(base);
      if (reduce >= 4) {
        let v = v128.load(base);
        for (r = 4; r + 4 <= reduce; r += 4) {
          const w = v128.load(base + (<usize>r << 2));
          v = isMax ? f32x4.max(v, w) : f32x4.min(v, w);
        }
        const a = f32x4.extract_lane(v, 0), b = f32x4.extract_lane(v, 1), c = f32x4.extract_lane(v, 2), d = f32x4.extract_lane(v, 3);
        s = isMax ? max(max(a, b), max(c, d)) : min(min(a, b), min(c, d));
      } else {
        r = 1;
      }
      for (; r < reduce; r++) { const w = load<f32>(base + (<usize>r << 2)); s = isMax ? max(s, w) : min(s, w); }
      store<f32>(po, s);
      continue;
    }
    memory.copy(po, base, <usize>inner << 2);
    for (let r = 1; r < reduce; r++) {
      const px = base + (<usize>r * <usize>inner << 2);
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const q = <usize>i << 2;
        const a = v128.load(po + q), b = v128.load(px + q);
        v128.store(po + q, isMax ? f32x4.max(a, b) : f32x4.min(a, b));
      }
      for (; i < inner; i++) {
        const q = <usize>i << 2;
        const a = load<f32>(po + q), b = load<f32>(px + q);
        store<f32>(po + q, isMax ? max(a, b) : min(a, b));
      }
    }
  }
}

/** Scalar twin of f32_extreme. */
export function f32_extreme__scalar(x: usize, out: usize, outer: i32, reduce: i32, inner: i32, isMax: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s = load<f32>(x + ((<usize>o * <usize>reduce * <usize>inner + <usize>i) << 2));
      for (let r = 1; r < reduce; r++) {
        const w = load<f32>(x + (((<usize>o * <usize>reduce + <usize>r) * <usize>inner + <usize>i) << 2));
        s = isMax ? max(s, w) : min(s, w);
      }
      store<f32>(out + ((<usize>o * <usize>inner + <usize>i) << 2), s);
    }
  }
}

/** argmax (isMax = 1) or argmin (0): the first index of the extreme, NaN being extreme. Scalar:
 *  one compare and branch per element, which f32x4 does not speed up without a second pass. */
export function f32_argextreme(x: usize, out: usize, outer: i32, reduce: i32, inner: i32, isMax: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const p = x + ((<usize>o * <usize>reduce * <usize>inner + <usize>i) << 2);
      const step = <usize>inner << 2;
      let best = load<f32>(p), at = 0;
      if (best == best) {
        for (let r = 1; r < reduce; r++) {
          const w = load<f32>(p + <usize>r * step);
          if (w != w) { at = r; break; }
          if (isMax ? w > best : w < best) { best = w; at = r; }
        }
      }
      store<i32>(out + ((<usize>o * <usize>inner + <usize>i) << 2), at);
    }
  }
}
