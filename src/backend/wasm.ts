/**
 * The `cpu` backend: AssemblyScript SIMD kernels in one Wasm instance. JS owns linear memory:
 * buffers are offsets handed out by a FreeListHeap above the module's __heap_base, and memory
 * grows by whole pages when the heap runs out. Kernels run synchronously on the calling thread
 * (the worker pool comes with the CPU kernel issue), so the seam's ordering holds trivially.
 */
import { FreeListHeap } from '../alloc/heap.js';
import { ITEM_BYTES } from '../dtype.js';
import { DTypeError, OutOfMemoryError } from '../errors.js';
import type { AdamParams, Backend, KernelName, KernelParams } from './backend.js';

const PAGE = 65536;

export interface WasmBuf { ptr: number; bytes: number }

interface Exports {
  heapBase(): number;
  [kernel: string]: (...args: number[]) => unknown;
}

export interface WasmOptions {
  /** Use the f32x4 kernels (default) or their scalar twins. */
  simd?: boolean;
}

export class WasmBackend implements Backend<WasmBuf> {
  readonly kind = 'cpu' as const;
  readonly simd: boolean;
  private readonly memory: WebAssembly.Memory;
  private readonly x: Exports;
  private readonly heap: FreeListHeap;
  /** Scratch block for kernel descriptors (broadcast dims); 3 * MAX_RANK i32 fit easily. */
  private readonly scratch: number;
  private i32View = new Int32Array(0);

  constructor(module: WebAssembly.Module, opts: WasmOptions = {}) {
    this.simd = opts.simd ?? true;
    this.memory = new WebAssembly.Memory({ initial: 16 });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.x = instance.exports as unknown as Exports;
    this.heap = new FreeListHeap(this.x.heapBase(), this.memory.buffer.byteLength, (missing) => {
      try {
        this.memory.grow(Math.ceil(missing / PAGE));
      } catch {
        throw new OutOfMemoryError(`cpu: cannot grow Wasm memory by ${missing} bytes (it holds ${this.memory.buffer.byteLength} bytes; wasm32 memory stops at 4 GiB)`);
      }
      return this.memory.buffer.byteLength;
    });
    this.scratch = this.heap.alloc(256);
  }

  get bytesInUse(): number { return this.heap.bytesInUse; }
  get liveBuffers(): number { return this.heap.liveBlocks - 1; }

  alloc(bytes: number): WasmBuf {
    return { ptr: this.heap.alloc(bytes), bytes };
  }
  free(buf: WasmBuf): void {
    this.heap.free_(buf.ptr);
  }
  write(buf: WasmBuf, data: ArrayBufferView): void {
    new Uint8Array(this.memory.buffer, buf.ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async read(buf: WasmBuf, bytes: number): Promise<Uint8Array> {
    return new Uint8Array(this.memory.buffer).slice(buf.ptr, buf.ptr + bytes);
  }
  run<K extends KernelName>(kernel: K, inputs: WasmBuf[], output: WasmBuf, params: KernelParams[K]): void {
    (this.kernels[kernel] as (i: WasmBuf[], o: WasmBuf, p: KernelParams[K]) => void)(inputs, output, params);
  }
  destroy(): void {}

  /** Export name of a kernel: the f32x4 one, or its scalar twin. */
  private fn(name: string): (...args: number[]) => unknown {
    return this.x[this.simd ? name : `${name}__scalar`];
  }

  private readonly kernels: { [K in KernelName]: (i: WasmBuf[], o: WasmBuf, p: KernelParams[K]) => void } = {
    binary: ([a, b], o, { op, shape, aStrides, bStrides }) => {
      const rank = shape.length;
      this.i32().set([...shape, ...aStrides, ...bStrides], this.scratch >>> 2);
      this.fn(`f32_${op}`)(a.ptr, b.ptr, o.ptr, this.scratch, rank);
    },
    unary: ([x], o, { op, size }) => { this.fn(`f32_${op}`)(x.ptr, o.ptr, size); },
    sum: ([x], o, { outer, reduce, inner }) => { this.fn('f32_sum')(x.ptr, o.ptr, outer, reduce, inner); },
    matmul: ([a, b], c, { m, k, n }) => { this.fn('f32_matmul')(a.ptr, b.ptr, c.ptr, m, k, n); },

    // ---- elementwise, conversion and optimizer kernels (assembly/{where,convert,optim}.ts) ----
    compare: ([a, b], o, { op, shape, aStrides, bStrides }) => {
      this.i32().set([...shape, ...aStrides, ...bStrides], this.scratch >>> 2);
      this.fn(`f32_${op}`)(a.ptr, b.ptr, o.ptr, this.scratch, shape.length);
    },
    where: ([c, a, b], o, { shape, condStrides, aStrides, bStrides }) => {
      this.i32().set([...shape, ...condStrides, ...aStrides, ...bStrides], this.scratch >>> 2);
      this.fn('f32_where')(c.ptr, a.ptr, b.ptr, o.ptr, this.scratch, shape.length);
    },
    cast: ([x], o, { from, to, size }) => {
      if (from === to) {
        new Uint8Array(this.memory.buffer).copyWithin(o.ptr, x.ptr, x.ptr + size * ITEM_BYTES[from]);
        return;
      }
      // bool bytes are 0 or 1, so bool -> f32 is the u8 kernel.
      const name = `${from === 'bool' ? 'u8' : from}_to_${to}`;
      if (!this.x[name]) throw new DTypeError(`cast: no cpu kernel converts ${from} to ${to}`);
      this.fn(name)(x.ptr, o.ptr, size);
    },
    normalizeImage: ([x], o, { height, width, channels, mean, std }) => {
      // (v / 255 - mean) / std = v * scale + bias, folded here in f64 and passed as f32.
      const scale = [0, 1, 2, 3].map((c) => (c < channels ? 1 / (255 * std[c]) : 0));
      const bias = [0, 1, 2, 3].map((c) => (c < channels ? -mean[c] / std[c] : 0));
      this.fn('u8_normalize_hwc')(x.ptr, o.ptr, height * width, channels, ...scale, ...bias);
    },
    sgd: ([g, buf], p, { size, lr, momentum, dampening, nesterov, weightDecay, step }) => {
      this.fn('f32_sgd')(p.ptr, g.ptr, buf?.ptr ?? 0, size, lr, momentum, 1 - dampening, weightDecay, nesterov ? 1 : 0, step === 1 ? 1 : 0);
    },
    adam: (inputs, p, prm) => { this.adam(inputs, p, prm, false); },
    adamw: (inputs, p, prm) => { this.adam(inputs, p, prm, true); },
  };

  /** Bias corrections and the decoupled decay factor in f64 here; the kernel gets them as f32. */
  private adam([g, m, v]: WasmBuf[], p: WasmBuf, { size, lr, beta1, beta2, eps, weightDecay, step }: AdamParams, decoupled: boolean): void {
    const stepSize = lr / (1 - beta1 ** step), bc2Sqrt = Math.sqrt(1 - beta2 ** step);
    const l2 = decoupled ? 0 : weightDecay, decay = decoupled ? 1 - lr * weightDecay : 1;
    this.fn('f32_adam')(p.ptr, g.ptr, m.ptr, v.ptr, size, beta1, 1 - beta1, beta2, 1 - beta2, eps, l2, decay, stepSize, bc2Sqrt);
  }

  /** Re-made after memory.grow detaches the old buffer. */
  private i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }
}
