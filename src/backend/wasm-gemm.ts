/**
 * The JS half of the Wasm GEMM contract: writes the descriptor that assembly/gemm.ts reads
 * (word layout mirrored from assembly/gemm_desc.ts; keep the two in step). One descriptor
 * describes one part of one matmul: the full ranges here.
 *
 * Splitting for a worker pool: give each worker its own descriptor (36 words) and its own
 * workspace of f32_gemm_workspace_bytes() bytes, with the same pointers and shape and a
 * disjoint range: rows [M0, M1) (best in multiples of 4, the register tile's height), columns
 * [N0, N1) (multiples of 8), or batches [B0, B1). Parts write disjoint pieces of C and read
 * only A, B and the bias, so they need no synchronisation beyond waiting for all of them
 * (tests/matmul-api.test.ts checks this contract). Row splits repack the B block per part;
 * column splits repack A, which is the cheaper side when m < n.
 */
import { ACTIVATIONS } from '../ops/activation.js';
import type { KernelParams } from './backend.js';

export const D_M0_WORD = 9;
const D_A = 0, D_B = 1, D_C = 2, D_BIAS = 3, D_M = 4, D_K = 5, D_N = 6, D_TRANS = 7, D_ACT = 8;
const D_M0 = D_M0_WORD, D_M1 = 10, D_N0 = 11, D_N1 = 12, D_B0 = 13, D_B1 = 14, D_WS = 15, D_WS_BYTES = 16;
const D_BRANK = 17, D_BSHAPE = 18, D_ASTRIDE = 24, D_BSTRIDE = 30;
export const GEMM_DESC_BYTES = 36 * 4;
export const MAX_BATCH_RANK = 6;

export interface GemmPointers { a: number; b: number; c: number; bias: number; ws: number; wsBytes: number }

/** Write the descriptor of the whole product `p` at byte offset `at` of `mem`. */
export function writeGemmDesc(mem: Int32Array, at: number, p: KernelParams['matmul'], ptr: GemmPointers): void {
  const shape = p.batchShape ?? [], as = p.aBatchStrides ?? [], bs = p.bBatchStrides ?? [];
  if (shape.length > MAX_BATCH_RANK) throw new RangeError(`matmul: ${shape.length} collapsed batch dims; the Wasm kernel takes at most ${MAX_BATCH_RANK}`);
  const batches = shape.reduce((x, y) => x * y, 1);
  const d = new Int32Array(mem.buffer, at, GEMM_DESC_BYTES >>> 2);
  d.fill(0);
  d[D_A] = ptr.a; d[D_B] = ptr.b; d[D_C] = ptr.c; d[D_BIAS] = p.bias ? ptr.bias : 0;
  d[D_M] = p.m; d[D_K] = p.k; d[D_N] = p.n;
  d[D_TRANS] = (p.transposeA ? 1 : 0) | (p.transposeB ? 2 : 0);
  d[D_ACT] = ACTIVATIONS[p.activation ?? 'none'].id;
  d[D_M0] = 0; d[D_M1] = p.m; d[D_N0] = 0; d[D_N1] = p.n; d[D_B0] = 0; d[D_B1] = batches;
  d[D_WS] = ptr.ws; d[D_WS_BYTES] = ptr.wsBytes;
  d[D_BRANK] = shape.length;
  d.set(shape, D_BSHAPE); d.set(as, D_ASTRIDE); d.set(bs, D_BSTRIDE);
}

/** Narrow the descriptor at `at` to rows, columns or batches [lo, hi) (see the header). */
export function setGemmRange(mem: Int32Array, at: number, axis: 'rows' | 'cols' | 'batch', lo: number, hi: number): void {
  const w = (at >>> 2) + (axis === 'rows' ? D_M0 : axis === 'cols' ? D_N0 : D_B0);
  mem[w] = lo;
  mem[w + 1] = hi;
}
