// Matrix-vector products for the GEMM driver's skinny cases (M = 1 or N = 1), where packing
// would cost as much as the product: each matrix element is used once, so these stream the
// matrix in place with enough independent accumulators to hide the add latency.
//   y[j] = act(sum_p x[p] * W(p, j) + bias_j)   for j in [j0, j1)
// axpy form: W(p, j) = w[p*ld + j] (rows of W contiguous in j), vectorised over j;
// dot form:  W(p, j) = w[j*ld + p] (columns contiguous in p), vectorised over p.
// bias: 0 for none, else bias_j = bias[j * biasStep] (biasStep 1, or 0 to broadcast one value).
// x and y are contiguous; k may be 0 only if the caller wants act(bias) (gemm.ts handles it).
import { activate, activateScalar, fma } from './gemm_ukernel';

// @ts-ignore: decorator
@inline function biasVec(bias: usize, biasStep: i32, j: i32): v128 {
  if (bias == 0) return f32x4.splat(0);
  return biasStep == 0 ? v128.load32_splat(bias) : v128.load(bias + (<usize>j << 2));
}

// @ts-ignore: decorator
@inline function biasAt(bias: usize, biasStep: i32, j: i32): f32 {
  return bias == 0 ? <f32>0 : load<f32>(bias + (<usize>(j * biasStep) << 2));
}

export function gemvAxpy(x: usize, w: usize, ld: i32, k: i32, y: usize, j0: i32, j1: i32, bias: usize, biasStep: i32, act: i32): void {
  const ldb = <usize>ld << 2;
  let j = j0;
  for (; j + 32 <= j1; j += 32) {
    const z = f32x4.splat(0);
    let s0 = z, s1 = z, s2 = z, s3 = z, s4 = z, s5 = z, s6 = z, s7 = z;
    let pw = w + (<usize>j << 2), px = x;
    for (let p = 0; p < k; p++, pw += ldb, px += 4) {
      const v = v128.load32_splat(px);
      s0 = fma(s0, v, v128.load(pw)); s1 = fma(s1, v, v128.load(pw, 16));
      s2 = fma(s2, v, v128.load(pw, 32)); s3 = fma(s3, v, v128.load(pw, 48));
      s4 = fma(s4, v, v128.load(pw, 64)); s5 = fma(s5, v, v128.load(pw, 80));
      s6 = fma(s6, v, v128.load(pw, 96)); s7 = fma(s7, v, v128.load(pw, 112));
    }
    const o = y + (<usize>j << 2);
    v128.store(o, activate(f32x4.add(s0, biasVec(bias, biasStep, j)), act));
    v128.store(o + 16, activate(f32x4.add(s1, biasVec(bias, biasStep, j + 4)), act));
    v128.store(o + 32, activate(f32x4.add(s2, biasVec(bias, biasStep, j + 8)), act));
    v128.store(o + 48, activate(f32x4.add(s3, biasVec(bias, biasStep, j + 12)), act));
    v128.store(o + 64, activate(f32x4.add(s4, biasVec(bias, biasStep, j + 16)), act));
    v128.store(o + 80, activate(f32x4.add(s5, biasVec(bias, biasStep, j + 20)), act));
    v128.store(o + 96, activate(f32x4.add(s6, biasVec(bias, biasStep, j + 24)), act));
    v128.store(o + 112, activate(f32x4.add(s7, biasVec(bias, biasStep, j + 28)), act));
  }
  for (; j + 4 <= j1; j += 4) {
    // Two accumulators over alternate k steps, so consecutive adds do not wait on each other.
    let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
    let pw = w + (<usize>j << 2), px = x, p = 0;
    for (; p + 2 <= k; p += 2, pw += 2 * ldb, px += 8) {
      s0 = fma(s0, v128.load32_splat(px), v128.load(pw));
      s1 = fma(s1, v128.load32_splat(px, 4), v128.load(pw + ldb));
    }
    if (p < k) s0 = fma(s0, v128.load32_splat(px), v128.load(pw));
    v128.store(y + (<usize>j << 2), activate(f32x4.add(f32x4.add(s0, s1), biasVec(bias, biasStep, j)), act));
  }
  for (; j < j1; j++) {
    let s: f32 = 0;
    let pw = w + (<usize>j << 2), px = x;
    for (let p = 0; p < k; p++, pw += ldb, px += 4) s += load<f32>(px) * load<f32>(pw);
    store<f32>(y + (<usize>j << 2), activateScalar(s + biasAt(bias, biasStep, j), act));
  }
}

/** Four f32x4 sums -> one f32x4 of their horizontal sums. */
// @ts-ignore: decorator
@inline function hsum4(v0: v128, v1: v128, v2: v128, v3: v128): v128 {
  const t0 = f32x4.add(v128.shuffle<f32>(v0, v1, 0, 4, 1, 5), v128.shuffle<f32>(v0, v1, 2, 6, 3, 7));
  const t1 = f32x4.add(v128.shuffle<f32>(v2, v3, 0, 4, 1, 5), v128.shuffle<f32>(v2, v3, 2, 6, 3, 7));
  return f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
}

export function gemvDot(x: usize, w: usize, ld: i32, k: i32, y: usize, j0: i32, j1: i32, bias: usize, biasStep: i32, act: i32): void {
  const ldw = <usize>ld << 2;
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    // Four outputs at once, two accumulators each (8 k per step).
    const z = f32x4.splat(0);
    let a0 = z, a1 = z, a2 = z, a3 = z, b0 = z, b1 = z, b2 = z, b3 = z;
    const w0 = w + <usize>j * ldw, w1 = w0 + ldw, w2 = w1 + ldw, w3 = w2 + ldw;
    let p = 0;
    for (; p + 8 <= k; p += 8) {
      const q = <usize>p << 2;
      const xa = v128.load(x + q), xb = v128.load(x + q, 16);
      a0 = fma(a0, xa, v128.load(w0 + q)); b0 = fma(b0, xb, v128.load(w0 + q, 16));
      a1 = fma(a1, xa, v128.load(w1 + q)); b1 = fma(b1, xb, v128.load(w1 + q, 16));
      a2 = fma(a2, xa, v128.load(w2 + q)); b2 = fma(b2, xb, v128.load(w2 + q, 16));
      a3 = fma(a3, xa, v128.load(w3 + q)); b3 = fma(b3, xb, v128.load(w3 + q, 16));
    }
    for (; p + 4 <= k; p += 4) {
      const q = <usize>p << 2, xa = v128.load(x + q);
      a0 = fma(a0, xa, v128.load(w0 + q)); a1 = fma(a1, xa, v128.load(w1 + q));
      a2 = fma(a2, xa, v128.load(w2 + q)); a3 = fma(a3, xa, v128.load(w3 + q));
    }
    let s = hsum4(f32x4.add(a0, b0), f32x4.add(a1, b1), f32x4.add(a2, b2), f32x4.add(a3, b3));
    for (; p < k; p++) {
      const q = <usize>p << 2, xv = load<f32>(x + q);
      // The k tail: one product per output, gathered into lanes 0..3.
      let g = f32x4.splat(load<f32>(w0 + q));
      g = f32x4.replace_lane(g, 1, load<f32>(w1 + q));
      g = f32x4.replace_lane(g, 2, load<f32>(w2 + q));
      g = f32x4.replace_lane(g, 3, load<f32>(w3 + q));
      s = f32x4.add(s, f32x4.mul(f32x4.splat(xv), g));
    }
    v128.store(y + (<usize>j << 2), activate(f32x4.add(s, biasVec(bias, biasStep, j)), act));
  }
  for (; j < j1; j++) {
    const wj = w + <usize>j * ldw;
    let a = f32x4.splat(0), p = 0;
    for (; p + 4 <= k; p += 4) a = fma(a, v128.load(x + (<usize>p << 2)), v128.load(wj + (<usize>p << 2)));
    let s = f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1) + f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3);
    for (; p < k; p++) s += load<f32>(x + (<usize>p << 2)) * load<f32>(wj + (<usize>p << 2));
    store<f32>(y + (<usize>j << 2), activateScalar(s + biasAt(bias, biasStep, j), act));
  }
}
