/**
 * The `cpu` backend: AssemblyScript SIMD kernels in one Wasm instance. JS owns linear memory:
 * buffers are offsets handed out by a SlabHeap (src/alloc/slab.ts) above the module's
 * __heap_base, and memory grows by whole pages only when no slab or free block can serve, up to
 * `memoryLimit` bytes (an OutOfMemoryError past it, never a crash). Only this thread allocates.
 *
 * With a WorkerPool (threads build, shared memory), large kernels are split into parts that
 * run on every thread at once; `run` returns when all parts are done, so the seam's ordering
 * holds. Parts split along rows or outer slices only, never inside a sum, so results are the
 * same bits whatever the thread count.
 */
import { SlabHeap } from '../alloc/slab.js';
import { isHalfCall, runHalfViaF32 } from './f16-compute.js';
import { ITEM_BYTES } from '../dtype.js';
import { DTypeError, IndexError, OutOfMemoryError } from '../errors.js';
import type { AdamParams, Backend, ConvGeom, KernelName, KernelParams, PoolGeom } from './backend.js';
import type { WorkerPool } from './pool.js';
import { SplitBalancer } from './balance.js';
import { setGemmRange, writeGemmDesc } from './wasm-gemm.js';
import { type InPlace, conv2dForward, conv2dInputGrad, conv2dWeightGrad } from './conv-driver.js';

const PAGE = 65536;
/** Scratch bytes per thread for kernel descriptors (3 * MAX_RANK i32 fit easily). */
const SCRATCH = 256;
/** Below this many elements (or multiply-adds), a kernel is not worth waking workers for. */
const PARALLEL_MIN = 1 << 16;
/** Elements per chunk of a single-output-row reduction (its partials; see kernels.reduce). */
const REDUCE_CHUNK = 1 << 14;

export interface WasmBuf { ptr: number; bytes: number }

/** Views into linear memory are pointers: the convolution drivers address chunks in place. */
const IN_PLACE: InPlace<WasmBuf> = { view: (b, at) => ({ ptr: b.ptr + at, bytes: b.bytes - at }) };

interface Exports {
  heapBase(): number;
  [kernel: string]: (...args: number[]) => unknown;
}

export interface WasmOptions {
  /** Use the f32x4 kernels (default) or their scalar twins. */
  simd?: boolean;
  /** Shared memory for a threads-build module, with the pool whose workers share it. */
  memory?: WebAssembly.Memory;
  pool?: WorkerPool | null;
  /** Work (elements or multiply-adds) from which kernels split across the pool. */
  parallelMin?: number;
  /** Most bytes of linear memory the heap may grow to (init's cpuMemoryLimit); default: no cap but wasm32's 4 GiB. */
  memoryLimit?: number;
}

export class WasmBackend implements Backend<WasmBuf> {
  readonly kind = 'cpu' as const;
  readonly simd: boolean;
  /** True when the module is the relaxed-SIMD build (f32x4.relaxed_madd in the GEMM). */
  readonly relaxedSimd: boolean;
  private readonly memory: WebAssembly.Memory;
  private readonly x: Exports;
  readonly heap: SlabHeap;
  readonly memoryLimit: number;
  /** Scratch blocks for kernel descriptors, one per thread. */
  private readonly scratch: number;
  private readonly pool: WorkerPool | null;
  private readonly parallelMin: number;
  private i32View = new Int32Array(0);
  /** GEMM packing workspace, allocated once and reused by every matmul (kernels allocate nothing). */
  private readonly gemmWs: { ptr: number; bytes: number };
  /** Learned per-thread speeds that size the GEMM's parts (see balance.ts). */
  private readonly balancer: SplitBalancer;

  constructor(readonly module: WebAssembly.Module, opts: WasmOptions = {}) {
    this.simd = opts.simd ?? true;
    this.pool = opts.pool ?? null;
    this.parallelMin = opts.parallelMin ?? PARALLEL_MIN;
    this.memory = opts.memory ?? new WebAssembly.Memory({ initial: 16 });
    const instance = new WebAssembly.Instance(module, { env: { memory: this.memory } });
    this.x = instance.exports as unknown as Exports;
    this.memoryLimit = opts.memoryLimit ?? Infinity;
    this.heap = new SlabHeap(this.x.heapBase(), this.memory.buffer.byteLength, (missing) => {
      const pages = Math.ceil(missing / PAGE), had = this.memory.buffer.byteLength;
      const stats = () => JSON.stringify(this.heap.stats);
      if (had + pages * PAGE > this.memoryLimit) {
        throw new OutOfMemoryError(`cpu: ${missing} more bytes of Wasm memory are needed, past the cpuMemoryLimit of ${this.memoryLimit} bytes (memory holds ${had}; stats ${stats()})`);
      }
      try {
        this.memory.grow(pages);
      } catch {
        throw new OutOfMemoryError(`cpu: cannot grow Wasm memory by ${missing} bytes (it holds ${had} bytes; wasm32 memory stops at 4 GiB; stats ${stats()})`);
      }
      return this.memory.buffer.byteLength;
    });
    this.scratch = this.heap.alloc(SCRATCH * this.threads);
    // One GEMM packing workspace per thread: parts of a product pack their panels side by side.
    // Cache-line aligned (the heap gives 16): packed panels are streamed with v128 loads, and
    // a panel that straddles lines measured 10-30% slower. Each part's block stays aligned.
    const wsBytes = Math.ceil((this.x.f32_gemm_workspace_bytes() as number) / 64) * 64;
    this.gemmWs = { ptr: (this.heap.alloc(wsBytes * this.threads + 64) + 63) & ~63, bytes: wsBytes };
    this.relaxedSimd = this.x.relaxedSimd?.() === 1;
    this.balancer = new SplitBalancer(this.threads);
  }

  /**
   * @internal The module, memory and exports, for code that runs kernels on raw pointers itself
   * (the data loader). `shared` is true when other threads may instantiate the module on it.
   */
  get raw(): { module: WebAssembly.Module; memory: WebAssembly.Memory; exports: Record<string, (...a: number[]) => unknown>; shared: boolean } {
    const shared = typeof SharedArrayBuffer !== 'undefined' && this.memory.buffer instanceof SharedArrayBuffer;
    return { module: this.module, memory: this.memory, exports: this.x as unknown as Record<string, (...a: number[]) => unknown>, shared };
  }

  /** Threads kernels run on, the calling one included. */
  get threads(): number { return this.pool?.threads ?? 1; }
  get bytesInUse(): number { return this.heap.bytesInUse; }
  get liveBuffers(): number { return this.heap.liveBlocks - 2; } // less scratch and GEMM workspace

  alloc(bytes: number): WasmBuf {
    try {
      return { ptr: this.heap.alloc(bytes), bytes };
    } catch (e) {
      if (!(e instanceof OutOfMemoryError)) throw e;
    }
    // Empty slabs may coalesce into room for a large block: release them and try once more.
    this.heap.allocations--;
    this.heap.emptyCache();
    try {
      return { ptr: this.heap.alloc(bytes), bytes };
    } catch (e) {
      if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`cpu: cannot allocate ${bytes} bytes: ${e.message}`);
      throw e;
    }
  }
  free(buf: WasmBuf): void {
    this.heap.free(buf.ptr);
  }
  write(buf: WasmBuf, data: ArrayBufferView): void {
    new Uint8Array(this.memory.buffer, buf.ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async read(buf: WasmBuf, bytes: number): Promise<Uint8Array> {
    return new Uint8Array(this.memory.buffer).slice(buf.ptr, buf.ptr + bytes);
  }
  readSync(buf: WasmBuf, bytes: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, buf.ptr, bytes);
  }
  run<K extends KernelName>(kernel: K, inputs: WasmBuf[], output: WasmBuf, params: KernelParams[K]): void {
    // f16 float kernels: the Wasm cast kernels around the f32 kernel (f16-compute.ts).
    if (isHalfCall(kernel, params)) return runHalfViaF32(this, kernel, inputs, output, params as KernelParams[typeof kernel]);
    (this.kernels[kernel] as (i: WasmBuf[], o: WasmBuf, p: KernelParams[K]) => void)(inputs, output, params);
  }
  destroy(): void {
    this.pool?.destroy();
  }

  /**
   * Run export `name` over `count` rows, split into one contiguous range per thread when the
   * work is large enough; `args(start, length, part)` gives each part's arguments. Returns
   * each part's i32 result with its start row. Parts are equal, or with `balance` sized by the
   * threads' learned speeds (for long kernels, where a slow core would hold the others up).
   */
  private split(name: string, count: number, work: number, args: (start: number, len: number, part: number) => number[], balance = false): [number, number][] {
    const fn = this.x[name];
    // A pool stopped by shutdown() or a re-init leaves its tensors' backend on one thread.
    const parts = this.pool?.alive && work >= this.parallelMin ? Math.min(this.pool.threads, count) : 1;
    if (parts <= 1) return [[0, Number(fn(...args(0, count, 0)) ?? 0) | 0]];
    const starts = balance ? this.balancer.starts(count, parts) : Array.from({ length: parts }, (_, p) => Math.floor((count * p) / parts));
    const lens = starts.map((s, p) => (p + 1 < parts ? starts[p + 1] : count) - s);
    const results = this.pool!.run(name, starts.map((s, p) => args(s, lens[p], p)), fn);
    if (balance) this.balancer.observe(lens, this.pool!.lastMs);
    return results.map((r, p) => [starts[p], r]);
  }

  /** Name of a kernel: the f32x4 one, or its scalar twin. */
  private pick(name: string): string {
    return this.simd ? name : `${name}__scalar`;
  }

  /** A kernel that runs on the calling thread only: the f32x4 export, or its scalar twin. */
  private fn(name: string): (...args: number[]) => unknown {
    return this.x[this.pick(name)];
  }

  /** Write a strided-loop descriptor into thread `part`'s scratch block; returns its address. */
  private dims(part: number, ...lists: number[][]): number {
    const at = this.scratch + part * SCRATCH;
    this.i32().set(lists.flat(), at >>> 2);
    return at;
  }

  // Each kernel, split where it pays: the outermost loop of a broadcast, element ranges,
  // rows, outer slices. Pointers advance by whole rows, so every part computes exactly what the
  // single-threaded kernel would for those rows.
  private readonly kernels: { [K in KernelName]: (i: WasmBuf[], o: WasmBuf, p: KernelParams[K]) => void } = {
    binary: ([a, b], o, { op, shape, aStrides, bStrides }) => {
      const inner = shape.slice(1).reduce((x, y) => x * y, 1);
      this.split(this.pick(`f32_${op}`), shape[0], shape[0] * inner, (s, len, part) => [
        a.ptr + 4 * s * aStrides[0], b.ptr + 4 * s * bStrides[0], o.ptr + 4 * s * inner,
        this.dims(part, [len, ...shape.slice(1)], aStrides, bStrides), shape.length,
      ]);
    },
    unary: ([x], o, { op, size }) => {
      this.split(this.pick(`f32_${op}`), size, size, (s, len) => [x.ptr + 4 * s, o.ptr + 4 * s, len]);
    },
    reduce: ([x], o, { op, outer, reduce, inner }) => {
      const name = op === 'sum' || op === 'mean' ? this.pick('f32_sum') : op === 'max' || op === 'min' ? this.pick('f32_extreme') : 'f32_argextreme';
      const last = op === 'mean' ? reduce : op === 'sum' ? 1 : op === 'max' || op === 'argmax' ? 1 : 0;
      const rowsPer = Math.max(1, Math.floor(REDUCE_CHUNK / inner));
      if (outer === 1 && op !== 'argmax' && op !== 'argmin' && reduce >= 2 * rowsPer) {
        // One output row of a long axis: partial results over fixed chunks of rows (split
        // across the pool), then the partials reduced in order. The chunks depend on the shape
        // only, so the bits are the same on any number of threads.
        const full = Math.floor(reduce / rowsPer), tail = reduce - full * rowsPer, parts = full + (tail > 0 ? 1 : 0);
        const first = op === 'mean' ? 1 : last; // partial sums are not divided yet
        const partial = this.alloc(4 * parts * inner);
        try {
          this.split(name, full, full * rowsPer * inner, (s, len) => [x.ptr + 4 * s * rowsPer * inner, partial.ptr + 4 * s * inner, len, rowsPer, inner, first]);
          if (tail > 0) this.x[name](x.ptr + 4 * full * rowsPer * inner, partial.ptr + 4 * full * inner, 1, tail, inner, first);
          this.x[name](partial.ptr, o.ptr, 1, parts, inner, last);
        } finally {
          this.free(partial);
        }
        return;
      }
      this.split(name, outer, outer * reduce * inner, (s, len) => [x.ptr + 4 * s * reduce * inner, o.ptr + 4 * s * inner, len, reduce, inner, last]);
    },
    matmul: ([a, b, bias], c, p) => {
      // Parts take disjoint batches, else rows in multiples of 4 (the register tile's height),
      // else columns in multiples of 8 (its width): every element goes through the same tile
      // as on one thread, so results do not depend on the thread count.
      const ptrs = { a: a.ptr, b: b.ptr, c: c.ptr, bias: bias?.ptr ?? 0, wsBytes: this.gemmWs.bytes };
      const batches = (p.batchShape ?? []).reduce((x, y) => x * y, 1);
      const [axis, count, unit] = batches >= this.threads ? ['batch', batches, 1] as const : p.m >= 8 ? ['rows', p.m, 4] as const : ['cols', p.n, 8] as const;
      const units = Math.ceil(count / unit);
      // Work in units of 32 multiply-adds: a part must amortise its own packing and the wake-up,
      // so products split from about 2M multiply-adds (N = 128) at the default threshold.
      const work = Math.ceil((batches * p.m * p.k * p.n) / 32);
      this.split(this.pick('f32_gemm'), units, work, (s, len, part) => {
        const at = this.scratch + part * SCRATCH;
        writeGemmDesc(this.i32(), at, p, { ...ptrs, ws: this.gemmWs.ptr + part * this.gemmWs.bytes });
        if (len !== units) setGemmRange(this.i32(), at, axis, s * unit, Math.min(count, (s + len) * unit));
        return [at];
      }, true);
    },
    softmax: ([x], o, { rows, n, log }) => {
      this.split(this.pick('f32_softmax_rows'), rows, rows * n, (s, len) => [x.ptr + 4 * s * n, o.ptr + 4 * s * n, len, n, log ? 1 : 0]);
    },
    layerNorm: ([x, ...rest], o, { rows, n, eps, weight, bias }) => {
      const g = weight ? rest[0].ptr : 0, b = bias ? rest[weight ? 1 : 0].ptr : 0;
      this.split(this.pick('f32_layernorm'), rows, rows * n, (s, len) => [x.ptr + 4 * s * n, o.ptr + 4 * s * n, g, b, len, n, eps]);
    },
    crossEntropy: ([x, labels], o, { rows, classes, smoothing }) => {
      const parts = this.split('f32_cross_entropy', rows, rows * classes, (s, len) => [x.ptr + 4 * s * classes, labels.ptr + 4 * s, o.ptr + 4 * s, len, classes, smoothing]);
      const bad = parts.find(([, r]) => r >= 0);
      if (bad) {
        const row = bad[0] + bad[1];
        throw new IndexError(`crossEntropy: label ${this.i32()[(labels.ptr >>> 2) + row]} at index ${row} is outside [0, ${classes})`);
      }
    },
    gather: ([table, idx], o, { outer, axisLen, inner, count, itemBytes }) => {
      const bad = this.x.gather(table.ptr, idx.ptr, o.ptr, outer, axisLen, inner, count, itemBytes) as number;
      if (bad >= 0) throw new IndexError(`gather: index ${this.i32()[(idx.ptr >>> 2) + bad]} at position ${bad} is outside [0, ${axisLen})`);
    },
    scatterAdd: ([g, idx], o, { outer, axisLen, inner, count }) => {
      this.fn('f32_scatter_add')(g.ptr, idx.ptr, o.ptr, outer, axisLen, inner, count);
    },
    oneHot: ([idx], o, { n, classes, oneBits }) => {
      const bad = this.x.one_hot(idx.ptr, o.ptr, n, classes, oneBits) as number;
      if (bad >= 0) throw new IndexError(`oneHot: class ${this.i32()[(idx.ptr >>> 2) + bad]} at index ${bad} is outside [0, ${classes})`);
    },
    copy: ([x], o, { itemBytes, shape, srcStrides, dstStrides, srcOffset, dstOffset }) => {
      const src = x.ptr + srcOffset * itemBytes, dst = o.ptr + dstOffset * itemBytes;
      const total = shape.reduce((p, d) => p * d, 1);
      this.split('copy_strided', shape[0], total, (s, len, part) => [
        src + itemBytes * s * srcStrides[0], dst + itemBytes * s * dstStrides[0],
        this.dims(part, [len, ...shape.slice(1)], srcStrides, dstStrides), shape.length, itemBytes,
      ]);
    },
    // ---- elementwise, conversion and optimizer kernels (assembly/{where,convert,optim}.ts) ----
    compare: ([a, b], o, { op, shape, aStrides, bStrides }) => {
      const inner = shape.slice(1).reduce((x, y) => x * y, 1);
      this.split(this.pick(`f32_${op}`), shape[0], shape[0] * inner, (s, len, part) => [
        a.ptr + 4 * s * aStrides[0], b.ptr + 4 * s * bStrides[0], o.ptr + s * inner, // out: bool bytes
        this.dims(part, [len, ...shape.slice(1)], aStrides, bStrides), shape.length,
      ]);
    },
    where: ([c, a, b], o, { shape, condStrides, aStrides, bStrides }) => {
      const inner = shape.slice(1).reduce((x, y) => x * y, 1);
      this.split(this.pick('f32_where'), shape[0], shape[0] * inner, (s, len, part) => [
        c.ptr + s * condStrides[0], a.ptr + 4 * s * aStrides[0], b.ptr + 4 * s * bStrides[0], o.ptr + 4 * s * inner,
        this.dims(part, [len, ...shape.slice(1)], condStrides, aStrides, bStrides), shape.length,
      ]);
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
    // ---- window ops (assembly/{im2col,col2im,maxpool}.ts; the convolutions: conv-driver.ts) ----
    conv2d: (i, o, p) => conv2dForward(this, i, o, p, IN_PLACE),
    conv2dInputGrad: (i, o, p) => conv2dInputGrad(this, i, o, p, IN_PLACE),
    conv2dWeightGrad: (i, o, p) => conv2dWeightGrad(this, i, o, p, IN_PLACE),
    im2col: ([x], o, p) => {
      const perImage = 4 * p.groups * ((p.c / p.groups) * p.kh * p.kw + (p.ones ? 1 : 0)) * p.oh * p.ow;
      this.split(this.pick('f32_im2col'), p.images, perImage * p.images / 4, (s, len, part) => [
        x.ptr + 4 * (p.first + s) * p.c * p.h * p.w, o.ptr + s * perImage, this.convDesc(part, p, p.ones), len,
      ]);
    },
    col2im: ([cols], o, p) => {
      const perImage = 4 * p.c * p.kh * p.kw * p.oh * p.ow;
      this.split(this.pick('f32_col2im'), p.images, perImage * p.images / 4, (s, len, part) => [
        cols.ptr + s * perImage, o.ptr + 4 * (p.first + s) * p.c * p.h * p.w, this.convDesc(part, p, false), len,
      ]);
    },
    maxPool2d: ([x], o, p) => {
      const hw = p.h * p.w, ohw = p.oh * p.ow;
      this.split('f32_maxpool2d', p.n * p.c, p.n * p.c * ohw * p.kh * p.kw, (s, len, part) => [x.ptr + 4 * s * hw, o.ptr + 4 * s * ohw, this.convDesc(part, p, false), len]);
    },
    maxPool2dGrad: ([x, dy], o, p) => {
      const hw = p.h * p.w, ohw = p.oh * p.ow;
      this.split('f32_maxpool2d_grad', p.n * p.c, p.n * p.c * ohw * p.kh * p.kw, (s, len, part) => [x.ptr + 4 * s * hw, dy.ptr + 4 * s * ohw, o.ptr + 4 * s * hw, this.convDesc(part, p, false), len]);
    },
    unscale: ([found], g, { size, invScale }) => {
      const parts = this.split(this.pick('f32_unscale'), size, size, (s, len) => [g.ptr + 4 * s, len, invScale]);
      if (parts.some(([, r]) => r !== 0)) this.i32()[found.ptr >>> 2] = 1;
    },
  };

  /** Bias corrections and the decoupled decay factor in f64 here; the kernel gets them as f32. */
  private adam([g, m, v]: WasmBuf[], p: WasmBuf, { size, lr, beta1, beta2, eps, weightDecay, step }: AdamParams, decoupled: boolean): void {
    const stepSize = lr / (1 - beta1 ** step), bc2Sqrt = Math.sqrt(1 - beta2 ** step);
    const l2 = decoupled ? 0 : weightDecay, decay = decoupled ? 1 - lr * weightDecay : 1;
    this.fn('f32_adam')(p.ptr, g.ptr, m.ptr, v.ptr, size, beta1, 1 - beta1, beta2, 1 - beta2, eps, l2, decay, stepSize, bc2Sqrt);
  }

  /** The window-op descriptor (assembly/conv_desc.ts) in thread `part`'s scratch block. */
  private convDesc(part: number, p: PoolGeom & Partial<ConvGeom>, ones: boolean): number {
    return this.dims(part, [p.c, p.h, p.w, p.kh, p.kw, p.oh, p.ow, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw, p.groups ?? 1, ones ? 1 : 0]);
  }

  /** Re-made after memory.grow detaches the old buffer. */
  private i32(): Int32Array {
    if (this.i32View.buffer !== this.memory.buffer) this.i32View = new Int32Array(this.memory.buffer);
    return this.i32View;
  }
}
