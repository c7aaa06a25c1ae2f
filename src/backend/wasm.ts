/**
 * The `cpu` backend: AssemblyScript SIMD kernels in one Wasm instance. JS owns linear memory:
 * buffers are offsets handed out by a FreeListHeap above the module's __heap_base, and memory
 * grows by whole pages when the heap runs out. Kernels run synchronously on the calling thread
 * (the worker pool comes with the CPU kernel issue), so the seam's ordering holds trivially.
 */
import { FreeListHeap } from '../alloc/heap.js';
import { IndexError, OutOfMemoryError } from '../errors.js';
import type { Backend, KernelName, KernelParams } from './backend.js';

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
    reduce: ([x], o, { op, outer, reduce, inner }) => {
      if (op === 'sum' || op === 'mean') this.fn('f32_sum')(x.ptr, o.ptr, outer, reduce, inner, op === 'mean' ? reduce : 1);
      else if (op === 'max' || op === 'min') this.fn('f32_extreme')(x.ptr, o.ptr, outer, reduce, inner, op === 'max' ? 1 : 0);
      else this.x.f32_argextreme(x.ptr, o.ptr, outer, reduce, inner, op === 'argmax' ? 1 : 0);
    },
    matmul: ([a, b], c, { m, k, n }) => { this.fn('f32_matmul')(a.ptr, b.ptr, c.ptr, m, k, n); },
    softmax: ([x], o, { rows, n, log }) => { this.fn('f32_softmax_rows')(x.ptr, o.ptr, rows, n, log ? 1 : 0); },
    layerNorm: ([x, ...rest], o, { rows, n, eps, weight, bias }) => {
      const g = weight ? rest[0].ptr : 0, b = bias ? rest[weight ? 1 : 0].ptr : 0;
      this.fn('f32_layernorm')(x.ptr, o.ptr, g, b, rows, n, eps);
    },
    crossEntropy: ([x, labels], o, { rows, classes, smoothing }) => {
      const bad = this.x.f32_cross_entropy(x.ptr, labels.ptr, o.ptr, rows, classes, smoothing) as number;
      if (bad >= 0) throw new IndexError(`crossEntropy: label ${this.i32()[(labels.ptr >>> 2) + bad]} at index ${bad} is outside [0, ${classes})`);
    },
    gather: ([table, idx], o, { outer, axisLen, inner, count, itemBytes }) => {
      const bad = this.x.gather(table.ptr, idx.ptr, o.ptr, outer, axisLen, inner, count, itemBytes) as number;
      if (bad >= 0) throw new IndexError(`gather: index ${this.i32()[(idx.ptr >>> 2) + bad]} at position ${bad} is outside [0, ${axisLen})`);
    },
    oneHot: ([idx], o, { n, classes, oneBits }) => {
      const bad = this.x.one_hot(idx.ptr, o.ptr, n, classes, oneBits) as number;
      if (bad >= 0) throw new IndexError(`oneHot: class ${this.i32()[(idx.ptr >>> 2) + bad]} at index ${bad} is outside [0, ${classes})`);
    },
    copy: ([x], o, { itemBytes, shape, srcStrides, dstStrides, srcOffset, dstOffset }) => {
      this.i32().set([...shape, ...srcStrides, ...dstStrides], this.scratch >>> 2);
      this.x.copy_strided(x.ptr + srcOffset * itemBytes, o.ptr + dstOffset * itemBytes, this.scratch, shape.length, itemBytes);
    },
  };

  /** Re-made after memory.grow detaches the old buffer. */
  private i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }
}
