/**
 * GPUBufferPool on a mock device (no GPU): the submit-boundary rule, buckets, caps, the budget's
 * emptyCache-then-retry, and refusals reported by an error scope after the fact.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GPUBufferPool, gpuClassSize } from '../src/alloc/gpu-pool.ts';
import { OutOfMemoryError } from '../src/errors.ts';

const STORAGE = 0x80, COPY_DST = 0x08, MAP_READ = 0x01;

/** A device whose buffers record destroy(); `refuseNext` makes the next error scope report OOM. */
function mockDevice() {
  const made: { size: number; usage: number; destroyed: boolean; destroy(): void }[] = [];
  const dev = {
    made, refuseNext: false, scopes: 0,
    createBuffer({ size, usage }: { size: number; usage: number }) {
      const b = { size, usage, destroyed: false, destroy() { b.destroyed = true; } };
      made.push(b);
      return b;
    },
    pushErrorScope() { dev.scopes++; },
    popErrorScope() {
      dev.scopes--;
      const err = dev.refuseNext ? { message: 'Out of memory' } : null;
      dev.refuseNext = false;
      return Promise.resolve(err);
    },
  };
  return dev;
}

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
  dev.refuseNext = true;
  p.acquire(1 << 20, STORAGE);
  assert.is(p.refused, null);
  await Promise.resolve();
  await Promise.resolve();
  assert.match(p.refused ?? '', /refused a buffer of 1048576 bytes/);
});

test.run();
