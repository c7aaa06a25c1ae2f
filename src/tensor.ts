/**
 * Tensors and the op dispatcher. A Tensor owns one backend buffer on one device; `dispose()`
 * returns it (twice is a no-op, use after it throws DisposedError naming the op). Ops check
 * their inputs, ask the op table for a plan, allocate the output and run one kernel on the
 * inputs' device. Devices never mix implicitly: move data with `await t.to(device)`.
 */
import type { Backend, DeviceKind } from './backend/backend.js';
import { DTypeError, DeviceError, DisposedError, OutOfMemoryError, ShapeError, TandemError } from './errors.js';
import { type DType, type HostArrayOf, ITEM_BYTES, type Shape, checkDType, checkShape, fmtShape, numel } from './dtype.js';
import { type HostData, fromStorage, inferDType, toStorage } from './host.js';
import { OPS, type OpName, type Plan, checkInputDTypes } from './ops/ops.js';
import { Rng } from './random.js';
import { backendFor } from './runtime.js';

const DEVICES: readonly DeviceKind[] = ['cpu', 'gpu', 'ref'];

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: DeviceKind;
  readonly size: number;
  #backend: Backend;
  #buf: unknown;

  /** @internal Use T.tensor, T.zeros, ... or an op. */
  constructor(shape: Shape, dtype: DType, device: DeviceKind, backend: Backend, buf: unknown) {
    this.shape = shape;
    this.dtype = dtype;
    this.device = device;
    this.size = numel(shape);
    this.#backend = backend;
    this.#buf = buf;
  }

  get rank(): number { return this.shape.length; }
  get disposed(): boolean { return this.#buf === null; }

  get byteLength(): number { return this.size * ITEM_BYTES[this.dtype]; }

  /**
   * The values, row-major, in a fresh array: Float32Array for f32 and f16, Int32Array for
   * i32, Uint8Array for u8 and bool. Name the dtype for a precise type: `t.data<'i32'>()`.
   */
  async data<D extends DType = 'f32'>(): Promise<HostArrayOf[D]> {
    const bytes = await this.#backend.read(this.handle('data'), this.byteLength);
    return fromStorage(bytes, this.dtype, this.size) as HostArrayOf[D];
  }

  /** A copy of this tensor on `device` (this tensor is left as it is). */
  async to(device: DeviceKind): Promise<Tensor> {
    checkDevice(device, 'to');
    const bytes = await this.#backend.read(this.handle('to'), this.byteLength);
    return create(this.shape, this.dtype, device, 'to', () => bytes);
  }

  dispose(): void {
    if (this.#buf === null) return;
    this.#backend.free(this.#buf);
    this.#buf = null;
  }

  [Symbol.dispose](): void { this.dispose(); }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }

  /** @internal The backend buffer, or DisposedError naming the op that wanted it. */
  handle(op: string): unknown {
    if (this.#buf === null) throw new DisposedError(`${op}: ${this.toString()} was used after dispose()`);
    return this.#buf;
  }

  /** @internal */
  get backend(): Backend { return this.#backend; }
}

// Engines older than Symbol.dispose: `using` helpers (TypeScript's, esbuild's) look up this key.
if (typeof Symbol.dispose !== 'symbol') {
  Object.defineProperty(Tensor.prototype, Symbol.for('Symbol.dispose'), { value: Tensor.prototype.dispose });
}

export interface CreateOptions {
  dtype?: DType;
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
  return create(s, dtype, device, 'tensor', () => storage);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled(shape, opts, 'zeros', () => 0);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return filled(shape, opts, 'ones', () => 1);
}

/** Standard normal values; a seed gives the same values on every device and runtime. */
export function randn(shape: readonly number[], opts: CreateOptions & { seed?: number } = {}): Tensor {
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isFinite(seed)) throw new TandemError(`randn: seed must be a finite number, got ${seed}`);
  const dtype = checkDType(opts.dtype, 'randn');
  if (dtype !== 'f32' && dtype !== 'f16') throw new DTypeError(`randn: dtype ${dtype} is not a floating-point dtype; use f32 or f16`);
  const s = checkShape(shape, 'randn');
  return create(s, dtype, checkDevice(opts.device, 'randn'), 'randn', () => toStorage(new Rng(seed).fillNormal(new Float32Array(numel(s))), dtype, 'randn'));
}

function filled(shape: readonly number[], opts: CreateOptions, op: string, value: () => number): Tensor {
  const s = checkShape(shape, op);
  const dtype = checkDType(opts.dtype, op);
  return create(s, dtype, checkDevice(opts.device, op), op, () => toStorage(new Float32Array(numel(s)).fill(value()), dtype, op));
}

/** Allocate on the device first, so a size it cannot hold fails before any host memory is made. */
function create(shape: Shape, dtype: DType, device: DeviceKind, op: string, values: () => ArrayBufferView): Tensor {
  const backend = backendFor(device, op);
  const bytes = numel(shape) * ITEM_BYTES[dtype];
  const buf = backend.alloc(bytes);
  try {
    backend.write(buf, values());
  } catch (e) {
    backend.free(buf);
    if (e instanceof RangeError) throw new OutOfMemoryError(`${op}: cannot make ${bytes} bytes of host data (${e.message})`);
    throw e;
  }
  return new Tensor(shape, dtype, device, backend, buf);
}

/** Run one op from the table on tensors that share a device. */
export function apply(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  const row = OPS[op];
  if (inputs.length !== row.arity) throw new TandemError(`${op}: expects ${row.arity} tensor(s), got ${inputs.length}`);
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TandemError(`${op}: argument ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
  });
  const device = inputs[0].device;
  for (const t of inputs) {
    if (t.device !== device) {
      throw new DeviceError(`${op}: inputs are on different devices (${inputs.map((x) => x.device).join(', ')}); move one with \`await t.to('${device}')\``);
    }
  }
  const dtypes = inputs.map((t) => t.dtype);
  checkInputDTypes(op, dtypes);
  const bufs = inputs.map((t) => t.handle(op));
  const plan = (row.plan as (s: Shape[], a: unknown, d: DType[]) => Plan)(inputs.map((t) => t.shape), attrs ?? {}, dtypes);
  const dtype = plan.dtype ?? inputs[0].dtype;
  const backend = inputs[0].backend;
  const size = numel(plan.shape);
  const out = backend.alloc(size * ITEM_BYTES[dtype]);
  try {
    if (size > 0) backend.run(plan.kernel, bufs, out, plan.params as never);
  } catch (e) {
    backend.free(out);
    throw e;
  }
  return new Tensor(checkShape(plan.shape as number[], op), dtype, device, backend, out);
}
