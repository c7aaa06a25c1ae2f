/**
 * The `cpu` backend: AssemblyScript SIMD kernels in one Wasm instance. JS owns linear memory:
 * buffers are offsets handed out by a FreeListHeap above the module's __heap_base, and memory
 * grows by whole pages when the heap runs out. Kernels run synchronously on the calling thread
 * (the worker pool comes with the CPU kernel issue), so the seam's ordering holds trivially.
 */
import { FreeListHeap } from '../alloc/heap.js';
import { OutOfMemoryError } from '../errors.js';
import type { Backend, KernelName, KernelParams } from './backend.js';
import { writeGemmDesc } from './wasm-gemm.js';

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
  /** True when the module is the relaxed-SIMD build (f32x4.relaxed_madd in the GEMM). */
  readonly relaxedSimd: boolean;
  private readonly memory: WebAssembly.Memory;
  private readonly x: Exports;
  private readonly heap: FreeListHeap;
  /** Scratch block for kernel descriptors (broadcast dims); 3 * MAX_RANK i32 fit easily. */
  private readonly scratch: number;
  private i32View = new Int32Array(0);
  /** GEMM packing workspace, allocated once and reused by every matmul (kernels allocate nothing). */
  private readonly gemmWs: { ptr: number; bytes: number };

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
    const wsBytes = this.x.f32_gemm_workspace_bytes() as number;
    this.gemmWs = { ptr: this.heap.alloc(wsBytes), bytes: wsBytes };
    this.relaxedSimd = this.x.relaxedSimd?.() === 1;
  }

  get bytesInUse(): number { return this.heap.bytesInUse; }
  get liveBuffers(): number { return this.heap.liveBlocks - 2; } // less scratch and GEMM workspace

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
    matmul: ([a, b, bias], c, p) => {
      writeGemmDesc(this.i32(), this.scratch, p, { a: a.ptr, b: b.ptr, c: c.ptr, bias: bias?.ptr ?? 0, ws: this.gemmWs.ptr, wsBytes: this.gemmWs.bytes });
      this.fn('f32_gemm')(this.scratch);
    },
  };

  /** Re-made after memory.grow detaches the old buffer. */
  private i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }
}
