/**
 * Staging rings: host-to-device and device-to-host copies without mapAsync on the hot path
 * (the analogue of pinned memory).
 *
 * The upload ring: a few MAP_WRITE | COPY_SRC chunks are kept mapped ahead of time; `stage`
 * copies the host bytes into the current chunk's mapped range and returns where they are, and
 * the owner records a copyBufferToBuffer from there into its open batch. At the batch's submit
 * the chunks it used are unmapped (`beforeSubmit`, a buffer must be unmapped to be used), then
 * re-mapped in the background (`afterSubmit`); a chunk rejoins the ring once its mapAsync
 * resolves.
 *
 * Quirk: nothing on the hot path waits. When no chunk is mapped yet (all re-mapping) or the data
 * is larger than a chunk, `stage` returns null and the owner falls back to queue.writeBuffer,
 * which is correct, only a copy more. The ring is made whole on first use (mappedAtCreation, so
 * usable at once), so its memory is reserved once and never again in steady state.
 *
 * The readback ring: a read cannot avoid waiting for its data, but reads issued together can
 * share the wait. Each read `reserve`s a range of the open batch's MAP_READ | COPY_DST chunk
 * (sub-allocated at 4-byte alignment, WebGPU's copy alignment) and the owner copies into it;
 * after the batch's submit (`afterSubmit`) each chunk is mapped once, every read's bytes are
 * copied out, and the chunk is unmapped and given back to the buffer pool, where the next
 * batch finds it. So N reads in one batch cost one submit and one mapAsync, not N. A read
 * larger than a chunk gets a chunk of its own size, still pooled. Chunks are never reused while
 * mapped or while a read still needs them: a chunk is in use from its first reserve until its
 * reads have their bytes. Being pooled, the chunks are in memoryStats and emptyCache frees them.
 */
import type { GPUBufferPool } from './gpu-pool.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const MAP_WRITE = 0x02, COPY_SRC = 0x04, MAP_MODE_WRITE = 0x2, MAP_READ = 0x01, COPY_DST = 0x08, MAP_MODE_READ = 0x1;

interface Chunk { buffer: GPUBuffer; range: Uint8Array | null; used: number }

export class UploadRing {
  private ready: Chunk[] = [];
  private inBatch: Chunk[] = [];
  private current: Chunk | null = null;
  private made = false;
  /** Writes that went through the ring, and those that fell back to queue.writeBuffer. */
  staged = 0;
  fallbacks = 0;

  /** @param reserved told the bytes of each chunk made (the pool's accounting). */
  constructor(private readonly device: GPUDevice, readonly chunkBytes = 1 << 20, readonly chunks = 4,
    private readonly reserved: (bytes: number) => void = () => {}) {}

  /**
   * Copy `data` into mapped staging memory; returns the chunk and offset to copy from (the
   * copy's size is byteLength rounded up to 4, the pad zeroed), or null to fall back.
   */
  stage(data: ArrayBufferView): { buffer: GPUBuffer; offset: number } | null {
    const size = Math.ceil(data.byteLength / 4) * 4;
    if (size > this.chunkBytes) return this.miss();
    if (!this.made) this.make();
    if (this.current && this.current.used + size > this.chunkBytes) this.current = null;
    if (!this.current) {
      this.current = this.ready.pop() ?? null;
      if (!this.current) return this.miss();
      this.inBatch.push(this.current);
    }
    const c = this.current, offset = c.used;
    c.range!.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
    c.range!.fill(0, offset + data.byteLength, offset + size);
    c.used += size;
    this.staged++;
    return { buffer: c.buffer, offset };
  }

  /** Unmap the chunks the open batch copies from; call just before its submit. */
  beforeSubmit(): void {
    for (const c of this.inBatch) { c.buffer.unmap(); c.range = null; }
  }

  /** Re-map the chunks just submitted, in the background. */
  afterSubmit(): void {
    for (const c of this.inBatch) {
      c.used = 0;
      c.buffer.mapAsync(MAP_MODE_WRITE).then(() => {
        c.range = new Uint8Array(c.buffer.getMappedRange());
        this.ready.push(c);
      }, () => { /* device lost or destroyed: the chunk is dropped */ });
    }
    this.inBatch = [];
    this.current = null;
  }

  destroy(): void {
    for (const c of [...this.ready, ...this.inBatch]) c.buffer.destroy();
    this.ready = [];
    this.inBatch = [];
    this.current = null;
  }

  private make(): void {
    this.made = true;
    for (let i = 0; i < this.chunks; i++) {
      const buffer = this.device.createBuffer({ size: this.chunkBytes, usage: MAP_WRITE | COPY_SRC, mappedAtCreation: true });
      this.reserved(this.chunkBytes);
      this.ready.push({ buffer, range: new Uint8Array(buffer.getMappedRange()), used: 0 });
    }
  }

  private miss(): null {
    this.fallbacks++;
    return null;
  }
}

/** A read's room in a readback chunk: copy `ceil4(bytes)` to `buffer` at `offset`, then await `data`. */
export interface ReadbackSlot { buffer: GPUBuffer; offset: number; data: Promise<Uint8Array> }

interface Reader { offset: number; bytes: number; resolve(d: Uint8Array): void; reject(e: unknown): void }
interface ReadChunk { buffer: GPUBuffer; used: number; readers: Reader[] }

export class ReadbackRing {
  private current: ReadChunk | null = null;
  private inBatch: ReadChunk[] = [];
  /** Reads served, and chunks mapped to serve them. */
  reads = 0;
  maps = 0;

  constructor(private readonly pool: GPUBufferPool, readonly chunkBytes = 256 * 1024) {}

  /** Room for `bytes` (> 0) in the open batch; `data` resolves after that batch is submitted. */
  reserve(bytes: number): ReadbackSlot {
    const size = Math.ceil(bytes / 4) * 4;
    let c = this.current;
    if (!c || c.used + size > c.buffer.size) {
      c = { buffer: this.pool.acquire(Math.max(this.chunkBytes, size), MAP_READ | COPY_DST), used: 0, readers: [] };
      this.inBatch.push(c);
      this.current = c;
    }
    const offset = c.used;
    c.used += size;
    this.reads++;
    const readers = c.readers;
    const data = new Promise<Uint8Array>((resolve, reject) => readers.push({ offset, bytes, resolve, reject }));
    // A reader that stops listening (its read failed on an earlier check, or an index-flag slot
    // behind a failed data slot) must not turn a later rejection into an unhandled one; whoever
    // awaits `data` still sees it.
    data.catch(() => {});
    return { buffer: c.buffer, offset, data };
  }

  /** Map the chunks the batch just submitted copied into; each read gets its bytes. */
  afterSubmit(): void {
    for (const c of this.inBatch) {
      this.maps++;
      c.buffer.mapAsync(MAP_MODE_READ, 0, c.used).then(() => {
        const range = c.buffer.getMappedRange(0, c.used);
        return c.readers.map((r) => new Uint8Array(range.slice(r.offset, r.offset + r.bytes)));
      }).then((got) => {
        this.giveBack(c, true);
        c.readers.forEach((r, i) => r.resolve(got[i]));
      }, (e: unknown) => {
        this.giveBack(c, c.buffer.mapState === 'mapped'); // device lost or destroyed: the owner's check reports it
        for (const r of c.readers) r.reject(e);
      });
    }
    this.inBatch = [];
    this.current = null;
  }

  /** Fail the reads of a batch that will never be submitted (the owner is shutting down). */
  destroy(why: Error): void {
    for (const c of this.inBatch) {
      this.giveBack(c, false);
      for (const r of c.readers) r.reject(why);
    }
    this.inBatch = [];
    this.current = null;
  }

  /** Unmapped and back in the pool before any read resumes, so its bytes are free by then. */
  private giveBack(c: ReadChunk, mapped: boolean): void {
    try {
      if (mapped) c.buffer.unmap();
    } catch {
      // Deno throws OperationError when the device was destroyed (shutdown) since the map: the
      // buffer is gone with it, and the reads already have their bytes or their error.
    }
    this.pool.release(c.buffer);
  }
}
