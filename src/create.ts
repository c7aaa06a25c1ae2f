/** Making tensors from host data: tensor, zeros, ones, randn. */
import type { DeviceKind } from './backend/backend.js';
import { type DType, checkDType, checkShape, fmtShape, numel } from './dtype.js';
import { DTypeError, DeviceError, ShapeError, TandemError } from './errors.js';
import { type HostData, inferDType, toStorage } from './host.js';
import { Rng } from './random.js';
import { type Tensor, createTensor as create } from './tensor.js';

const DEVICES: readonly DeviceKind[] = ['cpu', 'gpu', 'ref'];

export interface CreateOptions {
  dtype?: DType;
  /** Where the tensor lives (default 'cpu'). Naming it pins the tensor: see README, placement. */
  device?: DeviceKind;
}

export function checkDevice(device: unknown, op: string): DeviceKind {
  if (device === undefined) return 'cpu';
  if (!DEVICES.includes(device as DeviceKind)) throw new DeviceError(`${op}: unknown device ${JSON.stringify(device)}; use 'cpu' or 'gpu'`);
  return device as DeviceKind;
}

/**
 * A tensor from values (a typed array, number[] or boolean[]), row-major. Shape defaults to
 * [length]; dtype defaults to what the data implies (Int32Array -> i32, Uint8Array -> u8,
 * boolean[] -> bool, otherwise f32). Values a dtype cannot hold are an error, never wrapped.
 */
export function tensor(data: HostData, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  const isArrayLike = Array.isArray(data) || (ArrayBuffer.isView(data) && !(data instanceof DataView));
  if (!isArrayLike) throw new TandemError(`tensor: data must be a typed array or an array of numbers, got ${data === null ? 'null' : typeof data}`);
  const s = checkShape(shape ?? [data.length], 'tensor');
  if (numel(s) !== data.length) {
    throw new ShapeError(`tensor: data has ${data.length} elements but shape ${fmtShape(s)} needs ${numel(s)}`);
  }
  const dtype = checkDType(opts.dtype, 'tensor', inferDType(data));
  const device = checkDevice(opts.device, 'tensor');
  const storage = toStorage(data, dtype, 'tensor'); // validate before touching the device
  return create(s, dtype, device, 'tensor', () => storage, opts.device !== undefined);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled(shape, opts, 'zeros', 0);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled(shape, opts, 'ones', 1);
}

/** Standard normal values; a seed gives the same values on every device and runtime. */
export function randn(shape: readonly number[], opts: CreateOptions & { seed?: number } = {}): Tensor {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isFinite(seed)) throw new TandemError(`randn: seed must be a finite number, got ${seed}`);
  const dtype = checkDType(opts.dtype, 'randn');
  if (dtype !== 'f32' && dtype !== 'f16') throw new DTypeError(`randn: dtype ${dtype} is not a floating-point dtype; use f32 or f16`);
  const s = checkShape(shape, 'randn');
  return create(s, dtype, checkDevice(opts.device, 'randn'), 'randn', () => toStorage(new Rng(seed).fillNormal(new Float32Array(numel(s))), dtype, 'randn'), opts.device !== undefined);
}

function filled(shape: readonly number[], opts: CreateOptions, op: string, value: number): Tensor {
  const s = checkShape(shape, op);
  const dtype = checkDType(opts.dtype, op);
  return create(s, dtype, checkDevice(opts.device, op), op, () => toStorage(new Float32Array(numel(s)).fill(value), dtype, op), opts.device !== undefined);
}
