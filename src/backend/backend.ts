/**
 * The backend seam. A backend knows buffers and kernels, never ops, shapes or autograd: ops
 * (src/ops) turn a user's call into one kernel call with plain numeric params, and a backend
 * runs it. Buffers are opaque handles owned by the backend that made them.
 *
 * Ordering guarantee: calls on one backend take effect in the order they are made. A `read`
 * sees every `write` and `run` issued before it, even though it resolves later; a `free`
 * issued after a `run` never disturbs that run.
 */
import type { DType } from '../dtype.js';
import type { BinaryOp, CompareOp, UnaryOp } from '../ops/elementwise-spec.js';

export type DeviceKind = 'cpu' | 'gpu' | 'ref';

/** Params of each kernel, in elements. Every backend implements every kernel in this table. */
export interface KernelParams {
  /** out[i] = op(a[ia], b[ib]) over a collapsed broadcast (see ops/broadcast.ts). */
  binary: { op: BinaryOp; shape: number[]; aStrides: number[]; bStrides: number[] };
  /** out[i] = op(x[i]) for i < size. */
  unary: { op: UnaryOp; size: number };
  /** x viewed as [outer, reduce, inner]; out[o, i] = sum over r of x[o, r, i]. reduce may be 0. */
  sum: { outer: number; reduce: number; inner: number };
  /** Row-major c[m, n] = a[m, k] @ b[k, n]. k may be 0 (c is zeros). */
  matmul: { m: number; k: number; n: number };

  // ---- elementwise, conversion and optimizer kernels (CPU engine; not on gpu yet) ----
  /** out[i] = op(a[ia], b[ib]) as a bool byte (0 or 1), a and b f32, over a collapsed broadcast. */
  compare: { op: CompareOp; shape: number[]; aStrides: number[]; bStrides: number[] };
  /** Inputs [cond (bool), a, b (f32)]: out[i] = cond[ic] ? a[ia] : b[ib] over a collapsed broadcast. */
  where: { shape: number[]; condStrides: number[]; aStrides: number[]; bStrides: number[] };
  /** out[i] = x[i] converted from `from` to `to` (pairs: see CAST_PAIRS in ops.ts; from === to copies). */
  cast: { from: DType; to: DType; size: number };
  /** u8 [height, width, channels] -> f32 [channels, height, width]: (x / 255 - mean[c]) / std[c]; 1 <= channels <= 4. */
  normalizeImage: { height: number; width: number; channels: number; mean: number[]; std: number[] };
  /**
   * In place: inputs [grads, momentumBuffer], output = params, which is read and written, as is
   * the momentum buffer (unused, and may be omitted, when momentum is 0). torch.optim.SGD;
   * `step` counts from 1, and step 1 sets the buffer to the gradient.
   */
  sgd: { size: number; lr: number; momentum: number; dampening: number; nesterov: boolean; weightDecay: number; step: number };
  /** In place: inputs [grads, m, v], output = params; params, m and v are read and written. torch.optim.Adam; `step` from 1. */
  adam: AdamParams;
  /** As `adam`, with decoupled weight decay (torch.optim.AdamW). */
  adamw: AdamParams;
}

export interface AdamParams { size: number; lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; step: number }
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
  /**
   * Run one kernel; `inputs` are read, `output` is written entirely. In-place kernels (the
   * optimizer updates) read `output` too and also write the inputs their params doc names.
   */
  run<K extends KernelName>(kernel: K, inputs: Buf[], output: Buf, params: KernelParams[K]): void;
  /** Release everything this backend holds. */
  destroy(): void;
}
