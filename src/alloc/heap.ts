/**
 * A first-fit, coalescing free-list heap over a range of byte offsets. It knows nothing of
 * Wasm: it hands out 16-byte-aligned offsets (v128 loads) in [base, end) and asks `grow` for
 * more room when no free block fits, so it is unit-tested on plain numbers.
 * The foundation's allocator; the slab allocator of the memory issue replaces it.
 */
export const ALIGN = 16;

export class FreeListHeap {
  /** Free blocks sorted by offset, never adjacent (they are merged on free). */
  private free: { at: number; size: number }[] = [];
  private live = new Map<number, number>();
  bytesInUse = 0;

  /** @param grow called with the bytes still missing; returns the new end of the range. */
  constructor(base: number, private end: number, private readonly grow: (bytes: number) => number) {
    const start = alignUp(base);
    if (end > start) this.free.push({ at: start, size: end - start });
  }

  alloc(bytes: number): number {
    const size = Math.max(ALIGN, alignUp(bytes));
    let i = this.free.findIndex((b) => b.size >= size);
    if (i < 0) i = this.extend(size);
    const block = this.free[i];
    const at = block.at;
    if (block.size === size) this.free.splice(i, 1);
    else { block.at += size; block.size -= size; }
    this.live.set(at, size);
    this.bytesInUse += size;
    return at;
  }

  free_(at: number): void {
    const size = this.live.get(at);
    if (size === undefined) throw new Error(`heap: free of ${at}, which is not a live block`);
    this.live.delete(at);
    this.bytesInUse -= size;
    this.insertFree(at, size);
  }

  get liveBlocks(): number { return this.live.size; }

  /** Grow the range so a block of `size` fits at its end; returns that block's index. */
  private extend(size: number): number {
    const last = this.free[this.free.length - 1];
    const tailFree = last && last.at + last.size === this.end ? last.size : 0;
    const oldEnd = this.end;
    this.end = this.grow(size - tailFree);
    if (this.end < oldEnd + size - tailFree) throw new Error(`heap: grow gave ${this.end - oldEnd} bytes, ${size - tailFree} needed`);
    this.insertFree(oldEnd, this.end - oldEnd);
    return this.free.length - 1;
  }

  private insertFree(at: number, size: number): void {
    let i = 0;
    while (i < this.free.length && this.free[i].at < at) i++;
    const prev = this.free[i - 1], next = this.free[i];
    if (prev && prev.at + prev.size === at) {
      prev.size += size;
      if (next && prev.at + prev.size === next.at) { prev.size += next.size; this.free.splice(i, 1); }
    } else if (next && at + size === next.at) {
      next.at = at; next.size += size;
    } else {
      this.free.splice(i, 0, { at, size });
    }
  }
}

export function alignUp(n: number, a = ALIGN): number {
  return Math.ceil(n / a) * a;
}
