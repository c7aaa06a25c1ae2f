/**
 * Tandem's public API. `await T.init()` first; then create tensors on 'cpu' (Wasm SIMD) or
 * 'gpu' (WebGPU) and run ops on them. 'ref' is the plain-TypeScript reference backend that
 * tests use as their oracle.
 */
import { type SumAttrs } from './ops/ops.js';
import type { Activation } from './ops/activation.js';
import { Tensor, apply } from './tensor.js';

export { init, info, shutdown, type InitOptions, type InitInfo } from './runtime.js';
export { Tensor, tensor, zeros, ones, randn, type CreateOptions } from './tensor.js';
export { DTYPES, MAX_RANK, type DType, type HostArray, type HostArrayOf, type Shape } from './dtype.js';
export type { DeviceKind as Device } from './backend/backend.js';
export type { GPUInfo } from './backend/acquire.js';
export type { Activation } from './ops/activation.js';
export * from './errors.js';

/** Elementwise a + b with NumPy broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => apply('add', [a, b]);
/** Elementwise a * b with NumPy broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', [a, b]);
/** max(x, 0), keeping NaN. */
export const relu = (x: Tensor): Tensor => apply('relu', [x]);
/** Sum of all elements (axis omitted) or along one axis; negative axes count from the end. */
export const sum = (x: Tensor, axis?: number, opts: { keepDims?: boolean } = {}): Tensor =>
  apply('sum', [x], { axis, keepDims: opts.keepDims } satisfies SumAttrs);
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
