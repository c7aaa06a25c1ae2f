/** FreeListHeap on plain numbers: alignment, reuse, coalescing, growth. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ALIGN, FreeListHeap } from '../src/alloc/heap.ts';

function heap(base = 1000, end = 4096) {
  const grows: number[] = [];
  let top = end;
  const h = new FreeListHeap(base, end, (bytes) => { grows.push(bytes); top += Math.ceil(bytes / 4096) * 4096; return top; });
  return { h, grows };
}

test('heap: blocks are 16-byte aligned and disjoint', () => {
  const { h } = heap();
  const sizes = [1, 3, 16, 17, 100, 5, 64];
  const got = sizes.map((s) => [h.alloc(s), s] as const);
  for (const [at] of got) assert.is(at % ALIGN, 0);
  const spans = got.map(([at, s]) => [at, at + s]).sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], 'overlap');
  assert.ok(spans[0][0] >= 1000);
});

test('heap: freed neighbours coalesce so a large block fits again without growth', () => {
  const { h, grows } = heap(0, 4096);
  const a = h.alloc(1024), b = h.alloc(1024), c = h.alloc(1024), d = h.alloc(1024);
  assert.is(h.bytesInUse, 4096);
  h.free_(b); h.free_(a); h.free_(c); // interleaved order
  assert.is(h.alloc(3072), a);
  assert.equal(grows, []);
  h.free_(d);
});

test('heap: grows by what is missing past a free tail', () => {
  const { h, grows } = heap(0, 4096);
  const a = h.alloc(2048);
  h.alloc(10000);
  assert.equal(grows, [10000 - 2048 + 0]);
  h.free_(a);
  assert.is(h.liveBlocks, 1);
});

test('heap: double free is an error', () => {
  const { h } = heap();
  const a = h.alloc(8);
  h.free_(a);
  assert.throws(() => h.free_(a), /not a live block/);
});

test.run();
