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
import type { Activation } from '../ops/activation.js';
import type { BinaryOp, CompareOp, UnaryOp } from '../ops/elementwise-spec.js';

export type DeviceKind = 'cpu' | 'gpu' | 'ref';
/**
 * The float kernels (binary, unary, reduce but argmax/argmin, matmul, softmax) take `dtype`:
 * absent or 'f32', or 'f16' when every input and the output are f16 (2 bytes per element):
 * the kernel computes in f32 (matmul accumulates in f32) and rounds each result to f16 once,
 * to nearest even (PyTorch's meaning of an f16 op).
 */
export type FloatDType = 'f32' | 'f16';
export type ReduceOp = 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin';

/** Params of each kernel, in elements. Every backend implements every kernel in this table. */
export interface KernelParams {
  /** out[i] = op(a[ia], b[ib]) over a collapsed broadcast (see ops/broadcast.ts). */
  binary: { op: BinaryOp; shape: number[]; aStrides: number[]; bStrides: number[]; dtype?: FloatDType };
  /** out[i] = op(x[i]) for i < size. */
  unary: { op: UnaryOp; size: number; dtype?: FloatDType };
  /**
   * x (f32, or f16 with dtype) viewed as [outer, reduce, inner] -> out[o, i] over r of
   * x[o, r, i]. sum and mean accept reduce = 0 (out = 0 / NaN); max, min (NaN-propagating)
   * and argmax, argmin (f32 only; i32 out, first index, NaN counts as the extreme) need
   * reduce >= 1.
   */
  reduce: { op: ReduceOp; outer: number; reduce: number; inner: number; dtype?: FloatDType };
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
    bias?: boolean; activation?: Activation; dtype?: FloatDType;
  };
  /**
   * Strided copy of elements of `itemBytes` bytes: for every index i of `shape`,
   * out[dstOffset + i.dstStrides] = in[srcOffset + i.srcStrides]. Offsets and strides are in
   * elements. Elements of out not addressed are left as they are.
   */
  copy: { itemBytes: 1 | 2 | 4; shape: number[]; srcStrides: number[]; dstStrides: number[]; srcOffset: number; dstOffset: number };
  /** softmax or log-softmax of each contiguous f32 row of n (n >= 1). */
  softmax: { rows: number; n: number; log: boolean; dtype?: FloatDType };
  /** Layer norm of each contiguous f32 row of n; inputs [x, weight?, bias?] (n-vectors). */
  layerNorm: { rows: number; n: number; eps: number; weight: boolean; bias: boolean };
  /**
   * Per-row cross-entropy of f32 logits [rows, classes] against i32 labels [rows], with label
   * smoothing. A label outside [0, classes) is an IndexError, thrown by run().
   */
  crossEntropy: { rows: number; classes: number; smoothing: number };
  /**
   * out[o, j, :] = table[o, idx[j], :], table viewed as [outer, axisLen, inner] items of
   * itemBytes, idx i32 [count]. An index outside [0, axisLen) is an IndexError.
   */
  gather: { outer: number; axisLen: number; inner: number; count: number; itemBytes: 1 | 2 | 4 };
  /** out [n, classes] of 4-byte items: oneBits at idx[i] in row i, 0 elsewhere; IndexError outside. */
  oneHot: { n: number; classes: number; oneBits: number };
  /**
   * The gradient of gather: out[o, k, :] = sum over j with idx[j] = k of g[o, j, :], g f32
   * [outer, count, inner], idx i32 [count], out f32 [outer, axisLen, inner], summed in j order
   * (deterministic). An index outside [0, axisLen) adds nothing (the gather refused it already).
   */
  scatterAdd: { outer: number; axisLen: number; inner: number; count: number };

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

  // ---- 2-D convolution and max pooling over NCHW f32 (src/ops/conv.ts; drivers: conv-driver.ts) ----
  /** y [n, o, oh, ow] = x [n, c, h, w] (*) w [o, c/groups, kh, kw] (+ bias [o]), then act: inputs [x, w, bias?]. */
  conv2d: ConvGeom & { bias?: boolean; activation?: Activation };
  /** dx [n, c, h, w] of conv2d from inputs [dy, w]. */
  conv2dInputGrad: ConvGeom;
  /** dw [o, c/groups, kh, kw] of conv2d from inputs [x, dy]. */
  conv2dWeightGrad: ConvGeom;
  /**
   * Columns of images [first, first + images) of x (one input, the whole tensor): out
   * [images, groups, kg, oh*ow] with kg = (c/groups)*kh*kw + (ones ? 1 : 0); row
   * (ci*kh + ki)*kw + kj of group g holds x[img, g*c/groups + ci, oy*sh - ph + ki*dh, ox*sw - pw + kj*dw]
   * at column oy*ow + ox (0 outside x), and with `ones` the group's last row is all 1 (a bias row).
   */
  im2col: ConvGeom & { first: number; images: number; ones: boolean };
  /**
   * The adjoint of im2col (without ones): input columns [images, c*kh*kw, oh*ow]; writes images
   * [first, first + images) of out [n, c, h, w], each pixel the sum of the columns that read it
   * (every other image of out is left as it is).
   */
  col2im: ConvGeom & { first: number; images: number };
  /** y [n, c, oh, ow] = max over each window of x [n, c, h, w] (outside x: -inf; NaN wins). */
  maxPool2d: PoolGeom;
  /** dx [n, c, h, w] from inputs [x, dy]: each dy goes to the first max of its window (PyTorch's rule). */
  maxPool2dGrad: PoolGeom;
  /**
   * GradScaler's unscale pass, in place: inputs [found] (one i32 flag), output = f32 grads,
   * read and written: grads[i] *= invScale; found is set to 1 when any grads[i] was inf or NaN
   * before scaling, and left as it was otherwise (the caller zeroes it once per step).
   */
  unscale: { size: number; invScale: number };
}

/**
 * Geometry of a 2-D window op over NCHW: windows of kh x kw taps `dh`/`dw` apart, moved by
 * sh/sw, over x padded by ph/pw on each side; oh = floor((h + 2ph - dh(kh-1) - 1) / sh) + 1.
 */
export interface PoolGeom { n: number; c: number; h: number; w: number; kh: number; kw: number; oh: number; ow: number; sh: number; sw: number; ph: number; pw: number; dh: number; dw: number }
/** A convolution's: o output channels, `groups` dividing c and o. */
export interface ConvGeom extends PoolGeom { o: number; groups: number }
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
   * Host-visible backends only (cpu, ref): the first `bytes` bytes of `buf` as a view of the
   * backend's own memory, valid until the next alloc. Lets the scheduler copy ready host data to
   * another device synchronously.
   */
  readSync?(buf: Buf, bytes: number): Uint8Array;
  /**
   * Run one kernel; `inputs` are read, `output` is written entirely. In-place kernels (the
   * optimizer updates) read `output` too and also write the inputs their params doc names.
   */
  run<K extends KernelName>(kernel: K, inputs: Buf[], output: Buf, params: KernelParams[K]): void;
  /** Release everything this backend holds. */
  destroy(): void;
}
