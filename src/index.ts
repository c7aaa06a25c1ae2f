/**
 * Tandem's public API. `await T.init()` first; then create tensors on 'cpu' (Wasm SIMD) or
 * 'gpu' (WebGPU) and run ops on them. 'ref' is the plain-TypeScript reference backend that
 * tests use as their oracle.
 */
import { apply, checkInputs } from './apply.js';
import { type MultiReduceOp, reduceAxes } from './ops/reduce-axes.js';
import { ShapeError } from './errors.js';
import type { DeviceKind as Device } from './backend/backend.js';
import { checkDevice } from './create.js';
import { copyTo } from './sched/stream.js';
import { recorded } from './autograd/tape.js';
import type { DType } from './dtype.js';
import type { Activation } from './ops/activation.js';
import type { CastAttrs, NormalizeImageAttrs, ReduceAttrs } from './ops/ops.js';
import type { Tensor } from './tensor.js';

export { init, info, shutdown, type InitOptions, type InitInfo } from './runtime.js';
export { warmup, type WarmupOp } from './warmup.js';
export { Tensor } from './tensor.js';
export { tidy, keep, debugLeaks, type LeakReport } from './lifetime.js';
export { memoryStats, resetPeak, emptyCache, type DeviceMemoryStats } from './memory.js';
export { tensor, zeros, ones, randn, type CreateOptions } from './create.js';
export { reshape, permute, transpose, slice, narrow, contiguous, concat, concat as cat } from './ops/views.js';
export { save, load, loadMetadata, type StateDict } from './io/safetensors.js';
export { conv2d, maxPool2d, type Conv2dOptions, type MaxPool2dOptions } from './ops/conv.js';
export { softmax, logSoftmax, layerNorm, crossEntropy, indexSelect, embedding, oneHot, type LayerNormOptions, type CrossEntropyOptions } from './ops/nn.js';
export { DTYPES, MAX_RANK, type DType, type HostArray, type HostArrayOf, type Shape } from './dtype.js';
export type { DeviceKind as Device } from './backend/backend.js';
export type { GPUInfo } from './backend/acquire.js';
export type { Activation } from './ops/activation.js';
export * from './errors.js';
export * as datasets from './datasets/digits.js';
export { onDevice, explain, startExplain, type Placement, type Decision, type Reason } from './sched/place.js';
export type { Calibration, EngineRates, LinkRates } from './sched/cost.js';
export type { CalibrationStore } from './sched/calibrate.js';
export { startTrace, stopTrace, type TraceEvent, type TraceCategory } from './sched/trace.js';
export { calibrateNow as calibrate } from './runtime.js';
export { splitBatch, splitSizes, type SplitOptions } from './sched/parallel.js';
export { noGrad, enableGrad, isGradEnabled, setGradEnabled, checkpoint } from './autograd/index.js';
export type { BackwardOptions } from './tensor.js';

/**
 * A copy of t on `device`, returned at once and pinned there. From the gpu it is pending until
 * the readback lands: ops on it are queued behind it and `await c.data()` waits for it.
 */
export const to = (t: Tensor, device: Device): Tensor => {
  checkInputs('to', [t]);
  const c = copyTo(t, checkDevice(device, 'to'), 'to');
  c.pinned = true;
  return recorded('to', [t], c, { from: t.device }); // differentiable: the gradient goes back to t's device
};

/** Elementwise a + b with NumPy broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => apply('add', [a, b]);
/** Elementwise a * b with NumPy broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', [a, b]);
/** max(x, 0), keeping NaN. */
export const relu = (x: Tensor): Tensor => apply('relu', [x]);
type Reduce = (x: Tensor, axis?: number | readonly number[], opts?: { keepDims?: boolean }) => Tensor;
const reduce = (op: MultiReduceOp): Reduce => (x, axis, opts = {}) => Array.isArray(axis)
  ? reduceAxes(op, checked(op, x), axis, opts.keepDims ?? false)
  : apply(op, [x], { axis: axis as number | undefined, keepDims: opts.keepDims } satisfies ReduceAttrs);
type ArgReduce = (x: Tensor, axis?: number, opts?: { keepDims?: boolean }) => Tensor;
const argReduce = (op: 'argmax' | 'argmin'): ArgReduce =>
  (x, axis, opts = {}) => {
    if (Array.isArray(axis)) throw new ShapeError(`${op}: takes one axis (or none), got [${axis.join(', ')}]`);
    return apply(op, [x], { axis, keepDims: opts.keepDims } satisfies ReduceAttrs);
  };
const checked = (op: string, x: Tensor): Tensor => { checkInputs(op, [x]); return x; };
/** Sum over all elements (axis omitted), along one axis, or over a list of axes; negative axes count from the end. */
export const sum: Reduce = reduce('sum');
/** Mean over all elements, one axis or a list of axes (NaN for an empty axis, as in PyTorch). */
export const mean: Reduce = reduce('mean');
/** Largest value over all elements, one axis or a list of axes; NaN propagates. */
export const max: Reduce = reduce('max');
/** Smallest value over all elements, one axis or a list of axes; NaN propagates. */
export const min: Reduce = reduce('min');
/** i32 index of the first largest value (NaN counts as largest) along one axis; over all elements it is a flat index. */
export const argmax: ArgReduce = argReduce('argmax');
/** i32 index of the first smallest value (NaN counts as smallest). */
export const argmin: ArgReduce = argReduce('argmin');
export interface MatmulOptions {
  /** Use the transpose of a's (or b's) last two dimensions; free: the kernels transpose while packing. */
  transposeA?: boolean;
  transposeB?: boolean;
}
/**
 * Matrix product with torch.matmul's semantics: [..., m, k] @ [..., k, n] -> [..., m, n] with
 * batch dimensions broadcast; a 1-D a is a row vector and a 1-D b a column vector (their
 * dimension is dropped from the result; two 1-D operands give a 0-D dot product).
 */
export const matmul = (a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor =>
  apply('matmul', [a, b], { transposeA: opts.transposeA, transposeB: opts.transposeB });
/**
 * The fused form: act(x @ w^T + bias) in one kernel, as torch.nn.functional.linear (then the
 * activation). x [..., in], w [out, in], bias [out] or null; activation 'none' (default) or 'relu'.
 */
export const linear = (x: Tensor, w: Tensor, bias?: Tensor | null, opts: { activation?: Activation } = {}): Tensor =>
  bias != null ? apply('linear', [x, w, bias], { activation: opts.activation }) : apply('matmul', [x, w], { transposeB: true, activation: opts.activation, name: 'linear' });

// ---- elementwise math, comparisons, where, casts, image preprocessing (PyTorch meanings) ----
// f32 in, f32 out unless stated; binary ops and comparisons broadcast like NumPy.

/** -x. */
export const neg = (x: Tensor): Tensor => apply('neg', [x]);
/** |x|. */
export const abs = (x: Tensor): Tensor => apply('abs', [x]);
/** e^x; overflows to Infinity, underflows to 0. */
export const exp = (x: Tensor): Tensor => apply('exp', [x]);
/** Natural log; log(0) = -Infinity, log(x < 0) = NaN. */
export const log = (x: Tensor): Tensor => apply('log', [x]);
/** Square root; sqrt(x < 0) = NaN. */
export const sqrt = (x: Tensor): Tensor => apply('sqrt', [x]);
/** 1 / sqrt(x). */
export const rsqrt = (x: Tensor): Tensor => apply('rsqrt', [x]);
/** Hyperbolic tangent. */
export const tanh = (x: Tensor): Tensor => apply('tanh', [x]);
/** 1 / (1 + e^-x). */
export const sigmoid = (x: Tensor): Tensor => apply('sigmoid', [x]);
/** GELU, tanh approximation (PyTorch's `approximate='tanh'`). */
export const gelu = (x: Tensor): Tensor => apply('gelu', [x]);
/** x * sigmoid(x) (SiLU, swish). */
export const silu = (x: Tensor): Tensor => apply('silu', [x]);
/** a - b. */
export const sub = (a: Tensor, b: Tensor): Tensor => apply('sub', [a, b]);
/** a / b (true division). */
export const div = (a: Tensor, b: Tensor): Tensor => apply('div', [a, b]);
/** Elementwise maximum; NaN if either is NaN. */
export const maximum = (a: Tensor, b: Tensor): Tensor => apply('maximum', [a, b]);
/** Elementwise minimum; NaN if either is NaN. */
export const minimum = (a: Tensor, b: Tensor): Tensor => apply('minimum', [a, b]);
/** a ** b with torch.pow's special cases (pow(x, 0) = 1; a negative base needs an integer exponent). */
export const pow = (a: Tensor, b: Tensor): Tensor => apply('pow', [a, b]);
/** a == b, as a bool tensor. */
export const eq = (a: Tensor, b: Tensor): Tensor => apply('eq', [a, b]);
/** a != b, as a bool tensor (true where either is NaN). */
export const ne = (a: Tensor, b: Tensor): Tensor => apply('ne', [a, b]);
/** a < b, as a bool tensor. */
export const lt = (a: Tensor, b: Tensor): Tensor => apply('lt', [a, b]);
/** a <= b, as a bool tensor. */
export const le = (a: Tensor, b: Tensor): Tensor => apply('le', [a, b]);
/** a > b, as a bool tensor. */
export const gt = (a: Tensor, b: Tensor): Tensor => apply('gt', [a, b]);
/** a >= b, as a bool tensor. */
export const ge = (a: Tensor, b: Tensor): Tensor => apply('ge', [a, b]);
/** cond ? a : b elementwise; cond is bool, a and b f32, all three broadcast together. */
export const where = (cond: Tensor, a: Tensor, b: Tensor): Tensor => apply('where', [cond, a, b]);
/**
 * A copy converted to `dtype`: f32 <-> f16 (round to nearest even), i32 -> f32, f32 -> i32
 * (toward zero; out of range saturates, NaN becomes 0), u8 / bool -> f32, or to its own dtype.
 */
export const cast = (x: Tensor, dtype: DType): Tensor => apply('cast', [x], { dtype } satisfies CastAttrs);
/**
 * A u8 image [H, W, C] (C from 1 to 4) to f32 [C, H, W] with out[c] = (x / 255 - mean[c]) / std[c],
 * like torchvision's ToTensor followed by Normalize.
 */
export const normalizeImage = (image: Tensor, opts: NormalizeImageAttrs): Tensor =>
  apply('normalizeImage', [image], { mean: opts?.mean, std: opts?.std } satisfies Partial<NormalizeImageAttrs>);

// ---- training: modules and losses, optimizers, mixed precision (issue 7) ----
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as amp from './amp/index.js';
// ---- data loading (issue 8) ----
export * as data from './data/index.js';
export { autocast } from './amp/autocast.js';
