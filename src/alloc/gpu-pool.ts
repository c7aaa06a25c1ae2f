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
 * OutOfMemoryError with the request and the stats. WebGPU reports most refusals only later,
 * through an 'out-of-memory' error scope, and a refused buffer is invalid: every command buffer
 * naming it fails. So a retry is only sound before the buffer's first use, which the pool cannot
 * delay but its owner can: `acquireChecked` returns, for a new buffer of at least `checkAbove`
 * bytes, a `settled` promise, and the owner holds every use until it resolves to the buffer to
 * use (the same one, or a replacement made after emptying the cache) or to the OutOfMemoryError
 * of a second refusal. A late refusal of anything else (small buffers, plain `acquire`) cannot
 * be retried: it is kept in `refused` for the owner's next call to throw.
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
  /** Class size from which acquireChecked's new buffers wait for the device's verdict (1 MiB). */
  checkAbove?: number;
}

/** What acquireChecked's `settled` resolves to: the buffer to use, or why there is none. */
export type Settled = GPUBuffer | OutOfMemoryError;

/** A buffer just created inside an 'out-of-memory' error scope, and that scope's answer. */
interface Made { buffer: GPUBuffer; refusal: Promise<GPUError | null> }

export class GPUBufferPool {
  private readonly idle = new Map<string, GPUBuffer[]>();
  private pending: GPUBuffer[] = [];
  private readonly inUse = new WeakSet<GPUBuffer>();
  /** Buffers the device refused twice, still held by their owner; they count nowhere. */
  private readonly refusedBuffers = new WeakSet<GPUBuffer>();
  private idleBytes = 0;
  readonly maxFreePerClass: number;
  readonly maxFreeBytes: number;
  limit: number;
  checkAbove: number;
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
    this.checkAbove = opts.checkAbove ?? 2 ** 20;
  }

  get stats(): HeapStats {
    const { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations } = this;
    return { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations };
  }

  /** An idle buffer of this usage and class, or a new one (a late refusal goes to `refused`). */
  acquire(bytes: number, usage: number): GPUBuffer {
    return this.take(bytes, usage, false).buffer;
  }

  /**
   * acquire() for an owner that can delay the buffer's first use. `settled` is null when there
   * is nothing to wait for (a pooled buffer, or a new one under `checkAbove`). Otherwise the
   * owner must not name `buffer` in any command until `settled` resolves (it never rejects) to
   * the buffer to use instead; after a first refusal the cache was emptied and a new buffer
   * made. An OutOfMemoryError means the device refused twice: `buffer` is invalid, holds no
   * bytes in the stats, and release() takes it back like any other.
   */
  acquireChecked(bytes: number, usage: number): { buffer: GPUBuffer; settled: Promise<Settled> | null } {
    return this.take(bytes, usage, true);
  }

  private take(bytes: number, usage: number, checked: boolean): { buffer: GPUBuffer; settled: Promise<Settled> | null } {
    this.allocations++;
    const size = gpuClassSize(bytes);
    let buffer = this.idle.get(key(size, usage))?.pop();
    let settled: Promise<Settled> | null = null;
    if (buffer) this.idleBytes -= size;
    else {
      const made = this.create(bytes, size, usage);
      buffer = made.buffer;
      if (checked && size >= this.checkAbove) settled = this.settle(bytes, size, usage, made);
      else void made.refusal.then((err) => { if (err) this.refused ??= this.describe(bytes, size, err); });
    }
    this.inUse.add(buffer);
    this.count(size);
    return { buffer, settled };
  }

  private count(size: number): void {
    this.bytesInUse += size;
    if (this.bytesInUse > this.peakBytesInUse) this.peakBytesInUse = this.bytesInUse;
  }

  /** acquireChecked's verdict: the buffer if accepted, else one retry after emptying the cache. */
  private async settle(bytes: number, size: number, usage: number, first: Made): Promise<Settled> {
    const err = await first.refusal;
    if (!err) return first.buffer;
    // The refused buffer never held memory: it leaves the stats before the retry is measured,
    // and its owner keeps it until release() (refusedBuffers) unless a replacement is made.
    this.inUse.delete(first.buffer);
    this.refusedBuffers.add(first.buffer);
    this.bytesInUse -= size;
    this.bytesReserved -= size;
    first.buffer.destroy();
    this.emptyCache();
    let again: Made;
    try {
      again = this.create(bytes, size, usage);
    } catch (e) {
      return e as OutOfMemoryError; // past the budget, or refused at once: create() tried twice
    }
    const err2 = await again.refusal;
    if (err2) {
      this.bytesReserved -= size;
      again.buffer.destroy();
      return this.oom(bytes, size, `the device refused it twice (${err2.message})`);
    }
    this.refusedBuffers.delete(first.buffer);
    this.inUse.add(again.buffer);
    this.count(size);
    return again.buffer;
  }

  /** Give a buffer back: pooled at the next submit boundary (see the file comment). */
  release(buf: GPUBuffer): void {
    if (this.refusedBuffers.delete(buf)) return; // destroyed already, and counted nowhere
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

  private create(bytes: number, size: number, usage: number): Made {
    for (let attempt = 0; ; attempt++) {
      const refusal = this.bytesReserved + size > this.limit
        ? `it would take the bytes reserved past the gpuMemoryLimit of ${this.limit}`
        : null;
      if (refusal === null) {
        try {
          const made = this.createScoped(size, usage);
          this.bytesReserved += size;
          this.reservations++;
          return made;
        } catch (e) {
          if (attempt > 0) throw this.oom(bytes, size, (e as Error).message);
        }
      } else if (attempt > 0) {
        throw this.oom(bytes, size, refusal);
      }
      this.emptyCache();
    }
  }

  /** createBuffer inside an 'out-of-memory' error scope; `refusal` never rejects. */
  private createScoped(size: number, usage: number): Made {
    this.device.pushErrorScope('out-of-memory');
    const buffer = this.device.createBuffer({ size, usage });
    const refusal = this.device.popErrorScope().catch(() => null); // a lost device is reported by the owner
    return { buffer, refusal };
  }

  private describe(bytes: number, size: number, err: GPUError): string {
    return `gpu: the device refused a buffer of ${size} bytes, for a request of ${bytes} (${err.message}); stats ${JSON.stringify(this.stats)}`;
  }

  private oom(bytes: number, size: number, why: string): OutOfMemoryError {
    return new OutOfMemoryError(`gpu: cannot allocate ${bytes} bytes (a ${size}-byte buffer) after emptying the cache: ${why}; stats ${JSON.stringify(this.stats)}`);
  }
}

function key(size: number, usage: number): string { return `${usage}:${size}`; }
