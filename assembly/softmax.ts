// Row-wise normalisations: softmax / log-softmax, layer norm, and cross-entropy from logits.
// Rows are contiguous (the op layer makes them so); f32 throughout. exp and log come from
// assembly/math.ts; the vector and scalar forms of each give the same bits.

import { expNegC as C, expNegS, expNegV, logS } from './math';
import { fma, hsum } from './simd';

/**
 * sum of e^(x[j] - m) over a row of n, storing each term to po when `keep` (a literal at every
 * call, so the branch folds away). Every x - m is <= 0 or NaN, so this is expNegV, written out
 * for eight vectors at once with each step applied to all eight before the next. V8 emits Wasm
 * in order and one exp is a ~20-deep dependency chain: eight chains keep the core busy where
 * four left it waiting, although x64's 16 vector registers cannot hold them all (V8 spills
 * about 4 vectors per chain and trip). Softmax [256, 1000] on this 2-core EPYC, interleaved
 * chains: 8 are 1.15-1.2x faster than 4, 6 lie between, 12 and 16 were slower again; so were
 * per-chain copies of the constants (2x slower) and computing the flush mask early (5%).
 * In the relaxed-SIMD build its multiply-adds fuse (another ~20%), so there its bits may differ
 * by an ulp from expNegV's and the scalar twin's; the plain build gives the same bits.
 */
// @ts-ignore: decorator
@inline function expShiftedSum(px: usize, po: usize, n: i32, m: f32, keep: bool): f32 {
  const vm = f32x4.splat(m);
  let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), j = 0;
  for (; j + 32 <= n; j += 32) {
    const p = px + (<usize>j << 2);
    const x0 = f32x4.sub(v128.load(p), vm), x1 = f32x4.sub(v128.load(p, 16), vm);
    const x2 = f32x4.sub(v128.load(p, 32), vm), x3 = f32x4.sub(v128.load(p, 48), vm);
    const x4 = f32x4.sub(v128.load(p, 64), vm), x5 = f32x4.sub(v128.load(p, 80), vm);
    const x6 = f32x4.sub(v128.load(p, 96), vm), x7 = f32x4.sub(v128.load(p, 112), vm);
    // t = x log2e + magic; n = t - magic; r = x - n ln2 in two parts.
    const t0 = fma(C(2), x0, C(1)), t1 = fma(C(2), x1, C(1)), t2 = fma(C(2), x2, C(1)), t3 = fma(C(2), x3, C(1));
    const t4 = fma(C(2), x4, C(1)), t5 = fma(C(2), x5, C(1)), t6 = fma(C(2), x6, C(1)), t7 = fma(C(2), x7, C(1));
    const n0 = f32x4.sub(t0, C(2)), n1 = f32x4.sub(t1, C(2)), n2 = f32x4.sub(t2, C(2)), n3 = f32x4.sub(t3, C(2));
    const n4 = f32x4.sub(t4, C(2)), n5 = f32x4.sub(t5, C(2)), n6 = f32x4.sub(t6, C(2)), n7 = f32x4.sub(t7, C(2));
    let r0 = f32x4.sub(x0, f32x4.mul(n0, C(3))), r1 = f32x4.sub(x1, f32x4.mul(n1, C(3)));
    let r2 = f32x4.sub(x2, f32x4.mul(n2, C(3))), r3 = f32x4.sub(x3, f32x4.mul(n3, C(3)));
    let r4 = f32x4.sub(x4, f32x4.mul(n4, C(3))), r5 = f32x4.sub(x5, f32x4.mul(n5, C(3)));
    let r6 = f32x4.sub(x6, f32x4.mul(n6, C(3))), r7 = f32x4.sub(x7, f32x4.mul(n7, C(3)));
    r0 = f32x4.sub(r0, f32x4.mul(n0, C(4))); r1 = f32x4.sub(r1, f32x4.mul(n1, C(4)));
    r2 = f32x4.sub(r2, f32x4.mul(n2, C(4))); r3 = f32x4.sub(r3, f32x4.mul(n3, C(4)));
    r4 = f32x4.sub(r4, f32x4.mul(n4, C(4))); r5 = f32x4.sub(r5, f32x4.mul(n5, C(4)));
    r6 = f32x4.sub(r6, f32x4.mul(n6, C(4))); r7 = f32x4.sub(r7, f32x4.mul(n7, C(4)));
    // Horner from E4 down to E0, then p = 1 + r + r^2 q.
    let q0 = fma(C(8), C(9), r0), q1 = fma(C(8), C(9), r1), q2 = fma(C(8), C(9), r2), q3 = fma(C(8), C(9), r3);
    let q4 = fma(C(8), C(9), r4), q5 = fma(C(8), C(9), r5), q6 = fma(C(8), C(9), r6), q7 = fma(C(8), C(9), r7);
    q0 = fma(C(7), q0, r0); q1 = fma(C(7), q1, r1); q2 = fma(C(7), q2, r2); q3 = fma(C(7), q3, r3);
    q4 = fma(C(7), q4, r4); q5 = fma(C(7), q5, r5); q6 = fma(C(7), q6, r6); q7 = fma(C(7), q7, r7);
    q0 = fma(C(6), q0, r0); q1 = fma(C(6), q1, r1); q2 = fma(C(6), q2, r2); q3 = fma(C(6), q3, r3);
    q4 = fma(C(6), q4, r4); q5 = fma(C(6), q5, r5); q6 = fma(C(6), q6, r6); q7 = fma(C(6), q7, r7);
    q0 = fma(C(5), q0, r0); q1 = fma(C(5), q1, r1); q2 = fma(C(5), q2, r2); q3 = fma(C(5), q3, r3);
    q4 = fma(C(5), q4, r4); q5 = fma(C(5), q5, r5); q6 = fma(C(5), q6, r6); q7 = fma(C(5), q7, r7);
    q0 = f32x4.add(C(10), f32x4.add(r0, f32x4.mul(f32x4.mul(r0, r0), q0)));
    q1 = f32x4.add(C(10), f32x4.add(r1, f32x4.mul(f32x4.mul(r1, r1), q1)));
    q2 = f32x4.add(C(10), f32x4.add(r2, f32x4.mul(f32x4.mul(r2, r2), q2)));
    q3 = f32x4.add(C(10), f32x4.add(r3, f32x4.mul(f32x4.mul(r3, r3), q3)));
    q4 = f32x4.add(C(10), f32x4.add(r4, f32x4.mul(f32x4.mul(r4, r4), q4)));
    q5 = f32x4.add(C(10), f32x4.add(r5, f32x4.mul(f32x4.mul(r5, r5), q5)));
    q6 = f32x4.add(C(10), f32x4.add(r6, f32x4.mul(f32x4.mul(r6, r6), q6)));
    q7 = f32x4.add(C(10), f32x4.add(r7, f32x4.mul(f32x4.mul(r7, r7), q7)));
    // Scale by 2^n (t << 23) and flush what lies below the cutoff.
    const e0 = v128.andnot(f32x4.mul(q0, i32x4.shl(t0, 23)), f32x4.lt(x0, C(0)));
    const e1 = v128.andnot(f32x4.mul(q1, i32x4.shl(t1, 23)), f32x4.lt(x1, C(0)));
    const e2 = v128.andnot(f32x4.mul(q2, i32x4.shl(t2, 23)), f32x4.lt(x2, C(0)));
    const e3 = v128.andnot(f32x4.mul(q3, i32x4.shl(t3, 23)), f32x4.lt(x3, C(0)));
    const e4 = v128.andnot(f32x4.mul(q4, i32x4.shl(t4, 23)), f32x4.lt(x4, C(0)));
    const e5 = v128.andnot(f32x4.mul(q5, i32x4.shl(t5, 23)), f32x4.lt(x5, C(0)));
    const e6 = v128.andnot(f32x4.mul(q6, i32x4.shl(t6, 23)), f32x4.lt(x6, C(0)));
    const e7 = v128.andnot(f32x4.mul(q7, i32x4.shl(t7, 23)), f32x4.lt(x7, C(0)));
    if (keep) {
      const o = po + (<usize>j << 2);
      v128.store(o, e0); v128.store(o, e1, 16); v128.store(o, e2, 32); v128.store(o, e3, 48);
      v128.store(o, e4, 64); v128.store(o, e5, 80); v128.store(o, e6, 96); v128.store(o, e7, 112);
    }
    acc0 = f32x4.add(acc0, f32x4.add(f32x4.add(e0, e2), f32x4.add(e4, e6)));
    acc1 = f32x4.add(acc1, f32x4.add(f32x4.add(e1, e3), f32x4.add(e5, e7)));
  }
  for (; j + 4 <= n; j += 4) {
    const e = expNegV(f32x4.sub(v128.load(px + (<usize>j << 2)), vm));
    if (keep) v128.store(po + (<usize>j << 2), e);
    acc0 = f32x4.add(acc0, e);
  }
  let s = hsum(f32x4.add(acc0, acc1));
  for (; j < n; j++) {
    const e = expNegS(load<f32>(px + (<usize>j << 2)) - m);
    if (keep) store<f32>(po + (<usize>j << 2), e);
    s += e;
  }
  return s;
}

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
  if (n >= 16) {
    // Four chains: pmax has a 3-4 cycle latency and can issue twice a cycle.
    let v0 = v128.load(p), v1 = v128.load(p, 16), v2 = v128.load(p, 32), v3 = v128.load(p, 48);
    for (i = 16; i + 16 <= n; i += 16) {
      const q = p + (<usize>i << 2);
      v0 = f32x4.pmax(v0, v128.load(q)); v1 = f32x4.pmax(v1, v128.load(q, 16));
      v2 = f32x4.pmax(v2, v128.load(q, 32)); v3 = f32x4.pmax(v3, v128.load(q, 48));
    }
    for (; i + 4 <= n; i += 4) v0 = f32x4.pmax(v0, v128.load(p + (<usize>i << 2)));
    const v = f32x4.pmax(f32x4.pmax(v0, v1), f32x4.pmax(v2, v3));
    m = max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
  }
  for (; i < n; i++) m = max(m, load<f32>(p + (<usize>i << 2)));
  return m;
}

/**
 * The last pass of a softmax row: out = out * c (softmax, c = 1 / sum) or out = x - c
 * (log-softmax, c = m + log sum), `isLog` a literal at every call. When `next` is not 0 it is
 * the following row, whose max comes back from the same loop: the scale is L1-bound and the
 * max pass waits on memory, so one loop doing both overlaps them (softmax [256, 1000]: ~8%
 * faster than two loops). Returns that max, or 0 without a next row. The max is exact, so it
 * does not depend on which loop found it; a NaN in the row ends up in every output either way.
 */
// @ts-ignore: decorator
@inline function lastPass(px: usize, po: usize, n: i32, c: f32, isLog: bool, next: usize): f32 {
  const vc = f32x4.splat(c);
  let i = 0;
  if (next != 0 && n >= 16) {
    // Four max chains, seeded with the next row's first 16 (pmax is idempotent).
    let v0 = v128.load(next), v1 = v128.load(next, 16), v2 = v128.load(next, 32), v3 = v128.load(next, 48);
    for (; i + 16 <= n; i += 16) {
      const o = <usize>i << 2, q = po + o, p = next + o;
      if (isLog) {
        const s = px + o;
        v128.store(q, f32x4.sub(v128.load(s), vc)); v128.store(q, f32x4.sub(v128.load(s, 16), vc), 16);
        v128.store(q, f32x4.sub(v128.load(s, 32), vc), 32); v128.store(q, f32x4.sub(v128.load(s, 48), vc), 48);
      } else {
        v128.store(q, f32x4.mul(v128.load(q), vc)); v128.store(q, f32x4.mul(v128.load(q, 16), vc), 16);
        v128.store(q, f32x4.mul(v128.load(q, 32), vc), 32); v128.store(q, f32x4.mul(v128.load(q, 48), vc), 48);
      }
      v0 = f32x4.pmax(v0, v128.load(p)); v1 = f32x4.pmax(v1, v128.load(p, 16));
      v2 = f32x4.pmax(v2, v128.load(p, 32)); v3 = f32x4.pmax(v3, v128.load(p, 48));
    }
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, isLog ? f32x4.sub(v128.load(px + o), vc) : f32x4.mul(v128.load(po + o), vc));
      v0 = f32x4.pmax(v0, v128.load(next + o));
    }
    const v = f32x4.pmax(f32x4.pmax(v0, v1), f32x4.pmax(v2, v3));
    let m = max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
    for (; i < n; i++) {
      const o = <usize>i << 2;
      store<f32>(po + o, isLog ? load<f32>(px + o) - c : load<f32>(po + o) * c);
      m = max(m, load<f32>(next + o));
    }
    return m;
  }
  for (; i + 8 <= n; i += 8) {
    const o = <usize>i << 2, q = po + o;
    if (isLog) {
      v128.store(q, f32x4.sub(v128.load(px + o), vc)); v128.store(q, f32x4.sub(v128.load(px + o, 16), vc), 16);
    } else {
      v128.store(q, f32x4.mul(v128.load(q), vc)); v128.store(q, f32x4.mul(v128.load(q, 16), vc), 16);
    }
  }
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(po + o, isLog ? f32x4.sub(v128.load(px + o), vc) : f32x4.mul(v128.load(po + o), vc));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(po + o, isLog ? load<f32>(px + o) - c : load<f32>(po + o) * c);
  }
  return next != 0 ? rowMax(next, n) : 0;
}

/**
 * softmax (isLog = 0) or log-softmax (1) of each contiguous row of n. n >= 1. Three passes:
 * max; exp(x - m) stored and summed in one; then a scale by 1 / sum (PyTorch's CPU kernel
 * multiplies by the reciprocal too) or the log-softmax shift, which also finds the next row's
 * max (lastPass).
 */
export function f32_softmax_rows(x: usize, out: usize, rows: i32, n: i32, isLog: i32): void {
  if (rows <= 0) return;
  let m = rowMax(x, n);
  for (let r = 0; r < rows; r++) {
    const px = x + (<usize>r * <usize>n << 2), po = out + (<usize>r * <usize>n << 2);
    const next: usize = r + 1 < rows ? px + (<usize>n << 2) : 0;
    if (isLog) {
      // log-softmax needs only the sum; its outputs come from x in the last pass.
      m = lastPass(px, po, n, m + logS(expShiftedSum(px, 0, n, m, false)), true, next);
    } else {
      m = lastPass(px, po, n, <f32>1 / expShiftedSum(px, po, n, m, true), false, next);
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
    for (let i = 0; i < n; i++) { const e = expNegS(load<f32>(px + (<usize>i << 2)) - m); store<f32>(po + (<usize>i << 2), e); s += e; }
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
    const lse = m + logS(expShiftedSum(px, 0, c, m, false));
    const meanX = eps != 0 ? rowSum(px, c) / <f32>c : 0;
    store<f32>(out + (<usize>r << 2), lse - (1 - eps) * load<f32>(px + (<usize>y << 2)) - eps * meanX);
  }
  return -1;
}
