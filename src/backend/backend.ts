/**
 * The backend seam. A backend knows buffers and kernels, never ops, shapes or autograd: ops
 * (src/ops) turn a user's call into one kernel call with plain numeric params, and a backend
 * runs it. Buffers are opaque handles owned by the backend that made them.
 *
 * Ordering guarantee: calls on one backend take effect in the order they are made. A `read`
 * sees every `write` and `run` issued before it, even though it resolves later; a `free`
 * issued after a `run` never disturbs that run.
 */
import type { Activation } from '../ops/activation.js';
import type { BinaryOp, UnaryOp } from '../ops/elementwise-spec.js';

export type DeviceKind = 'cpu' | 'gpu' | 'ref';

/** Params of each kernel, in elements. Every backend implements every kernel in this table. */
export interface KernelParams {
  /** out[i] = op(a[ia], b[ib]) over a collapsed broadcast (see ops/broadcast.ts). */
  binary: { op: BinaryOp; shape: number[]; aStrides: number[]; bStrides: number[] };
  /** out[i] = op(x[i]) for i < size. */
  unary: { op: UnaryOp; size: number };
  /** x viewed as [outer, reduce, inner]; out[o, i] = sum over r of x[o, r, i]. reduce may be 0. */
  sum: { outer: number; reduce: number; inner: number };
  /**
   * Batched matrix product with a fused epilogue, for t < prod(batchShape), i < m, j < n:
   *   out[t][i, j] = act(sum over p < k of A'[t][i, p] * B'[t][p, j]  + bias[j])
   * A' is a[m, k] row-major, or with transposeA the transpose of a stored [k, m]; B' is
   * b[k, n], or with transposeB the transpose of a stored [n, k]. Batch t of a starts at
   * sum_d idx_d(t) * aBatchStrides[d] elements (0 where a is broadcast; the collapsed form of
   * ops/broadcast.ts), likewise b; out is dense [batch, m, n]. Inputs are [a, b], plus the
   * bias (n values) as a third input when `bias` is set. k may be 0: out = act(bias or 0).
   * Absent fields mean: no transpose, one batch, no bias, activation 'none'.
   */
  matmul: {
    m: number; k: number; n: number;
    transposeA?: boolean; transposeB?: boolean;
    batchShape?: number[]; aBatchStrides?: number[]; bBatchStrides?: number[];
    bias?: boolean; activation?: Activation;
  };
}
export type KernelName = keyof KernelParams;

export interface Backend<Buf = unknown> {
  readonly kind: DeviceKind;
  /** A buffer of at least `bytes` bytes; its contents are unspecified until written. */
  alloc(bytes: number): Buf;
  free(buf: Buf): void;
  /** Copy host bytes (any typed array) into the start of `buf`. */
  write(buf: Buf, data: ArrayBufferView): void;
  /** The first `bytes` bytes of `buf`, as a fresh array the caller owns. */
  read(buf: Buf, bytes: number): Promise<Uint8Array>;
  /** Run one kernel; `inputs` are read, `output` is written entirely. */
  run<K extends KernelName>(kernel: K, inputs: Buf[], output: Buf, params: KernelParams[K]): void;
  /** Release everything this backend holds. */
  destroy(): void;
}
