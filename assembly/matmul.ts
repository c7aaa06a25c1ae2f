// The first rungs of the f32 matmul ladder, row-major c[m, n] = a[m, k] @ b[k, n], k may be 0.
// They are no longer behind the seam (the `matmul` kernel is f32_gemm, rung 2, in gemm.ts);
// they stay so bench/gemm.bench.ts can show, side by side, what each step buys:
//   rung 0, f32_matmul_naive: scalar i-p-j loops;
//   rung 1, f32_matmul_blocked: the foundation's 4x8 register block (8 f32x4 accumulators)
//     walking B in place, with 4-wide and scalar column tails and a one-row path for the m
//     tail. It is fast while B fits in L2 and falls off beyond, as every 4-row block streams
//     all of B again: rung 2 packs B into panels and blocks k for the caches.

// @ts-ignore: decorator
@inline function splatA(p: usize): v128 { return f32x4.splat(load<f32>(p)); }
// @ts-ignore: decorator
@inline function fma(acc: v128, a: v128, b: v128): v128 { return f32x4.add(acc, f32x4.mul(a, b)); }

/** Four rows of c starting at row pointer a / c. */
function rows4(a: usize, b: usize, c: usize, k: i32, n: i32): void {
  const lda = <usize>k << 2, ldb = <usize>n << 2;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
    let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) {
      const b0 = v128.load(pb), b1 = v128.load(pb, 16);
      let x = splatA(pa);           c00 = fma(c00, x, b0); c01 = fma(c01, x, b1);
      x = splatA(pa + lda);         c10 = fma(c10, x, b0); c11 = fma(c11, x, b1);
      x = splatA(pa + 2 * lda);     c20 = fma(c20, x, b0); c21 = fma(c21, x, b1);
      x = splatA(pa + 3 * lda);     c30 = fma(c30, x, b0); c31 = fma(c31, x, b1);
    }
    const pc = c + (<usize>j << 2);
    v128.store(pc, c00); v128.store(pc, c01, 16);
    v128.store(pc + ldb, c10); v128.store(pc + ldb, c11, 16);
    v128.store(pc + 2 * ldb, c20); v128.store(pc + 2 * ldb, c21, 16);
    v128.store(pc + 3 * ldb, c30); v128.store(pc + 3 * ldb, c31, 16);
  }
  for (; j + 4 <= n; j += 4) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) {
      const b0 = v128.load(pb);
      c0 = fma(c0, splatA(pa), b0);
      c1 = fma(c1, splatA(pa + lda), b0);
      c2 = fma(c2, splatA(pa + 2 * lda), b0);
      c3 = fma(c3, splatA(pa + 3 * lda), b0);
    }
    const pc = c + (<usize>j << 2);
    v128.store(pc, c0); v128.store(pc + ldb, c1); v128.store(pc + 2 * ldb, c2); v128.store(pc + 3 * ldb, c3);
  }
  for (; j < n; j++) {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) {
      const y = load<f32>(pb);
      s0 += load<f32>(pa) * y; s1 += load<f32>(pa + lda) * y;
      s2 += load<f32>(pa + 2 * lda) * y; s3 += load<f32>(pa + 3 * lda) * y;
    }
    const pc = c + (<usize>j << 2);
    store<f32>(pc, s0); store<f32>(pc + ldb, s1); store<f32>(pc + 2 * ldb, s2); store<f32>(pc + 3 * ldb, s3);
  }
}

/** One row of c. */
function rows1(a: usize, b: usize, c: usize, k: i32, n: i32): void {
  const ldb = <usize>n << 2;
  let j = 0;
  for (; j + 8 <= n; j += 8) {
    let c0 = f32x4.splat(0), c1 = f32x4.splat(0);
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) {
      const x = splatA(pa);
      c0 = fma(c0, x, v128.load(pb)); c1 = fma(c1, x, v128.load(pb, 16));
    }
    v128.store(c + (<usize>j << 2), c0); v128.store(c + (<usize>j << 2), c1, 16);
  }
  for (; j + 4 <= n; j += 4) {
    let c0 = f32x4.splat(0);
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) c0 = fma(c0, splatA(pa), v128.load(pb));
    v128.store(c + (<usize>j << 2), c0);
  }
  for (; j < n; j++) {
    let s: f32 = 0;
    let pb = b + (<usize>j << 2), pa = a;
    for (let p = 0; p < k; p++, pb += ldb, pa += 4) s += load<f32>(pa) * load<f32>(pb);
    store<f32>(c + (<usize>j << 2), s);
  }
}

export function f32_matmul_blocked(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  const lda = <usize>k << 2, ldc = <usize>n << 2;
  let i = 0;
  for (; i + 4 <= m; i += 4) rows4(a + <usize>i * lda, b, c + <usize>i * ldc, k, n);
  for (; i < m; i++) rows1(a + <usize>i * lda, b, c + <usize>i * ldc, k, n);
}

/** Rung 0: scalar, i-p-j order so B is read along rows. */
export function f32_matmul_naive(a: usize, b: usize, c: usize, m: i32, k: i32, n: i32): void {
  memory.fill(c, 0, <usize>m * <usize>n << 2);
  for (let i = 0; i < m; i++) {
    const pc = c + (<usize>i * <usize>n << 2);
    for (let p = 0; p < k; p++) {
      const x = load<f32>(a + ((<usize>i * <usize>k + <usize>p) << 2));
      const pb = b + (<usize>p * <usize>n << 2);
      for (let j = 0; j < n; j++) {
        const q = <usize>j << 2;
        store<f32>(pc + q, load<f32>(pc + q) + x * load<f32>(pb + q));
      }
    }
  }
}
