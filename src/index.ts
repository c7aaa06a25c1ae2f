/**
 * Tandem's public API. `await T.init()` first; then create tensors on 'cpu' (Wasm SIMD) or
 * 'gpu' (WebGPU) and run ops on them. 'ref' is the plain-TypeScript reference backend that
 * tests use as their oracle.
 */
import { apply } from './apply.js';
import type { ReduceAttrs } from './ops/ops.js';
import type { Tensor } from './tensor.js';

export { init, info, shutdown, type InitOptions, type InitInfo } from './runtime.js';
export { Tensor } from './tensor.js';
export { tensor, zeros, ones, randn, type CreateOptions } from './create.js';
export { reshape, permute, transpose, slice, narrow, contiguous, concat, concat as cat } from './ops/views.js';
export { softmax, logSoftmax, layerNorm, crossEntropy, indexSelect, embedding, oneHot, type LayerNormOptions, type CrossEntropyOptions } from './ops/nn.js';
export { DTYPES, MAX_RANK, type DType, type HostArray, type HostArrayOf, type Shape } from './dtype.js';
export type { DeviceKind as Device } from './backend/backend.js';
export type { GPUInfo } from './backend/acquire.js';
export * from './errors.js';

/** Elementwise a + b with NumPy broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => apply('add', [a, b]);
/** Elementwise a * b with NumPy broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', [a, b]);
/** max(x, 0), keeping NaN. */
export const relu = (x: Tensor): Tensor => apply('relu', [x]);
type Reduce = (x: Tensor, axis?: number, opts?: { keepDims?: boolean }) => Tensor;
const reduce = (op: 'sum' | 'mean' | 'max' | 'min' | 'argmax' | 'argmin'): Reduce =>
  (x, axis, opts = {}) => apply(op, [x], { axis, keepDims: opts.keepDims } satisfies ReduceAttrs);
/** Sum over all elements (axis omitted) or along one axis; negative axes count from the end. */
export const sum: Reduce = reduce('sum');
/** Mean over all elements or along one axis (NaN for an empty axis, as in PyTorch). */
export const mean: Reduce = reduce('mean');
/** Largest value over all elements or along one axis; NaN propagates. */
export const max: Reduce = reduce('max');
/** Smallest value over all elements or along one axis; NaN propagates. */
export const min: Reduce = reduce('min');
/** i32 index of the first largest value (NaN counts as largest); over all elements it is a flat index. */
export const argmax: Reduce = reduce('argmax');
/** i32 index of the first smallest value (NaN counts as smallest). */
export const argmin: Reduce = reduce('argmin');
/** 2-D matrix product a[m, k] @ b[k, n]. */
export const matmul = (a: Tensor, b: Tensor): Tensor => apply('matmul', [a, b]);
