/**
 * Index errors found on the gpu. The seam says a bad label, gather index or one-hot class is
 * an IndexError thrown by run(), but on the gpu run() never sees the data. So a kernel that
 * indexes by data (crossEntropy, gather, oneHot) gets one more binding: a fresh 8-byte flag
 * buffer [found, first position] = [0, 0xffffffff]. On a bad index it writes a harmless value
 * (NaN for a cross-entropy row, zeros for gather and oneHot), sets found and atomicMin()s the
 * position. The next read() of any buffer copies the pending flags back with its own data and
 * throws IndexError for the earliest run that flagged, naming its kernel, the position and the
 * range (the bad value itself is not recorded). Flags are dropped once read, whether set or not.
 * Flag and staging buffers come from the backend's pool (8 bytes each, reused in steady state).
 */
import type { GPUBufferPool } from '../alloc/gpu-pool.js';
import { IndexError } from '../errors.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01, MAP_MODE_READ = 0x1;

/** Builds the message for the first flagged position of one run. */
export type DescribeIndexError = (position: number) => string;

export class GPUIndexErrors {
  private pending: { flags: GPUBuffer; describe: DescribeIndexError }[] = [];

  constructor(private readonly device: GPUDevice, private readonly pool: GPUBufferPool) {}

  /** A flag buffer for a run about to be submitted; bind it after the uniform. */
  track(describe: DescribeIndexError): GPUBuffer {
    // Queued now, so before the submit of the batch this run joins; a pooled buffer is never
    // still named by an unsubmitted batch (the pool's pending rule).
    const flags = this.pool.acquire(8, STORAGE | COPY_SRC | COPY_DST);
    this.device.queue.writeBuffer(flags, 0, new Uint32Array([0, 0xffffffff]));
    this.pending.push({ flags, describe });
    return flags;
  }

  /**
   * Submit the read-back of every pending flag (call right after a read's own submit, so it
   * sees all runs before it). Resolves to the IndexError to throw, or null; never rejects.
   */
  collect(): Promise<IndexError | null> {
    const runs = this.pending;
    if (runs.length === 0) return Promise.resolve(null);
    this.pending = [];
    const size = 8 * runs.length;
    const staging = this.pool.acquire(size, MAP_READ | COPY_DST);
    const enc = this.device.createCommandEncoder();
    runs.forEach((r, i) => enc.copyBufferToBuffer(r.flags, 0, staging, 8 * i, 8));
    this.device.queue.submit([enc.finish()]);
    for (const r of runs) this.pool.release(r.flags); // queue order puts any reuse after the copy
    return staging.mapAsync(MAP_MODE_READ, 0, size).then(
      () => {
        const words = new Uint32Array(staging.getMappedRange(0, size).slice(0));
        staging.unmap();
        this.pool.release(staging);
        const i = runs.findIndex((_, k) => words[2 * k] !== 0);
        return i < 0 ? null : new IndexError(runs[i].describe(words[2 * i + 1]));
      },
      () => { this.pool.release(staging); return null; }, // a lost device is reported by the backend's own check
    );
  }
}
