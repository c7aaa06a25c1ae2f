/**
 * Index errors found on the gpu. The seam says a bad label, gather index or one-hot class is
 * an IndexError thrown by run(), but on the gpu run() never sees the data. So a kernel that
 * indexes by data (crossEntropy, gather, oneHot) gets one more binding: a fresh 8-byte flag
 * buffer [found, first position] = [0, 0xffffffff]. On a bad index it writes a harmless value
 * (NaN for a cross-entropy row, zeros for gather and oneHot), sets found and atomicMin()s the
 * position. The next read() of any buffer copies the pending flags back with its own data (into
 * the same readback chunk, in the same batch) and throws IndexError for the earliest run that
 * flagged, naming its kernel, the position and the range (the bad value itself is not
 * recorded). Flags are dropped once read, whether set or not. Flag buffers come from the
 * backend's pool (8 bytes each, reused in steady state).
 */
import type { GPUBufferPool } from '../alloc/gpu-pool.js';
import type { ReadbackRing } from '../alloc/staging.js';
import { IndexError } from '../errors.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const STORAGE = 0x80, COPY_SRC = 0x04, COPY_DST = 0x08;

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
   * Record the read-back of every pending flag into `encoder` (the open batch, after every run
   * that was tracked, as a read's own copy is). Resolves, once that batch is submitted and
   * mapped, to the IndexError to throw, or null; never rejects.
   */
  collect(ring: ReadbackRing, encoder: GPUCommandEncoder): Promise<IndexError | null> {
    const runs = this.pending;
    if (runs.length === 0) return Promise.resolve(null);
    this.pending = [];
    const slot = ring.reserve(8 * runs.length);
    runs.forEach((r, i) => encoder.copyBufferToBuffer(r.flags, 0, slot.buffer, slot.offset + 8 * i, 8));
    for (const r of runs) this.pool.release(r.flags); // pooled at this batch's submit, after the copy
    return slot.data.then(
      (bytes) => {
        const words = new Uint32Array(bytes.buffer, bytes.byteOffset, 2 * runs.length);
        const i = runs.findIndex((_, k) => words[2 * k] !== 0);
        return i < 0 ? null : new IndexError(runs[i].describe(words[2 * i + 1]));
      },
      () => null, // a lost device is reported by the backend's own check
    );
  }
}
