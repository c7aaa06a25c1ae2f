// The GEMM descriptor and blocking constants, shared by the drivers (gemm.ts, gemv.ts) and
// mirrored on the JS side by src/backend/wasm-gemm.ts (keep the two in step).
//
// A call computes, for every batch index t in [B0, B1) and every (i, j) in [M0, M1) x [N0, N1):
//   C[t][i, j] = act(sum_p A'[t][i, p] * B'[t][p, j] + bias[j])
// where A' is A (m x k, row-major) or, with TRANS_A, the transpose of a k x m matrix, and B'
// likewise (k x n, or n x k with TRANS_B). C is dense, batch-major: batch t starts at t * m * n.
// A and B of batch t start at sum_d idx_d(t) * stride_d over the collapsed batch dims (stride 0
// for a broadcast operand). The ranges let a worker pool split one product into parts that
// write disjoint pieces of C; each part needs its own workspace (WS, WS_BYTES).

/** Word offsets (i32) into the descriptor. */
export const D_A = 0, D_B = 1, D_C = 2, D_BIAS = 3;
export const D_M = 4, D_K = 5, D_N = 6, D_TRANS = 7, D_ACT = 8;
export const D_M0 = 9, D_M1 = 10, D_N0 = 11, D_N1 = 12, D_B0 = 13, D_B1 = 14;
export const D_WS = 15, D_WS_BYTES = 16;
export const D_BRANK = 17, D_BSHAPE = 18, D_ASTRIDE = 24, D_BSTRIDE = 30;
export const MAX_BATCH_RANK = 6;
export const DESC_WORDS = 36;

export const TRANS_A = 1, TRANS_B = 2;

/** Activation ids (src/ops/activation.ts names them). 0 is none. */
export const ACT_NONE = 0, ACT_RELU = 1;

/** Register tile: MR rows of A per packed panel, NR = 8 columns (two f32x4) per B panel
 *  (why 4 x 8: gemm_ukernel.ts). The tile code handles at most 4 rows. */
export const MR = 4;
export const NR = 8;
/** Cache blocks: a KC x NR panel of B (8 KiB) stays in L1 while MR x KC panels of A stream
 *  from an MC x KC block (128 KiB) held in L2; the KC x NC block of B (1 MiB) lives in L3. */
export const KC = 256;
export const MC = 128;
export const NC = 1024;

/** Workspace layout, in bytes from WS: packed A block, packed B block, an edge tile, a bias tail. */
export const WS_PACK_A = 0;
export const WS_PACK_B = WS_PACK_A + MC * KC * 4;
export const WS_TILE = WS_PACK_B + KC * NC * 4;
export const WS_BIAS = WS_TILE + MR * NR * 4;
export const WS_TOTAL = WS_BIAS + NR * 4;

// @ts-ignore: decorator
@inline export function descWord(desc: usize, w: i32): i32 {
  return load<i32>(desc + (<usize>w << 2));
}

/** Element offsets of A and B for batch index t (row-major over the collapsed batch dims). */
// @ts-ignore: decorator
@inline export function batchOffset(desc: usize, t: i32, strideWord: i32): usize {
  const rank = descWord(desc, D_BRANK);
  let off: usize = 0, rem = t;
  for (let d = rank - 1; d >= 0; d--) {
    const ext = descWord(desc, D_BSHAPE + d);
    off += <usize>(rem % ext) * <usize>descWord(desc, strideWord + d);
    rem /= ext;
  }
  return off;
}
