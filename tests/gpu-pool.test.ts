/**
 * GPUBufferPool and ReadbackRing on a mock device (no GPU): the submit-boundary rule, buckets,
 * caps, the budget's emptyCache-then-retry, refusals reported by an error scope after the fact
 * (kept, or retried once for acquireChecked), and the readback ring's sub-allocation, growth
 * and reuse.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GPUBufferPool, gpuClassSize } from '../src/alloc/gpu-pool.ts';
import { ReadbackRing } from '../src/alloc/staging.ts';
import { OutOfMemoryError } from '../src/errors.ts';

const STORAGE = 0x80, COPY_DST = 0x08, MAP_READ = 0x01;

interface MockBuffer {
  size: number; usage: number; destroyed: boolean; contents: Uint8Array;
  /** Resolves a pending mapAsync; set while one is pending. */
  finishMap: (() => void) | null; mapped: boolean;
  destroy(): void; mapAsync(mode: number, offset: number, size: number): Promise<void>;
  getMappedRange(offset: number, size: number): ArrayBuffer; unmap(): void;
}

/**
 * A device whose buffers record destroy() and map on demand (`finishMap`); `refuse` makes that
 * many next error scopes report out-of-memory.
 */
function mockDevice() {
  const made: MockBuffer[] = [];
  const dev = {
    made, refuse: 0, scopes: 0,
    createBuffer({ size, usage }: { size: number; usage: number }) {
      const b: MockBuffer = {
        size, usage, destroyed: false, contents: new Uint8Array(size), finishMap: null, mapped: false,
        destroy() { b.destroyed = true; },
        mapAsync() { return new Promise<void>((resolve) => { b.finishMap = () => { b.finishMap = null; b.mapped = true; resolve(); }; }); },
        getMappedRange(offset, n) { return b.contents.slice(offset, offset + n).buffer; },
        unmap() { b.mapped = false; },
      };
      made.push(b);
      return b;
    },
    pushErrorScope() { dev.scopes++; },
    popErrorScope() {
      dev.scopes--;
      const err = dev.refuse > 0 ? { message: 'Out of memory' } : null;
      if (dev.refuse > 0) dev.refuse--;
      return Promise.resolve(err);
    },
  };
  return dev;
}

const ticks = async (n = 4) => { for (let i = 0; i < n; i++) await Promise.resolve(); };

function pool(opts: ConstructorParameters<typeof GPUBufferPool>[2] = {}) {
  const dev = mockDevice();
  const batch = { open: false };
  const p = new GPUBufferPool(dev as unknown as GPUDevice, () => batch.open, opts);
  return { p, dev, batch };
}

test('gpu pool (mock): released during an open batch, a buffer is reusable only after submitted()', () => {
  const { p, batch } = pool();
  const a = p.acquire(1000, STORAGE);
  batch.open = true;
  p.release(a);
  const b = p.acquire(1000, STORAGE);
  assert.ok(a !== b, 'pending, not reused');
  batch.open = false;
  p.submitted();
  assert.ok(p.acquire(1000, STORAGE) === a, 'reused after the boundary');
  p.release(b); // no batch open: idle at once
  assert.ok(p.acquire(999, STORAGE) === b, 'same class');
  assert.is(p.reservations, 2);
  assert.is(p.allocations, 4);
});

test('gpu pool (mock): buckets by usage and class; caps per class and in bytes; emptyCache', () => {
  const { p, dev } = pool({ maxFreePerClass: 3, maxFreeBytes: 4 * gpuClassSize(4096) });
  const a = p.acquire(4096, STORAGE), r = p.acquire(4096, MAP_READ | COPY_DST);
  p.release(a);
  assert.ok(p.acquire(4096, MAP_READ | COPY_DST) !== a, 'another usage is another bucket');
  assert.ok(p.acquire(5000, STORAGE) !== a, 'another class is another bucket');
  const many = Array.from({ length: 5 }, () => p.acquire(4096, STORAGE)); // a is among them
  for (const b of many) p.release(b);
  assert.is(dev.made.filter((b) => b.destroyed).length, 2, 'the per-class cap kept 3 of 5');
  p.release(r);
  assert.is(p.emptyCache(), 3 * gpuClassSize(4096) + gpuClassSize(4096));
  assert.is(p.bytesReserved, p.bytesInUse);
  assert.is(p.stats.peakBytesInUse >= p.bytesInUse, true);
});

test('gpu pool (mock): past the budget, idle buffers are destroyed and the request retried, then OutOfMemoryError', () => {
  const limit = 3 * 65536;
  const { p, dev } = pool({ limit });
  const idle = [p.acquire(65536, STORAGE), p.acquire(65536, STORAGE)];
  for (const b of idle) p.release(b);
  const big = p.acquire(2 * 65536, STORAGE); // 4 * 64 KiB reserved otherwise
  assert.ok(idle.every((b) => (b as unknown as { destroyed: boolean }).destroyed));
  assert.is(p.bytesReserved, 2 * 65536);
  try {
    p.acquire(2 * 65536, STORAGE);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, OutOfMemoryError);
    assert.match((e as Error).message, /131072 bytes/);
    assert.match((e as Error).message, /"bytesInUse":131072/);
  }
  p.release(big);
  assert.is(dev.scopes, 0, 'every error scope pushed was popped');
});

test('gpu pool (mock): a refusal an error scope reports later is kept for the owner to throw', async () => {
  const { p, dev } = pool();
  dev.refuse = 1;
  p.acquire(1 << 20, STORAGE);
  assert.is(p.refused, null);
  await ticks();
  assert.match(p.refused ?? '', /refused a buffer of 1048576 bytes/);
});

test('gpu pool (mock): acquireChecked waits only for new buffers of checkAbove bytes or more', async () => {
  const { p, dev } = pool({ checkAbove: 65536 });
  assert.is(p.acquireChecked(1000, STORAGE).settled, null, 'small');
  const big = p.acquireChecked(65536, STORAGE);
  assert.ok(big.settled);
  assert.is(await big.settled, big.buffer, 'accepted: the same buffer');
  p.release(big.buffer);
  assert.is(p.acquireChecked(65536, STORAGE).settled, null, 'a pool hit');
  assert.is(dev.made.length, 2);
  assert.is(p.refused, null);
});

test('gpu pool (mock): acquireChecked refused once: the cache is emptied and a new buffer replaces the refused one', async () => {
  const { p, dev } = pool();
  const idle = p.acquire(4 << 20, STORAGE);
  p.release(idle);
  dev.refuse = 1;
  const { buffer, settled } = p.acquireChecked(3 << 20, STORAGE);
  const got = await settled;
  assert.ok(got !== buffer && !(got instanceof OutOfMemoryError), 'a replacement');
  const mock = (b: unknown) => b as MockBuffer;
  assert.ok(mock(buffer).destroyed, 'the refused buffer is destroyed');
  assert.ok(mock(idle).destroyed, 'the cache was emptied');
  assert.not.ok(mock(got).destroyed);
  const size = gpuClassSize(3 << 20);
  assert.equal([p.bytesInUse, p.bytesReserved, p.reservations], [size, size, 3]);
  assert.is(p.refused, null, 'nothing left for the owner to throw');
  p.release(got as GPUBuffer);
  assert.is(p.bytesInUse, 0);
  assert.is(dev.scopes, 0);
});

test('gpu pool (mock): acquireChecked refused twice: OutOfMemoryError with the size and stats; nothing held; the pool works on', async () => {
  const { p, dev } = pool();
  const held = p.acquire(1000, STORAGE);
  dev.refuse = 2;
  const { buffer, settled } = p.acquireChecked(5 << 20, STORAGE);
  const got = await settled;
  assert.instance(got, OutOfMemoryError);
  assert.match((got as Error).message, /cannot allocate 5242880 bytes/);
  assert.match((got as Error).message, /refused it twice/);
  assert.match((got as Error).message, new RegExp(`"bytesInUse":${gpuClassSize(1000)},`));
  assert.equal([p.bytesInUse, p.bytesReserved], [gpuClassSize(1000), gpuClassSize(1000)], 'the refused request holds nothing');
  assert.ok(dev.made.slice(-2).every((b) => b.destroyed));
  p.release(buffer); // the owner gives the dead buffer back like any other
  assert.is(p.bytesInUse, gpuClassSize(1000));
  const again = p.acquireChecked(5 << 20, STORAGE);
  assert.is(await again.settled, again.buffer);
  p.release(again.buffer); p.release(held);
  assert.is(p.bytesInUse, 0);
});

function ring(chunkBytes = 1024) {
  const { p, dev, batch } = pool();
  return { r: new ReadbackRing(p, chunkBytes), p, dev, batch };
}

/** What the GPU's copy would have put in a slot: byte i is (seed + i) & 255. */
function fill(slot: { buffer: GPUBuffer; offset: number }, bytes: number, seed: number) {
  const c = (slot.buffer as unknown as MockBuffer).contents;
  for (let i = 0; i < bytes; i++) c[slot.offset + i] = (seed + i) & 255;
}
const pattern = (bytes: number, seed: number) => Array.from({ length: bytes }, (_, i) => (seed + i) & 255);

test('readback ring (mock): reads of one batch share a chunk at 4-byte offsets, one map; the chunk is reused after unmap', async () => {
  const { r, p, dev } = ring();
  const sizes = [3, 5, 8, 1, 100];
  const slots = sizes.map((n, i) => { const s = r.reserve(n); fill(s, n, i * 10); return s; });
  assert.equal(slots.map((s) => s.offset), [0, 4, 12, 20, 24], 'each read rounded up to 4 bytes');
  assert.ok(slots.every((s) => s.buffer === slots[0].buffer), 'one chunk');
  r.afterSubmit();
  const chunk = slots[0].buffer as unknown as MockBuffer;
  assert.is(r.maps, 1);
  assert.is(p.bytesInUse, gpuClassSize(1024), 'the chunk is in use while its reads wait');
  chunk.finishMap!();
  const got = await Promise.all(slots.map((s) => s.data));
  got.forEach((d, i) => assert.equal(Array.from(d), pattern(sizes[i], i * 10)));
  assert.not.ok(chunk.mapped, 'unmapped once the bytes are out');
  assert.is(p.bytesInUse, 0);
  const next = r.reserve(16);
  assert.is(next.buffer, slots[0].buffer, 'the next batch reuses the chunk');
  assert.is(dev.made.length, 1);
});

test('readback ring (mock): growth past a chunk, a dedicated chunk for an oversize read, no reuse while mapping', async () => {
  const { r, p, dev } = ring(1024);
  const a = r.reserve(1000), b = r.reserve(100); // b does not fit after a: a second chunk
  const big = r.reserve(5000); // larger than a chunk: a chunk of its own class
  const c = r.reserve(16); // fits after big
  assert.ok(a.buffer !== b.buffer && b.buffer !== big.buffer);
  assert.is(c.buffer, big.buffer);
  assert.equal([b.offset, big.offset, c.offset], [0, 0, 5000]);
  assert.is((big.buffer as unknown as MockBuffer).size, gpuClassSize(5000));
  for (const [s, n, seed] of [[a, 1000, 1], [b, 100, 2], [big, 5000, 3], [c, 16, 4]] as const) fill(s, n, seed);
  r.afterSubmit();
  assert.is(r.maps, 3);
  // A new batch while those chunks are still mapping: fresh chunks, never a mapping one.
  const d = r.reserve(8);
  assert.ok(![a, b, big].some((s) => s.buffer === d.buffer));
  for (const s of [a, b, big]) (s.buffer as unknown as MockBuffer).finishMap!();
  assert.equal(Array.from(await big.data), pattern(5000, 3));
  assert.equal(Array.from(await c.data), pattern(16, 4));
  assert.equal(Array.from(await a.data), pattern(1000, 1));
  assert.equal(Array.from(await b.data), pattern(100, 2));
  fill(d, 8, 5);
  r.afterSubmit();
  (d.buffer as unknown as MockBuffer).finishMap!();
  assert.equal(Array.from(await d.data), pattern(8, 5));
  assert.is(p.bytesInUse, 0);
  assert.is(p.reservations, dev.made.length);
  const reserved = p.bytesReserved;
  assert.is(reserved, 3 * gpuClassSize(1024) + gpuClassSize(5000));
  assert.is(p.emptyCache(), reserved, 'idle chunks go back to the system');
});

test.run();
