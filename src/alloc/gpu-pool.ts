/**
 * The GPU buffer pool: every GPUBuffer the gpu backend uses (tensors, uniform arenas, index
 * flags, readback staging) is taken from here and given back here, bucketed by usage and size
 * class (four classes per doubling, so at most 25% rounding waste past 256 bytes).
 *
 * Submit boundaries: a released buffer may still be named by dispatches recorded in the open
 * batch. It waits in `pending` until the owner calls `submitted()` right after that batch's
 * queue.submit; from then on WebGPU's queue order puts any later use after the work that read
 * it, so reuse never races the GPU. A buffer released while no batch is open joins at once.
 *
 * Caps: at most `maxFreePerClass` idle buffers per bucket and `maxFreeBytes` idle in all;
 * past them a released buffer is destroyed, so the pool cannot hoard. `emptyCache()` destroys
 * every idle one (torch.cuda.empty_cache()).
 *
 * Pressure: a budget (`limit`, init's gpuMemoryLimit) bounds the bytes reserved; a request past
 * it, or one the device refuses synchronously, empties the cache and retries once, then throws
 * OutOfMemoryError with the request and the stats. A refusal WebGPU only reports through an
 * error scope (asynchronously) is kept and thrown by the owner's next call (see `refused`).
 */
import { OutOfMemoryError } from '../errors.js';
import type { HeapStats } from './slab.js';

/** Bytes of a buffer serving a request: a multiple of 4, rounded up to its class. */
export function gpuClassSize(bytes: number): number {
  const b = Math.max(4, Math.ceil(bytes / 4) * 4);
  if (b <= 256) return Math.ceil(b / 16) * 16;
  // b in (2^(n-1), 2^n]: round up to a quarter of 2^(n-1).
  const step = 2 ** (Math.ceil(Math.log2(b)) - 3);
  return Math.ceil(b / step) * step;
}

export interface GPUPoolOptions {
  maxFreePerClass?: number;
  maxFreeBytes?: number;
  /** Most bytes reserved at once (buffers in use, pending and idle). */
  limit?: number;
}

export class GPUBufferPool {
  private readonly idle = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly inUse = new WeakSet<GPUBuffer>();
  private idleBytes = 0;
  readonly maxFreePerClass: number;
  readonly maxFreeBytes: number;
  limit: number;
  bytesInUse = 0;
  bytesReserved = 0;
  peakBytesInUse = 0;
  allocations = 0;
  reservations = 0;
  /** A device refusal an error scope reported after the fact; the owner throws it. */
  refused: string | null = null;

  /** @param batchOpen true while the owner has recorded work not yet submitted. */
  constructor(private readonly device: GPUDevice, private readonly batchOpen: () => boolean, opts: GPUPoolOptions = {}) {
    this.maxFreePerClass = opts.maxFreePerClass ?? 64;
    this.maxFreeBytes = opts.maxFreeBytes ?? 512 * 2 ** 20;
    this.limit = opts.limit ?? Infinity;
  }

  get stats(): HeapStats {
    const { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations } = this;
    return { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations };
  }

  /** An idle buffer of this usage and class, or a new one. */
  acquire(bytes: number, usage: number): GPUBuffer {
    this.allocations++;
    const size = gpuClassSize(bytes);
    const buf = this.idle.get(key(size, usage))?.pop();
    if (buf) this.idleBytes -= size;
    const got = buf ?? this.create(bytes, size, usage);
    this.inUse.add(got);
    this.bytesInUse += size;
    if (this.bytesInUse > this.peakBytesInUse) this.peakBytesInUse = this.bytesInUse;
    return got;
  }

  /** Give a buffer back: pooled at the next submit boundary (see the file comment). */
  release(buf: GPUBuffer): void {
    if (!this.inUse.delete(buf)) throw new Error('gpu pool: release of a buffer that is not in use');
    this.bytesInUse -= buf.size;
    if (this.batchOpen()) this.pending.push(buf);
    else this.park(buf);
  }

  /** Call right after queue.submit of the open batch: pending buffers become reusable. */
  submitted(): void {
    const p = this.pending;
    this.pending = [];
    for (const b of p) this.park(b);
  }

  /** Destroy every idle buffer; returns the bytes given back to the system. */
  emptyCache(): number {
    const freed = this.idleBytes;
    for (const list of this.idle.values()) for (const b of list) this.destroy(b);
    this.idle.clear();
    this.idleBytes = 0;
    return freed;
  }

  resetPeak(): void { this.peakBytesInUse = this.bytesInUse; }

  /** Count memory the owner obtained itself (the upload ring's mapped buffers). */
  reserved(bytes: number): void {
    this.bytesReserved += bytes;
    this.reservations++;
  }

  private park(buf: GPUBuffer): void {
    const k = key(buf.size, buf.usage);
    let list = this.idle.get(k);
    if (!list) this.idle.set(k, (list = []));
    if (list.length >= this.maxFreePerClass || this.idleBytes + buf.size > this.maxFreeBytes) return this.destroy(buf);
    list.push(buf);
    this.idleBytes += buf.size;
  }

  private destroy(buf: GPUBuffer): void {
    this.bytesReserved -= buf.size;
    buf.destroy();
  }

  private create(bytes: number, size: number, usage: number): GPUBuffer {
    for (let attempt = 0; ; attempt++) {
      const refusal = this.bytesReserved + size > this.limit
        ? `it would take the bytes reserved past the gpuMemoryLimit of ${this.limit}`
        : null;
      if (refusal === null) {
        try {
          const buf = this.createScoped(size, usage);
          this.bytesReserved += size;
          this.reservations++;
          return buf;
        } catch (e) {
          if (attempt > 0) throw this.oom(bytes, size, (e as Error).message);
        }
      } else if (attempt > 0) {
        throw this.oom(bytes, size, refusal);
      }
      this.emptyCache();
    }
  }

  /** createBuffer inside an out-of-memory error scope; a late refusal is kept in `refused`. */
  private createScoped(size: number, usage: number): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    const buf = this.device.createBuffer({ size, usage });
    void this.device.popErrorScope().then((err) => {
      if (err) this.refused ??= `gpu: the device refused a buffer of ${size} bytes (${err.message}); stats ${JSON.stringify(this.stats)}`;
    }, () => { /* a lost device is reported by the owner */ });
    return buf;
  }

  private oom(bytes: number, size: number, why: string): OutOfMemoryError {
    return new OutOfMemoryError(`gpu: cannot allocate ${bytes} bytes (a ${size}-byte buffer) after emptying the cache: ${why}; stats ${JSON.stringify(this.stats)}`);
  }
}

function key(size: number, usage: number): string { return `${usage}:${size}`; }
