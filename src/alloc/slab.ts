/**
 * The Wasm heap: a slab allocator over a range of byte offsets. Like FreeListHeap (which it
 * builds on) it knows nothing of Wasm, so it is unit-tested on plain numbers; the cpu backend
 * runs it over linear memory (shared memory when threaded; only the calling thread allocates).
 *
 * - Small and medium blocks (up to SLAB_MAX bytes) come from size classes, four per doubling
 *   (at most 25% rounding waste), each a list of slabs: SLAB-byte blocks of the range cut into
 *   equal blocks. A slab hands out never-used blocks by bumping and freed ones from its own
 *   free list, so taking a slab for a class is O(1) whatever its block count.
 * - A slab whose blocks are all free leaves its class for a shared list of empty slabs, from
 *   which any class can take it back without carving new memory, unless it is the class's only
 *   slab with room (so a class that empties and refills every step does not churn).
 *   `emptyCache()` returns every empty slab to the large-block list, where they coalesce.
 * - Large blocks, and the slabs themselves, come from a first-fit coalescing free list.
 * - The range grows (memory.grow) only when that list has no room: never while a slab can serve.
 *
 * Every block is 16-byte aligned (v128). Counters follow memoryStats(): `allocations` counts
 * alloc calls, `reservations` the times memory was obtained (a new slab, a grow).
 */
import { ALIGN, FreeListHeap, alignUp } from './heap.js';

/** Largest block served by a slab; bigger ones go to the coalescing list. */
export const SLAB_MAX = 16384;
/** Bytes of one slab (a SLAB_MAX block still gets 8 per slab). */
export const SLAB = 131072;

interface Slab { at: number; cls: number; used: number; bumped: number; capacity: number; free: number[] }

/** Block sizes of the classes: 16, 32, 48, 64, then four steps per doubling up to SLAB_MAX. */
export const CLASS_SIZES: readonly number[] = (() => {
  const out = [16, 32, 48, 64];
  for (let p = 64; p < SLAB_MAX; p *= 2) for (const q of [1.25, 1.5, 1.75, 2]) out.push(alignUp(p * q));
  return out;
})();

/** Index of the smallest class holding `bytes` (bytes <= SLAB_MAX). */
export function classOf(bytes: number): number {
  let lo = 0, hi = CLASS_SIZES.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CLASS_SIZES[mid] >= bytes) hi = mid; else lo = mid + 1;
  }
  return lo;
}

export interface HeapStats {
  bytesInUse: number; bytesReserved: number; peakBytesInUse: number;
  allocations: number; reservations: number;
}

export class SlabHeap {
  private readonly large: FreeListHeap;
  /** Per class, the slabs with at least one free block. */
  private readonly avail: Slab[][] = CLASS_SIZES.map(() => []);
  private readonly empty: Slab[] = [];
  /** Live block -> its slab, or null for a large block. */
  private readonly live = new Map<number, Slab | null>();
  private readonly base: number;
  private end: number;
  bytesInUse = 0;
  peakBytesInUse = 0;
  allocations = 0;
  reservations = 0;

  /**
   * @param grow called with the bytes still missing; returns the new end of the range, or
   *   throws (OutOfMemoryError) when it may not grow.
   */
  constructor(base: number, end: number, grow: (bytes: number) => number) {
    this.base = alignUp(base);
    this.end = end;
    this.large = new FreeListHeap(base, end, (bytes) => {
      this.end = grow(bytes);
      this.reservations++;
      return this.end;
    });
  }

  /** Bytes of the range obtained so far (from the aligned base to the end). */
  get bytesReserved(): number { return this.end - this.base; }
  get liveBlocks(): number { return this.live.size; }
  get stats(): HeapStats {
    const { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations } = this;
    return { bytesInUse, bytesReserved, peakBytesInUse, allocations, reservations };
  }

  /** A 16-byte-aligned block of at least `bytes` (at least 16) bytes. */
  alloc(bytes: number): number {
    this.allocations++;
    const size = Math.max(ALIGN, alignUp(bytes));
    let at: number, got: number;
    if (size > SLAB_MAX) {
      at = this.large.alloc(size);
      got = size;
      this.live.set(at, null);
    } else {
      const cls = classOf(size);
      const slab = this.slabFor(cls);
      at = slab.free.length > 0 ? slab.free.pop()! : slab.at + CLASS_SIZES[cls] * slab.bumped++;
      if (++slab.used === slab.capacity) this.avail[cls].splice(this.avail[cls].indexOf(slab), 1);
      got = CLASS_SIZES[cls];
      this.live.set(at, slab);
    }
    this.bytesInUse += got;
    if (this.bytesInUse > this.peakBytesInUse) this.peakBytesInUse = this.bytesInUse;
    return at;
  }

  free(at: number): void {
    const slab = this.live.get(at);
    if (slab === undefined) throw new Error(`heap: free of ${at}, which is not a live block`);
    this.live.delete(at);
    if (slab === null) {
      const before = this.large.bytesInUse;
      this.large.free_(at);
      this.bytesInUse -= before - this.large.bytesInUse;
      return;
    }
    this.bytesInUse -= CLASS_SIZES[slab.cls];
    slab.free.push(at);
    const list = this.avail[slab.cls];
    if (slab.used-- === slab.capacity) list.push(slab);
    if (slab.used === 0 && list.length > 1) {
      list.splice(list.indexOf(slab), 1);
      this.empty.push(slab);
    }
  }

  /** Return empty slabs to the large-block list, where they coalesce. Returns the bytes released. */
  emptyCache(): number {
    for (const list of this.avail) {
      for (let i = list.length - 1; i >= 0; i--) if (list[i].used === 0) this.empty.push(...list.splice(i, 1));
    }
    const n = this.empty.length;
    for (const s of this.empty) this.large.free_(s.at);
    this.empty.length = 0;
    return n * SLAB;
  }

  resetPeak(): void { this.peakBytesInUse = this.bytesInUse; }

  /** A slab of class `cls` with a free block: a partly used one, an empty one, or a new one. */
  private slabFor(cls: number): Slab {
    const list = this.avail[cls];
    if (list.length > 0) return list[list.length - 1];
    let slab = this.empty.pop();
    if (slab) {
      slab.cls = cls; slab.bumped = 0; slab.free.length = 0;
      slab.capacity = Math.floor(SLAB / CLASS_SIZES[cls]);
    } else {
      slab = { at: this.large.alloc(SLAB), cls, used: 0, bumped: 0, capacity: Math.floor(SLAB / CLASS_SIZES[cls]), free: [] };
      this.reservations++;
    }
    list.push(slab);
    return slab;
  }
}
