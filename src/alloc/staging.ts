/**
 * The upload ring: host-to-device copies without waiting on mapAsync (the analogue of pinned
 * memory). A few MAP_WRITE | COPY_SRC chunks are kept mapped ahead of time; `stage` copies the
 * host bytes into the current chunk's mapped range and returns where they are, and the owner
 * records a copyBufferToBuffer from there into its open batch. At the batch's submit the chunks
 * it used are unmapped (`beforeSubmit`, a buffer must be unmapped to be used), then re-mapped in
 * the background (`afterSubmit`); a chunk rejoins the ring once its mapAsync resolves.
 *
 * Quirk: nothing on the hot path waits. When no chunk is mapped yet (all re-mapping) or the data
 * is larger than a chunk, `stage` returns null and the owner falls back to queue.writeBuffer,
 * which is correct, only a copy more. The ring is made whole on first use (mappedAtCreation, so
 * usable at once), so its memory is reserved once and never again in steady state.
 *
 * The readback side is the buffer pool's MAP_READ bucket: staging buffers are reused by size
 * class instead of created per read (a readback must wait for its data, so it maps on demand).
 */

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const MAP_WRITE = 0x02, COPY_SRC = 0x04, MAP_MODE_WRITE = 0x2;

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
