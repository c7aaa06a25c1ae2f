// f32 GEMM, rung 2 of the matmul ladder (rungs 0 and 1 are in matmul.ts): batched, either
// operand transposed, with a fused bias + activation epilogue. See gemm_desc.ts for the
// descriptor (what a call computes, and the sub-range a worker can be given).
//
// Plan of one product (the BLIS loop nest): for each NC-wide block of columns and each KC-deep
// block of k, pack that block of B' into 8-column panels (gemm_pack.ts); for each MC-tall
// block of rows pack A' into MR-row panels; then run the MR x 8 microkernel over every
// (panel of B, panel of A) pair, B's panel outermost so it stays in L1. C accumulates across
// k blocks in place; the epilogue runs with the last k block while the tile is in registers.
// Shape picks the path:
//   m == 1 or n == 1     -> gemv.ts (nothing is packed; each element is used once);
//   one row panel, B' not transposed -> B is read in place (packing it would be a full copy
//                           of B for a single use), only A and column tails are packed;
//   n tail of 1..4       -> x4 kernels on a 4-wide panel; rows tail -> ROWS x 8 kernels.
// Edge tiles narrower than their panel go through a scratch tile in the workspace, and their
// bias through a zero-padded copy, so the kernels never read or write past C or the bias.
import {
  D_A, D_ACT, D_ASTRIDE, D_B, D_B0, D_B1, D_BIAS, D_BSTRIDE, D_C, D_K, D_M, D_M0, D_M1, D_N, D_N0, D_N1,
  D_TRANS, D_WS, D_WS_BYTES, KC, MC, MR, NC, NR, TRANS_A, TRANS_B, WS_BIAS, WS_PACK_A, WS_PACK_B, WS_TILE, WS_TOTAL,
  batchOffset, descWord,
} from './gemm_desc';
import { packA, packB, panelWidth } from './gemm_pack';
import { activateScalar, F_FINAL, F_LOAD, ukernel } from './gemm_ukernel';
import { gemvAxpy, gemvDot } from './gemv';

/** Bytes of workspace one f32_gemm call needs (WS_BYTES must be at least this). */
export function f32_gemm_workspace_bytes(): i32 {
  return WS_TOTAL;
}

export function f32_gemm(desc: usize): void {
  const m = descWord(desc, D_M), k = descWord(desc, D_K), n = descWord(desc, D_N);
  const m0 = descWord(desc, D_M0), m1 = descWord(desc, D_M1), n0 = descWord(desc, D_N0), n1 = descWord(desc, D_N1);
  const t0 = descWord(desc, D_B0), t1 = descWord(desc, D_B1);
  if (m0 >= m1 || n0 >= n1 || t0 >= t1) return;
  if (descWord(desc, D_WS_BYTES) < WS_TOTAL) unreachable(); // the caller sized the workspace wrong
  const trans = descWord(desc, D_TRANS);
  const a = <usize>descWord(desc, D_A), b = <usize>descWord(desc, D_B), c = <usize>descWord(desc, D_C);
  const bias = <usize>descWord(desc, D_BIAS), act = descWord(desc, D_ACT), ws = <usize>descWord(desc, D_WS);
  for (let t = t0; t < t1; t++) {
    const pa = a + (batchOffset(desc, t, D_ASTRIDE) << 2), pb = b + (batchOffset(desc, t, D_BSTRIDE) << 2);
    const pc = c + (<usize>t * <usize>m * <usize>n << 2);
    gemmOne(pa, pb, pc, bias, act, m, k, n, (trans & TRANS_A) != 0, (trans & TRANS_B) != 0, m0, m1, n0, n1, ws);
  }
}

function gemmOne(a: usize, b: usize, c: usize, bias: usize, act: i32, m: i32, k: i32, n: i32, tA: bool, tB: bool,
  m0: i32, m1: i32, n0: i32, n1: i32, ws: usize): void {
  if (k == 0) { epilogueOnly(c, bias, act, n, m0, m1, n0, n1); return; }
  // The vector operand of a gemv is contiguous whatever the transpose flag (its other extent is 1).
  if (m == 1) {
    if (tB) gemvDot(a, b, k, k, c, n0, n1, bias, 1, act);
    else gemvAxpy(a, b, n, k, c, n0, n1, bias, 1, act);
    return;
  }
  if (n == 1) {
    if (tA) gemvAxpy(b, a, m, k, c, m0, m1, bias, 0, act);
    else gemvDot(b, a, k, k, c, m0, m1, bias, 0, act);
    return;
  }
  const lda = tA ? m : k, ldb = tB ? k : n, ldc = <usize>n << 2;
  const bufA = ws + WS_PACK_A, bufB = ws + WS_PACK_B, tileBuf = ws + WS_TILE, biasBuf = ws + WS_BIAS;
  const direct = !tB && m1 - m0 <= MR;
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      const flags = (pc > 0 ? F_LOAD : 0) | (pc + kc >= k ? F_FINAL : 0);
      if (!direct) packB(b, ldb, tB, pc, kc, jc, nc, bufB);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(a, lda, tA, ic, mc, pc, kc, bufA);
        for (let jr = 0; jr < nc; jr += NR) {
          const w = min(NR, nc - jr), pw = panelWidth(w), wide = pw == 8;
          let pb: usize, bs: usize;
          if (!direct) { pb = bufB + (<usize>jr * <usize>kc << 2); bs = <usize>pw << 2; }
          else if (w == pw) { pb = b + ((<usize>pc * <usize>ldb + <usize>(jc + jr)) << 2); bs = <usize>ldb << 2; }
          else { packB(b, ldb, false, pc, kc, jc + jr, w, bufB); pb = bufB; bs = <usize>pw << 2; }
          let pbias: usize = 0;
          if (bias != 0 && (flags & F_FINAL)) {
            pbias = bias + (<usize>(jc + jr) << 2);
            if (w < pw) {
              for (let q = 0; q < pw; q++) store<f32>(biasBuf + (<usize>q << 2), q < w ? load<f32>(pbias + (<usize>q << 2)) : 0);
              pbias = biasBuf;
            }
          }
          for (let ir = 0; ir < mc; ir += MR) {
            const rows = min(MR, mc - ir);
            const pa = bufA + (<usize>ir * <usize>kc << 2);
            const ct = c + ((<usize>(ic + ir) * <usize>n + <usize>(jc + jr)) << 2);
            if (w == pw) {
              ukernel(rows, wide, kc, pa, pb, bs, ct, ldc, flags, pbias, act);
            } else {
              if (flags & F_LOAD) copyTile(ct, ldc, tileBuf, NR << 2, rows, w);
              ukernel(rows, wide, kc, pa, pb, bs, tileBuf, NR << 2, flags, pbias, act);
              copyTile(tileBuf, NR << 2, ct, ldc, rows, w);
            }
          }
        }
      }
    }
  }
}

function copyTile(src: usize, lds: usize, dst: usize, ldd: usize, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) memory.copy(dst + <usize>r * ldd, src + <usize>r * lds, <usize>cols << 2);
}

/** k == 0: C = act(bias) (or act(0)) over the range. */
function epilogueOnly(c: usize, bias: usize, act: i32, n: i32, m0: i32, m1: i32, n0: i32, n1: i32): void {
  for (let i = m0; i < m1; i++) {
    for (let j = n0; j < n1; j++) {
      const v: f32 = bias != 0 ? load<f32>(bias + (<usize>j << 2)) : 0;
      store<f32>(c + ((<usize>i * <usize>n + <usize>j) << 2), activateScalar(v, act));
    }
  }
}

/**
 * Scalar twin of f32_gemm: the same descriptor and result contract (workspace unused), as a
 * plain loop nest accumulating in f32 in k order.
 */
export function f32_gemm__scalar(desc: usize): void {
  const m = descWord(desc, D_M), k = descWord(desc, D_K), n = descWord(desc, D_N);
  const m0 = descWord(desc, D_M0), m1 = descWord(desc, D_M1), n0 = descWord(desc, D_N0), n1 = descWord(desc, D_N1);
  const trans = descWord(desc, D_TRANS), tA = (trans & TRANS_A) != 0, tB = (trans & TRANS_B) != 0;
  const bias = <usize>descWord(desc, D_BIAS), act = descWord(desc, D_ACT);
  // Element steps of A'(i, p) along i and p, and of B'(p, j) along p and j.
  const ai: usize = tA ? 1 : <usize>k, ap: usize = tA ? <usize>m : 1;
  const bp: usize = tB ? 1 : <usize>n, bj: usize = tB ? <usize>k : 1;
  for (let t = descWord(desc, D_B0); t < descWord(desc, D_B1); t++) {
    const a = <usize>descWord(desc, D_A) + (batchOffset(desc, t, D_ASTRIDE) << 2);
    const b = <usize>descWord(desc, D_B) + (batchOffset(desc, t, D_BSTRIDE) << 2);
    const c = <usize>descWord(desc, D_C) + (<usize>t * <usize>m * <usize>n << 2);
    for (let i = m0; i < m1; i++) {
      for (let j = n0; j < n1; j++) {
        let s: f32 = 0;
        for (let p = 0; p < k; p++) s += load<f32>(a + ((<usize>i * ai + <usize>p * ap) << 2)) * load<f32>(b + ((<usize>p * bp + <usize>j * bj) << 2));
        if (bias != 0) s += load<f32>(bias + (<usize>j << 2));
        store<f32>(c + ((<usize>i * <usize>n + <usize>j) << 2), activateScalar(s, act));
      }
    }
  }
}
