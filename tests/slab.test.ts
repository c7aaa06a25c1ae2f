/** SlabHeap on a mock memory (plain numbers, no Wasm): classes, alignment, fragmentation, growth, counters. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALIGN } from '../src/alloc/heap.ts';
import { CLASS_SIZES, SLAB, SLAB_MAX, SlabHeap, classOf } from '../src/alloc/slab.ts';
import { OutOfMemoryError } from '../src/errors.ts';
import { randomData } from './harness.ts';

const PAGE = 65536;
/** A heap over [base, end) that grows by whole pages up to `limit`, logging each grow. */
function mock(base = 1000, end = PAGE, limit = Infinity) {
  const grows: number[] = [];
  let top = end;
  const h = new SlabHeap(base, end, (bytes) => {
    const next = top + Math.ceil(bytes / PAGE) * PAGE;
    if (next > limit) throw new OutOfMemoryError(`mock: limit ${limit}`);
    grows.push(bytes);
    return (top = next);
  });
  return { h, grows };
}

/** Live blocks never overlap and sit inside the reserved range. */
function assertDisjoint(blocks: [number, number][], lo: number, hi: number) {
  const spans = [...blocks].sort((x, y) => x[0] - y[0]);
  for (let i = 0; i < spans.length; i++) {
    assert.ok(spans[i][0] >= lo && spans[i][0] + spans[i][1] <= hi, `block ${spans[i]} outside [${lo}, ${hi})`);
    if (i > 0) assert.ok(spans[i][0] >= spans[i - 1][0] + spans[i - 1][1], `overlap at ${spans[i][0]}`);
  }
}

test('slab: classes rise, are 16-byte multiples, and round up by at most 25% past 64 bytes', () => {
  for (let i = 1; i < CLASS_SIZES.length; i++) assert.ok(CLASS_SIZES[i] > CLASS_SIZES[i - 1]);
  assert.is(CLASS_SIZES[CLASS_SIZES.length - 1], SLAB_MAX);
  for (const c of CLASS_SIZES) assert.is(c % ALIGN, 0);
  for (const bytes of [1, 16, 17, 65, 100, 1000, 4097, SLAB_MAX]) {
    const c = CLASS_SIZES[classOf(bytes)];
    assert.ok(c >= bytes && (bytes <= 64 || c <= bytes * 1.25 + ALIGN), `${bytes} -> ${c}`);
    if (classOf(bytes) > 0) assert.ok(CLASS_SIZES[classOf(bytes) - 1] < bytes);
  }
});

test('slab: every block is 16-byte aligned, disjoint and inside the range, for sizes of every kind', () => {
  const { h } = mock();
  const sizes = [1, 3, 15, 16, 17, 31, 100, 1000, 4095, SLAB_MAX, SLAB_MAX + 1, 70000, 5, 200000];
  const blocks = sizes.map((s) => [h.alloc(s), s] as [number, number]);
  for (const [at] of blocks) assert.is(at % ALIGN, 0);
  assertDisjoint(blocks, 1008, 1008 + h.bytesReserved);
});

test('slab: interleaved sizes freed in scrambled order leave no leak, and a second round needs no new memory', () => {
  const { h, grows } = mock();
  const r = randomData(4000, 3);
  const size = (i: number) => [24, 200, 3000, 40000, 9][i % 5] + Math.floor(Math.abs(r[i]) * 50);
  const round = () => {
    const blocks: [number, number][] = [];
    for (let i = 0; i < 400; i++) {
      blocks.push([h.alloc(size(i)), size(i)]);
      if (i % 3 === 2) h.free(blocks.splice(Math.floor(Math.abs(r[i + 1000]) * blocks.length / 2) % blocks.length, 1)[0][0]);
    }
    assertDisjoint(blocks, 0, 1008 + h.bytesReserved);
    for (let i = 0; blocks.length; i++) h.free(blocks.splice(Math.floor(Math.abs(r[i + 2000]) * 977) % blocks.length, 1)[0][0]);
  };
  round();
  assert.is(h.bytesInUse, 0);
  assert.is(h.liveBlocks, 0);
  const reserved = h.bytesReserved, reservations = h.reservations, grown = grows.length;
  round();
  assert.is(h.bytesInUse, 0);
  assert.is(h.reservations, reservations, 'the second round is served by the slabs and free blocks of the first');
  assert.is(h.bytesReserved, reserved);
  assert.is(grows.length, grown);
});

test('slab: a freed small block is reused at once, and one slab serves a class until it is full', () => {
  const { h } = mock(0, 4 * SLAB);
  const a = h.alloc(100);
  h.alloc(100);
  h.free(a);
  assert.is(h.alloc(100), a);
  const per = Math.floor(SLAB / CLASS_SIZES[classOf(100)]);
  const before = h.reservations;
  for (let i = 2; i < per; i++) h.alloc(100);
  assert.is(h.reservations, before, 'the first slab still had room');
  h.alloc(100);
  assert.is(h.reservations, before + 1, 'a full slab makes the class take a new one');
});

test('slab: a class keeps one empty slab, gives the others to any class, and emptyCache gives all to large blocks', () => {
  const { h, grows } = mock(0, 2 * SLAB);
  const per = SLAB / 64;
  const small = Array.from({ length: per + 1 }, () => h.alloc(64)); // two slabs of the 64-byte class
  assert.is(h.reservations, 2);
  for (const b of small) h.free(b);
  const other = h.alloc(5000); // another class takes the spare empty slab: no new reservation
  assert.is(h.reservations, 2);
  h.free(other);
  assert.is(h.alloc(64), small[per], 'the slab the class kept still serves it (LIFO free list)');
  h.free(small[per]);
  assert.is(h.emptyCache(), 2 * SLAB, 'both empty slabs, the kept one included');
  const big = h.alloc(2 * SLAB); // fits only because the slabs' room coalesced back
  assert.equal(grows, []);
  assert.is(big, 0);
});

test('slab: grows only when no slab or free block can serve, by what is missing', () => {
  const { h, grows } = mock(0, PAGE);
  h.alloc(40000);
  assert.equal(grows, []);
  h.alloc(40000); // 80000 > one page
  assert.is(grows.length, 1);
  assert.ok(grows[0] <= 40000);
  assert.is(h.reservations, 1);
  h.alloc(16); // a new slab, and a grow for its room
  assert.is(h.reservations, 3);
});

test('slab: counters: allocations, peak, resetPeak', () => {
  const { h } = mock();
  const a = h.alloc(100), b = h.alloc(20000);
  assert.is(h.allocations, 2);
  assert.is(h.bytesInUse, CLASS_SIZES[classOf(100)] + 20000);
  const peak = h.bytesInUse;
  h.free(b);
  assert.is(h.peakBytesInUse, peak);
  h.resetPeak();
  assert.is(h.peakBytesInUse, h.bytesInUse);
  h.free(a);
  assert.is(h.bytesInUse, 0);
});

test('slab: a grow refused by the cap is an OutOfMemoryError, and the heap still works after it', () => {
  const { h } = mock(0, PAGE, 4 * PAGE);
  assert.throws(() => h.alloc(10 * PAGE), (e: unknown) => e instanceof OutOfMemoryError);
  assert.is(h.bytesInUse, 0);
  const a = h.alloc(PAGE);
  assert.is(a % ALIGN, 0);
  assert.throws(() => h.free(a + 16), /not a live block/);
  h.free(a);
  assert.throws(() => h.free(a), /not a live block/);
});

test.run();
