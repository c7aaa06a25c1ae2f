// Row-wise normalisations: softmax / log-softmax, layer norm, and cross-entropy from logits.
// Rows are contiguous (the op layer makes them so); f32 throughout. exp and log come from
// assembly/math.ts (expV and expS give the same bits, so twins agree exactly).

import { expS, expV, logS } from './math';
import { hsum } from './simd';



/** Sum of a contiguous row, four f32x4 accumulators. */
function rowSum(p: usize, n: i32): f32 {
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = f32x4.add(a0, v128.load(p + (<usize>i << 2)));
    a1 = f32x4.add(a1, v128.load(p + (<usize>i << 2), 16));
  }
  let s = hsum(f32x4.add(a0, a1));
  for (; i < n; i++) s += load<f32>(p + (<usize>i << 2));
  return s;
}

/**
 * Largest value of a contiguous row with pmax (one instruction, where NaN-propagating max is
 * several on x64). A NaN in the row may be skipped here, but it still reaches every output of
 * softmax, and the cross-entropy loss, through the sum of exp(x - m), as in PyTorch.
 */
function rowMax(p: usize, n: i32): f32 {
  let m = load<f32>(p), i = 1;
  if (n >= 8) {
    let v0 = v128.load(p), v1 = v128.load(p, 16);
    for (i = 8; i + 8 <= n; i += 8) {
      v0 = f32x4.pmax(v0, v128.load(p + (<usize>i << 2)));
      v1 = f32x4.pmax(v1, v128.load(p + (<usize>i << 2), 16));
    }
    const v = f32x4.pmax(v0, v1);
    m = max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
  }
  for (; i < n; i++) m = max(m, load<f32>(p + (<usize>i << 2)));
  return m;
}

/**
 * softmax (isLog = 0) or log-softmax (1) of each contiguous row of n. n >= 1. Three passes:
 * max; exp(x - m) stored and summed in one; then a scale by 1 / sum (PyTorch's CPU kernel
 * multiplies by the reciprocal too) or the log-softmax shift.
 */
export function f32_softmax_rows(x: usize, out: usize, rows: i32, n: i32, isLog: i32): void {
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>r * <usize>n << 2), po = out + (<usize>r * <usize>n << 2);
    const m = rowMax(px, n);
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0), j = 0;
    for (; j + 4 <= n; j += 4) {
      const e = expV(f32x4.sub(v128.load(px + (<usize>j << 2)), vm));
      v128.store(po + (<usize>j << 2), e);
      acc = f32x4.add(acc, e);
    }
    let s = hsum(acc);
    for (; j < n; j++) { const e = expS(load<f32>(px + (<usize>j << 2)) - m); store<f32>(po + (<usize>j << 2), e); s += e; }
    if (isLog) {
      const sh = m + logS(s);
      const shift = f32x4.splat(sh);
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), f32x4.sub(v128.load(px + (<usize>i << 2)), shift));
      for (; i < n; i++) store<f32>(po + (<usize>i << 2), load<f32>(px + (<usize>i << 2)) - sh);
    } else {
      const inv: f32 = 1 / s;
      const vs = f32x4.splat(inv);
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), f32x4.mul(v128.load(po + (<usize>i << 2)), vs));
      for (; i < n; i++) store<f32>(po + (<usize>i << 2), load<f32>(po + (<usize>i << 2)) * inv);
    }
  }
}

/** Scalar twin of f32_softmax_rows. */
export function f32_softmax_rows__scalar(x: usize, out: usize, rows: i32, n: i32, isLog: i32): void {
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>r * <usize>n << 2), po = out + (<usize>r * <usize>n << 2);
    let m = load<f32>(px);
    for (let i = 1; i < n; i++) m = max(m, load<f32>(px + (<usize>i << 2)));
    let s: f32 = 0;
    for (let i = 0; i < n; i++) { const e = expS(load<f32>(px + (<usize>i << 2)) - m); store<f32>(po + (<usize>i << 2), e); s += e; }
    const sh = m + logS(s), inv: f32 = 1 / s;
    for (let i = 0; i < n; i++) {
      const q = <usize>i << 2;
      store<f32>(po + q, isLog ? load<f32>(px + q) - sh : load<f32>(po + q) * inv);
    }
  }
}

/**
 * Layer norm over each contiguous row of n: y = (x - mean) / sqrt(var + eps) * g + b, with the
 * biased variance computed in a second pass (more accurate than E[x^2] - mean^2). g and b are
 * n-vectors, or 0 for none.
 */
export function f32_layernorm(x: usize, out: usize, g: usize, b: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>r * <usize>n << 2), po = out + (<usize>r * <usize>n << 2);
    const mean = rowSum(px, n) / <f32>n;
    const vm = f32x4.splat(mean);
    let acc = f32x4.splat(0), i = 0;
    for (; i + 4 <= n; i += 4) { const d = f32x4.sub(v128.load(px + (<usize>i << 2)), vm); acc = f32x4.add(acc, f32x4.mul(d, d)); }
    let ss = hsum(acc);
    for (; i < n; i++) { const d = load<f32>(px + (<usize>i << 2)) - mean; ss += d * d; }
    const rstd: f32 = 1 / Mathf.sqrt(ss / <f32>n + eps);
    const vr = f32x4.splat(rstd);
    i = 0;
    for (; i + 4 <= n; i += 4) {
      const q = <usize>i << 2;
      let y = f32x4.mul(f32x4.sub(v128.load(px + q), vm), vr);
      if (g) y = f32x4.mul(y, v128.load(g + q));
      if (b) y = f32x4.add(y, v128.load(b + q));
      v128.store(po + q, y);
    }
    for (; i < n; i++) {
      const q = <usize>i << 2;
      let y = (load<f32>(px + q) - mean) * rstd;
      if (g) y *= load<f32>(g + q);
      if (b) y += load<f32>(b + q);
      store<f32>(po + q, y);
    }
  }
}

/** Scalar twin of f32_layernorm. */
export function f32_layernorm__scalar(x: usize, out: usize, g: usize, b: usize, rows: i32, n: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>r * <usize>n << 2), po = out + (<usize>r * <usize>n << 2);
    let s: f32 = 0;
    for (let i = 0; i < n; i++) s += load<f32>(px + (<usize>i << 2));
    const mean = s / <f32>n;
    let ss: f32 = 0;
    for (let i = 0; i < n; i++) { const d = load<f32>(px + (<usize>i << 2)) - mean; ss += d * d; }
    const rstd: f32 = 1 / Mathf.sqrt(ss / <f32>n + eps);
    for (let i = 0; i < n; i++) {
      const q = <usize>i << 2;
      let y = (load<f32>(px + q) - mean) * rstd;
      if (g) y *= load<f32>(g + q);
      if (b) y += load<f32>(b + q);
      store<f32>(po + q, y);
    }
  }
}

/**
 * Cross-entropy of each row of logits [rows, c] against an i32 label per row, with label
 * smoothing eps: loss = lse - (1 - eps) x[y] - eps mean(x), lse = log(sum(exp(x))).
 * Returns -1, or the first row whose label is outside [0, c) (its loss is left unwritten).
 */
export function f32_cross_entropy(x: usize, labels: usize, out: usize, rows: i32, c: i32, eps: f32): i32 {
  for (let r = 0; r < rows; r++) {
    const y = load<i32>(labels + (<usize>r << 2));
    if (y < 0 || y >= c) return r;
    const px = x + (<usize>r * <usize>c << 2);
    const m = rowMax(px, c);
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0), i = 0;
    for (; i + 4 <= c; i += 4) acc = f32x4.add(acc, expV(f32x4.sub(v128.load(px + (<usize>i << 2)), vm)));
    let s = hsum(acc);
    for (; i < c; i++) s += expS(load<f32>(px + (<usize>i << 2)) - m);
    const lse = m + logS(s);
    const meanX = eps != 0 ? rowSum(px, c) / <f32>c : 0;
    store<f32>(out + (<usize>r << 2), lse - (1 - eps) * load<f32>(px + (<usize>y << 2)) - eps * meanX);
  }
  return -1;
}
