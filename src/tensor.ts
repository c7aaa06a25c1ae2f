/**
 * Tensors. A Tensor is a view (shape, element strides, element offset) of a Storage: one
 * backend buffer, reference-counted so views (reshape, transpose, slice) share it. dispose()
 * drops this view's reference (twice is a no-op); the buffer returns to its backend when the
 * last view goes. Using a disposed tensor throws DisposedError naming the op. Every tensor is
 * tracked for tidy scopes and live counts (src/lifetime.ts).
 *
 * Kernels read contiguous buffers from their start. `materialize` gives one: the storage
 * itself when the view already is that, otherwise a copy made by the `copy` kernel.
 *
 * Pending storage (src/sched/stream.ts): a Storage whose contents are still being produced by
 * deferred work (a readback, an op waiting on one) has a `fence` that resolves when they are
 * there, or rejects with the error that stopped them (and then stays rejected). Ops on pending
 * inputs are deferred behind the fence; `data()` awaits only its own storage's fence.
 */
import type { Backend, DeviceKind } from './backend/backend.js';
import { type DType, type HostArrayOf, ITEM_BYTES, type Shape, fmtShape, numel, stridesOf } from './dtype.js';
import { DisposedError, OutOfMemoryError, TandemError } from './errors.js';
import type { GradNode } from './autograd/tape.js';
import { fromStorage } from './host.js';
import { track, untrack } from './lifetime.js';
import { collapseCopy, isContiguous } from './ops/layout.js';
import { backendFor } from './runtime.js';
import { checkDevice } from './create.js';
import { copyTo, waitFence } from './sched/stream.js';

export class Storage {
  refs = 1;
  /** null when the contents are there; see the file comment. */
  fence: Promise<void> | null = null;
  /**
   * Bumped by whoever writes the contents in place after creation (optimizer steps): autograd
   * compares it at backward() against the value when a tensor was saved, and refuses stale data.
   */
  version = 0;
  constructor(readonly backend: Backend, public buf: unknown, readonly bytes: number) {}

  release(): void {
    if (--this.refs === 0) {
      this.backend.free(this.buf);
      this.buf = null;
    }
  }
}

export interface BackwardOptions {
  /** Keep the saved tensors so backward() can run through the graph again (PyTorch's retain_graph). */
  retainGraph?: boolean;
}

/** @internal Installed by src/autograd (the layer above; tensor.ts imports nothing from it). */
export const autogradHooks: { backward: ((t: Tensor, grad: Tensor | undefined, opts: BackwardOptions) => void) | null } = { backward: null };

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly device: DeviceKind;
  readonly size: number;
  /** Element strides into the storage, one per dimension. */
  readonly strides: readonly number[];
  /** Element offset of index [0, ..., 0] in the storage. */
  readonly offset: number;
  /**
   * @internal Placement was forced: made with an explicit `device`, moved by `to`, or the result
   * of an op whose placement was forced. Auto placement keeps ops on pinned inputs' devices.
   */
  pinned = false;
  /**
   * Autograd's contract (the autograd issue builds the tape behind it): a tensor with
   * requiresGrad set is a leaf whose gradient backward() accumulates into `grad`. Parameters
   * are such leaves; optimizers read `grad` and update the leaf's storage in place.
   */
  requiresGrad = false;
  /** The gradient accumulated by backward() for a requiresGrad leaf, or null before any. */
  grad: Tensor | null = null;
  /** @internal The tape node that made this tensor (src/autograd/tape.ts); null for leaves and untracked results. */
  gradFn: GradNode | null = null;
  #storage: Storage | null;

  /** @internal Use T.tensor, T.zeros, ... or an op. Takes over one reference of `storage`. */
  constructor(shape: Shape, dtype: DType, device: DeviceKind, storage: Storage, strides?: readonly number[], offset = 0) {
    this.shape = shape;
    this.dtype = dtype;
    this.device = device;
    this.size = numel(shape);
    this.strides = Object.freeze((strides ?? stridesOf(shape)).slice());
    this.offset = offset;
    this.#storage = storage;
    track(this);
  }

  get rank(): number { return this.shape.length; }
  get disposed(): boolean { return this.#storage === null; }
  get byteLength(): number { return this.size * ITEM_BYTES[this.dtype]; }
  /** True when the elements sit row-major from the start of the storage (no copy needed). */
  get isContiguous(): boolean { return this.offset === 0 && isContiguous(this.shape, this.strides); }
  /** True while the contents are still being produced by deferred work (see the file comment). */
  get pending(): boolean { return this.storage('pending').fence !== null; }

  /**
   * The values, row-major, in a fresh array: Float32Array for f32 and f16, Int32Array for
   * i32, Uint8Array for u8 and bool. Name the dtype for a precise type: `t.data<'i32'>()`.
   */
  async data<D extends DType = 'f32'>(): Promise<HostArrayOf[D]> {
    return fromStorage(await this.bytes('data'), this.dtype, this.size) as HostArrayOf[D];
  }

  /** @internal The storage bytes, row-major (f16 as halves), once the tensor's fence is passed. */
  async bytes(op: string): Promise<Uint8Array> {
    const s = this.storage(op);
    s.refs++; // held across the awaits: a dispose() meanwhile must not free what is being read
    try {
      if (s.fence !== null) await waitFence(s.fence, op);
      const { buf, temp } = this.materialize(op, s);
      try {
        return await s.backend.read(buf, this.byteLength);
      } finally {
        if (temp) s.backend.free(buf);
      }
    } finally {
      s.release();
    }
  }

  /**
   * A copy of this tensor on `device` (this tensor is left as it is), once it has landed. The
   * copy is pinned to `device`. `T.to(t, device)` is the form that returns at once.
   */
  async to(device: DeviceKind): Promise<Tensor> {
    const c = copyTo(this, checkDevice(device, 'to'), 'to');
    c.pinned = true;
    const s = c.storage('to');
    if (s.fence !== null) {
      try {
        await waitFence(s.fence, 'to');
      } catch (e) {
        c.dispose();
        throw e;
      }
    }
    return c;
  }

  /** True unless the tensor was made by a recorded op (PyTorch's is_leaf). */
  get isLeaf(): boolean { return this.gradFn === null; }

  /**
   * Backpropagate from this tensor: every requiresGrad leaf it depends on gets the gradient
   * added to its `grad`. A one-element tensor needs no argument (the gradient is 1); otherwise
   * pass `grad`, shaped like this tensor. The graph's saved tensors are freed as it goes unless
   * `retainGraph` is set. See src/autograd/backward.ts.
   */
  backward(grad?: Tensor, opts?: BackwardOptions): void {
    if (autogradHooks.backward === null) throw new TandemError('backward: autograd is not loaded; import the package entry (src/index.ts)');
    autogradHooks.backward(this, grad, opts ?? {});
  }

  /** A view of the same storage outside the tape: no gradient flows through it. */
  detach(): Tensor {
    return this.view('detach', this.shape, this.strides, this.offset);
  }

  /** Also drops this tensor's tape node (freeing what it saved when no one else holds it) and its grad. */
  dispose(): void {
    if (this.#storage === null) return;
    if (this.gradFn !== null) {
      const n = this.gradFn;
      this.gradFn = null;
      n.release();
    }
    if (this.grad !== null) {
      this.grad.dispose();
      this.grad = null;
    }
    untrack(this);
    this.#storage.release();
    this.#storage = null;
  }

  [Symbol.dispose](): void { this.dispose(); }

  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}, ${this.device}${this.disposed ? ', disposed' : ''})`;
  }

  /** @internal The storage, or DisposedError naming the op that wanted it. */
  storage(op: string): Storage {
    if (this.#storage === null) throw new DisposedError(`${op}: ${this.toString()} was used after dispose()`);
    return this.#storage;
  }

  /** @internal */
  get backend(): Backend { return this.storage('backend').backend; }

  /** @internal A new view of the same storage (takes a reference). */
  view(op: string, shape: Shape, strides: readonly number[], offset: number): Tensor {
    const s = this.storage(op);
    s.refs++;
    const v = new Tensor(shape, this.dtype, this.device, s, strides, offset);
    v.pinned = this.pinned;
    return v;
  }

  /**
   * @internal A contiguous buffer of this tensor's elements, starting at the buffer's start.
   * `temp` says the caller owns it and must free it (on this tensor's backend) when done.
   * Deferred work passes the storage it holds (this view may be disposed by then).
   */
  materialize(op: string, s: Storage = this.storage(op)): { buf: unknown; temp: boolean } {
    if (this.isContiguous) return { buf: s.buf, temp: false };
    const buf = s.backend.alloc(this.byteLength);
    try {
      if (this.size > 0) s.backend.run('copy', [s.buf], buf, this.copyParams(stridesOf(this.shape), 0));
    } catch (e) {
      s.backend.free(buf);
      throw e;
    }
    return { buf, temp: true };
  }

  /** @internal Params of a copy of this view into a destination laid out by `dstStrides`. */
  copyParams(dstStrides: readonly number[], dstOffset: number) {
    const loops = collapseCopy(this.shape, this.strides, dstStrides);
    return { itemBytes: ITEM_BYTES[this.dtype] as 1 | 2 | 4, ...loops, srcOffset: this.offset, dstOffset };
  }
}

/**
 * @internal A tensor holding `values()` on `device`. Device memory is allocated first, so a size
 * the device cannot hold fails at once with OutOfMemoryError before any host array is made.
 */
export function createTensor(shape: Shape, dtype: DType, device: DeviceKind, op: string, values: () => ArrayBufferView, pinned = false): Tensor {
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
  const t = new Tensor(shape, dtype, device, new Storage(backend, buf, bytes));
  t.pinned = pinned;
  return t;
}

// Engines older than Symbol.dispose: `using` helpers (TypeScript's, esbuild's) look up this key.
if (typeof Symbol.dispose !== 'symbol') {
  Object.defineProperty(Tensor.prototype, Symbol.for('Symbol.dispose'), { value: Tensor.prototype.dispose });
}
