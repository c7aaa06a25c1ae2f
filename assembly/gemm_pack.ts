// Packing for the GEMM driver (gemm.ts). Packing copies a block of an operand into the order
// the microkernels read it (gemm_ukernel.ts), applying the transpose on the way, so one set
// of kernels serves every transpose combination, and zero-pads panel tails so the kernels
// never branch on them. Element (row, col) of a logical operand X' stored as x with leading
// dimension ld is x[row * ld + col], or x[col * ld + row] when transposed.
import { MR } from './gemm_desc';

// @ts-ignore: decorator
@inline function at(x: usize, ld: i32, trans: bool, row: i32, col: i32): usize {
  return x + ((trans ? <usize>col * <usize>ld + <usize>row : <usize>row * <usize>ld + <usize>col) << 2);
}

/** [a0 a1 a2 a3] x4 rows -> columns (a 4x4 transpose in registers). Stores column q at d + q*step. */
// @ts-ignore: decorator
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, d: usize, step: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d + step, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(d + 2 * step, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(d + 3 * step, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/**
 * Rows [i0, i0 + mc) x k-range [p0, p0 + kc) of A' into panels of MR rows: panel q (rows
 * i0 + q*MR ...) starts at dst + q*MR*kc floats and holds, for each k step, MR consecutive
 * floats (rows past mc are zeros).
 */
export function packA(a: usize, lda: i32, trans: bool, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  const step = <usize>MR << 2;
  for (let q = 0; q < mc; q += MR) {
    const rows = min(MR, mc - q);
    const d = dst + (<usize>q * <usize>kc << 2);
    const i = i0 + q;
    if (trans) {
      // A'(i, p) = a[p*lda + i]: each k step is a contiguous run of rows.
      if (rows == 4 && MR == 4) {
        for (let p = 0; p < kc; p++) v128.store(d + <usize>p * step, v128.load(at(a, lda, true, i, p0 + p)));
      } else {
        for (let p = 0; p < kc; p++) {
          const src = at(a, lda, true, i, p0 + p), o = d + <usize>p * step;
          for (let r = 0; r < MR; r++) store<f32>(o + (<usize>r << 2), r < rows ? load<f32>(src + (<usize>r << 2)) : 0);
        }
      }
      continue;
    }
    // A'(i, p) = a[i*lda + p]: rows are contiguous in k; transpose 4x4 blocks.
    let p = 0;
    if (rows == 4 && MR == 4) {
      const s0 = at(a, lda, false, i, p0), ld = <usize>lda << 2;
      for (; p + 4 <= kc; p += 4) {
        const s = s0 + (<usize>p << 2);
        transpose4(v128.load(s), v128.load(s + ld), v128.load(s + 2 * ld), v128.load(s + 3 * ld), d + <usize>p * step, step);
      }
    }
    for (; p < kc; p++) {
      const o = d + <usize>p * step;
      for (let r = 0; r < MR; r++) store<f32>(o + (<usize>r << 2), r < rows ? load<f32>(at(a, lda, false, i + r, p0 + p)) : 0);
    }
  }
}

/**
 * k-range [p0, p0 + kc) x columns [j0, j0 + nc) of B' into panels of 8 columns: panel q
 * (columns j0 + 8q ...) starts at dst + 8*q*kc floats and holds, per k step, 8 floats, or 4
 * when it is the last panel and 4 or fewer columns remain (the x4 kernels read those);
 * columns past nc are zeros. `panelWidth` gives a panel's width.
 */
export function packB(b: usize, ldb: i32, trans: bool, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  for (let jr = 0; jr < nc; jr += 8) {
    const w = min(8, nc - jr), pw = panelWidth(w);
    const d = dst + (<usize>jr * <usize>kc << 2), step = <usize>pw << 2;
    const j = j0 + jr;
    let p = 0;
    if (!trans) {
      // B'(p, j) = b[p*ldb + j]: each k step is a contiguous run of columns.
      if (w == 8) {
        for (; p < kc; p++) {
          const s = at(b, ldb, false, p0 + p, j), o = d + (<usize>p << 5);
          v128.store(o, v128.load(s)); v128.store(o, v128.load(s, 16), 16);
        }
      } else if (w == 4) {
        for (; p < kc; p++) v128.store(d + (<usize>p << 4), v128.load(at(b, ldb, false, p0 + p, j)));
      }
    } else if (w == 8 || w == 4) {
      // B'(p, j) = b[j*ldb + p]: columns are contiguous in k; transpose 4x4 blocks.
      const ld = <usize>ldb << 2;
      for (; p + 4 <= kc; p += 4) {
        for (let h = 0; h < w; h += 4) {
          const s = at(b, ldb, true, p0 + p, j + h);
          transpose4(v128.load(s), v128.load(s + ld), v128.load(s + 2 * ld), v128.load(s + 3 * ld), d + <usize>p * step + (<usize>h << 2), step);
        }
      }
    }
    for (; p < kc; p++) {
      const o = d + <usize>p * step;
      for (let c = 0; c < pw; c++) store<f32>(o + (<usize>c << 2), c < w ? load<f32>(at(b, ldb, trans, p0 + p, j + c)) : 0);
    }
  }
}

/** Width of a B panel holding `w` (1..8) real columns: 4 when they fit in one f32x4, else 8. */
// @ts-ignore: decorator
@inline export function panelWidth(w: i32): i32 {
  return w > 4 ? 8 : 4;
}
