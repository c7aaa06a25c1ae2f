/**
 * Memory on each device through the public API: a steady-state loop inside tidy reserves
 * nothing after warm-up and returns bytesInUse to its baseline every iteration; the GPU pool's
 * submit-boundary rule and caps; pressure paths (limits, emptyCache then retry, typed
 * OutOfMemoryError); and the lifetime rules (tidy, keep, using, dispose, DisposedError).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { GPUBufferPool, gpuClassSize } from '../src/alloc/gpu-pool.ts';
import { SLAB } from '../src/alloc/slab.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import type { WebGPUBackend } from '../src/backend/webgpu.ts';
import { backendFor, wasmModule } from '../src/runtime.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const devices: ('cpu' | 'gpu')[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const MiB = 2 ** 20;

for (const device of devices) {
  test(`${RUNTIME}: ${device}: 50 iterations in tidy: no reservation after warm-up, bytes in use back to baseline each time`, async () => {
    const stats = () => T.memoryStats()[device]!;
    const a = randomData(48 * 40, 1), w = randomData(40 * 24, 2), bias = randomData(24, 3), img = randomData(96 * 96, 4);
    const base = stats();
    const ring = device === 'gpu' ? (backendFor('gpu', 'test') as WebGPUBackend).readbacks : null;
    let reservations = -1, first: number[] | null = null;
    for (let i = 0; i < 50; i++) {
      const outs = T.tidy(() => {
        const x = T.tensor(a, [48, 40], { device }); // uploads
        const y = T.relu(T.add(T.matmul(x, T.tensor(w, [40, 24], { device })), T.tensor(bias, [24], { device })));
        const big = T.mul(T.tensor(img, [96, 96], { device }), T.tensor([0.5], [], { device }));
        const z = T.matmul(big, big);
        // f16: packed kernels on the gpu, f32 temporaries from the slab heap on the cpu
        const h = T.cast(y, 'f16');
        const hh = T.softmax(T.matmul(h, T.transpose(h)), 1);
        return [T.sum(y, 0), T.max(y), T.mean(z, 1), T.sum(T.transpose(y), 1), T.sum(hh, 0)];
      });
      const maps = ring?.maps ?? 0;
      const got = (await Promise.all(outs.map((t) => t.data()))).flatMap((d) => Array.from(d)); // readbacks
      if (ring && i > 4) assert.is(ring.maps, maps + 1, `iteration ${i}: the ${outs.length} reads shared one readback chunk`);
      for (const t of outs) t.dispose();
      // The same numbers every time: a buffer reused too early would corrupt one of them.
      if (first === null) first = got; else assert.equal(got, first, `iteration ${i}`);
      const s = stats();
      assert.is(s.bytesInUse, base.bytesInUse, `iteration ${i}: bytes in use back to the baseline`);
      assert.is(s.liveTensors, base.liveTensors, `iteration ${i}: every tensor disposed`);
      if (i === 4) reservations = s.reservations;
      if (i > 4) assert.is(s.reservations, reservations, `iteration ${i}: no memory obtained after warm-up`);
      assert.ok(s.allocations > base.allocations && s.peakBytesInUse > s.bytesInUse && s.bytesReserved >= s.peakBytesInUse);
    }
  });

  test(`${RUNTIME}: ${device}: resetPeak and emptyCache`, async () => {
    const stats = () => T.memoryStats()[device]!;
    const x = T.zeros([256, 256], { device });
    await x.data();
    x.dispose();
    assert.ok(stats().peakBytesInUse >= stats().bytesInUse + 256 * 256 * 4);
    T.resetPeak();
    assert.is(stats().peakBytesInUse, stats().bytesInUse);
    const reserved = stats().bytesReserved;
    const released = T.emptyCache()[device];
    if (device === 'gpu') {
      assert.ok(released >= 256 * 256 * 4, `released ${released}`);
      assert.is(stats().bytesReserved, reserved - released, 'idle buffers went back to the system');
      const r = stats().reservations;
      T.zeros([256, 256], { device }).dispose();
      assert.is(stats().reservations, r + 1, 'after emptyCache a buffer is made anew');
    } else {
      assert.ok(released % SLAB === 0);
      assert.is(stats().bytesReserved, reserved, 'Wasm memory cannot shrink; the slabs return to the free list');
    }
  });
}

if (info.gpu) {
  const gpu = backendFor('gpu', 'test') as WebGPUBackend;

  test(`${RUNTIME}: gpu pool: a buffer freed while its batch is open is reused only after the submit`, async () => {
    const params = { op: 'add' as const, shape: [256], aStrides: [1], bStrides: [1] };
    const a = gpu.alloc(1024), out = gpu.alloc(1024);
    gpu.write(a, new Float32Array(256).fill(1));
    gpu.run('binary', [a, a], out, params);
    await gpu.read(out, 4); // the pipeline is compiled: runs below are recorded at once, not held
    gpu.run('binary', [a, a], out, params);
    gpu.free(a); // the batch naming a is open
    const b = gpu.alloc(1024);
    assert.ok(b.buffer !== a.buffer, 'not reused before the submit');
    gpu.flush();
    const c = gpu.alloc(1024);
    assert.ok(c.buffer === a.buffer, 'reused after it');
    assert.equal(Array.from(new Float32Array((await gpu.read(out, 16)).buffer)), [2, 2, 2, 2]);
    for (const x of [b, c, out]) gpu.free(x);
  });

  test(`${RUNTIME}: gpu uploads: through the pre-mapped ring, falling back to writeBuffer past a chunk, in order`, async () => {
    const ring = gpu.uploads, staged = ring.staged, fallbacks = ring.fallbacks;
    const small = T.tensor([1, 2, 3], [3], { device: 'gpu' });
    const odd = T.tensor(new Uint8Array([7, 8, 9]), [3], { device: 'gpu' }); // 3 bytes: padded copy
    assert.is(ring.staged, staged + 2);
    // A new buffer past 1 MiB holds later calls until the device accepts it: its write is staged later.
    const large = T.zeros([ring.chunkBytes / 4 + 1], { device: 'gpu' });
    assert.equal(Array.from(await small.data()), [1, 2, 3]);
    assert.equal(Array.from(await odd.data<'u8'>()), [7, 8, 9]);
    assert.is((await large.data())[ring.chunkBytes / 4], 0);
    assert.is(ring.staged, staged + 2);
    assert.is(ring.fallbacks, fallbacks + 1);
    for (const t of [small, odd, large]) t.dispose();
  });

  test(`${RUNTIME}: gpu readbacks: reads issued together share one chunk and one map; chunks are reused, never while mapping`, async () => {
    const ring = gpu.readbacks;
    const ts = Array.from({ length: 16 }, (_, i) => T.tensor(new Float32Array(i + 1).fill(i), [i + 1], { device: 'gpu' }));
    const want = (i: number) => new Array(i + 1).fill(i);
    await ts[0].data();
    const maps = ring.maps, reads = ring.reads;
    const got = await Promise.all(ts.map((t) => t.data()));
    got.forEach((d, i) => assert.equal(Array.from(d), want(i)));
    assert.equal([ring.reads, ring.maps], [reads + 16, maps + 1]);
    const reservations = gpu.pool.reservations;
    for (const t of ts.slice(0, 4)) await t.data(); // one at a time: a map each, the chunk reused
    assert.is(ring.maps, maps + 5);
    assert.is(gpu.pool.reservations, reservations);
    // The first batch is submitted, its chunk mapping, while the second batch's reads are copied.
    const early = Promise.all(ts.slice(0, 8).map((t) => t.data()));
    gpu.flush();
    const late = Promise.all(ts.slice(8).map((t) => t.data()));
    const [e, l] = await Promise.all([early, late]);
    e.forEach((d, i) => assert.equal(Array.from(d), want(i)));
    l.forEach((d, i) => assert.equal(Array.from(d), want(i + 8)));
    assert.is(ring.maps, maps + 7);
    // Larger than a chunk: a chunk of its own, read whole.
    const n = ring.chunkBytes / 4 + 3;
    const big = T.tensor(new Float32Array(n).map((_, i) => i), [n], { device: 'gpu' });
    const [bigData, small] = await Promise.all([big.data(), ts[2].data()]);
    assert.ok(bigData.every((v, i) => v === i));
    assert.equal(Array.from(small), want(2));
    for (const t of [...ts, big]) t.dispose();
  });

  test(`${RUNTIME}: gpu pool: size classes, and the cap destroys what it will not keep`, () => {
    for (const n of [1, 4, 5, 100, 257, 1000, 4097, 3 * MiB + 1]) {
      const c = gpuClassSize(n);
      assert.ok(c >= n && c % 4 === 0 && (n <= 256 || c <= n * 1.25 + 4), `${n} -> ${c}`);
    }
    const pool = new GPUBufferPool(gpu.device, () => false, { maxFreePerClass: 2 });
    const bufs = Array.from({ length: 5 }, () => pool.acquire(1000, 0x80 | 0x08));
    assert.is(pool.reservations, 5);
    for (const b of bufs) pool.release(b);
    assert.is(pool.bytesReserved, 2 * gpuClassSize(1000), 'two kept, three destroyed');
    pool.acquire(1000, 0x80 | 0x08); pool.acquire(1000, 0x80 | 0x08);
    assert.is(pool.reservations, 5);
    pool.acquire(1000, 0x80 | 0x04); // another usage is another bucket
    assert.is(pool.reservations, 6);
    assert.throws(() => pool.release(bufs[4]), /not in use/);
  });

  test(`${RUNTIME}: gpu pressure: past gpuMemoryLimit the cache is emptied and the request retried, then OutOfMemoryError`, async () => {
    T.emptyCache();
    const s0 = T.memoryStats().gpu!, limit = s0.bytesReserved + 3 * MiB;
    await T.init({ gpuMemoryLimit: limit });
    try {
      T.zeros([512, 512], { device: 'gpu' }).dispose(); // 1 MiB
      T.ones([600, 512], { device: 'gpu' }).dispose(); // another class: 1.25 MiB
      // Both are new and past 1 MiB, so their frees wait for the device's verdict: a read comes
      // after them in call order, and its batch's submit leaves both idle in the pool.
      const probe = T.zeros([1], { device: 'gpu' });
      await probe.data();
      probe.dispose();
      const before = T.memoryStats().gpu!;
      assert.ok(before.bytesReserved + gpuClassSize(900 * 512 * 4) > limit, 'the next request exceeds the limit unless the cache is emptied');
      const t = T.ones([900, 512], { device: 'gpu' });
      assert.ok(T.memoryStats().gpu!.bytesReserved <= limit);
      const total = T.sum(t);
      assert.is((await total.data())[0], 900 * 512);
      t.dispose(); total.dispose();
      try {
        T.zeros([2048, 1024], { device: 'gpu' });
        assert.unreachable('8 MiB past a 3 MiB limit');
      } catch (e) {
        assert.instance(e, T.OutOfMemoryError);
        assert.match((e as Error).message, /8388608 bytes/);
        assert.match((e as Error).message, /bytesReserved/);
      }
      assert.is(T.memoryStats().gpu!.bytesInUse, s0.bytesInUse, 'a refused request holds nothing');
    } finally {
      await T.init({ gpuMemoryLimit: Infinity });
    }
  });
}

test(`${RUNTIME}: cpu pressure: a memory limit gives OutOfMemoryError, after emptying slabs and retrying once`, async () => {
  const limit = 4 * MiB, BLOCK = 256 * 1024;
  const cpu = new WasmBackend(await wasmModule(), { memoryLimit: limit });
  const inUse0 = cpu.heap.bytesInUse;
  // 1 MiB of small blocks (8 slabs), all freed: the empty slabs stay reserved for small blocks.
  const small = Array.from({ length: 256 }, () => cpu.alloc(4000));
  for (const b of small) cpu.free(b);
  // Large blocks until the limit refuses one: their room must include the slabs' 1 MiB,
  // which only the retry's emptyCache gives back.
  const big: number[] = [];
  let refused: unknown = null;
  while (!refused) {
    try { big.push(cpu.alloc(BLOCK).ptr); } catch (e) { refused = e; }
  }
  assert.instance(refused, T.OutOfMemoryError);
  assert.match((refused as Error).message, new RegExp(`cannot allocate ${BLOCK} bytes`));
  assert.match((refused as Error).message, /cpuMemoryLimit/);
  assert.ok(big.length * BLOCK > limit - MiB - inUse0, `${big.length} blocks of 256 KiB: the empty slabs were reclaimed`);
  assert.ok(cpu.heap.bytesReserved <= limit);
  for (const p of big) cpu.free({ ptr: p, bytes: BLOCK });
  assert.is(cpu.heap.bytesInUse, inUse0);
  const again = cpu.alloc(BLOCK); // the heap works on after a refusal
  assert.is(again.ptr % 16, 0);
  cpu.destroy();
});

test(`${RUNTIME}: cpu pressure: init({ cpuMemoryLimit }) reaches tensor creation as OutOfMemoryError`, async () => {
  await T.init({ cpuMemoryLimit: 8 * MiB });
  try {
    assert.throws(() => T.zeros([4096, 1024]), (e: unknown) => e instanceof T.OutOfMemoryError && /16777216 bytes/.test((e as Error).message));
    const t = T.ones([1024, 1024]);
    const total = T.sum(t);
    assert.is((await total.data())[0], 1024 * 1024);
    t.dispose(); total.dispose();
  } finally {
    await T.init({ cpuMemoryLimit: Infinity });
  }
});

test(`${RUNTIME}: tidy disposes what fn made except what it returns; nested; keep`, async () => {
  const live = () => T.memoryStats().cpu.liveTensors;
  const base = live();
  let inner!: T.Tensor, keptOne!: T.Tensor, temp!: T.Tensor;
  const outer = T.tidy(() => {
    temp = T.ones([3]);
    const nested = T.tidy(() => {
      inner = T.add(temp, temp);
      keptOne = T.keep(T.mul(temp, temp));
      return { deep: [T.relu(inner)] };
    });
    assert.ok(inner.disposed, 'the nested scope disposed its own intermediate');
    assert.not.ok(temp.disposed, 'the outer scope has not closed yet');
    return nested.deep[0];
  });
  assert.ok(temp.disposed);
  assert.not.ok(outer.disposed, 'the returned tensor outlives both scopes');
  assert.not.ok(keptOne.disposed, 'keep() exempts from every scope');
  assert.equal(Array.from(await outer.data()), [2, 2, 2]);
  assert.is(live(), base + 2);
  outer.dispose(); keptOne.dispose();
  assert.is(live(), base);
});

test(`${RUNTIME}: tidy refuses async fns and cleans up when fn throws`, async () => {
  const base = T.memoryStats().cpu.liveTensors;
  let made!: T.Tensor;
  assert.throws(() => T.tidy(async () => { made = T.ones([2]); await null; return made; }), (e: unknown) => e instanceof T.TandemError && /Promise/.test((e as Error).message));
  assert.ok(made.disposed);
  assert.throws(() => T.tidy(() => { made = T.ones([2]); throw new RangeError('boom'); }), /boom/);
  assert.ok(made.disposed);
  assert.is(T.memoryStats().cpu.liveTensors, base);
});

test(`${RUNTIME}: use after dispose names the op; a second dispose and a disposed view are harmless`, () => {
  const a = T.ones([2, 3]);
  const v = T.reshape(a, [6]);
  a.dispose();
  a.dispose();
  assert.equal(v.shape, [6]); // the view keeps the storage alive
  assert.throws(() => T.matmul(a, a), (e: unknown) => e instanceof T.DisposedError && /matmul/.test((e as Error).message));
  assert.throws(() => T.sum(a), (e: unknown) => e instanceof T.DisposedError && /sum/.test((e as Error).message));
  {
    using u = T.relu(v);
    assert.not.ok(u.disposed);
    v.dispose();
  }
  assert.throws(() => T.relu(v), (e: unknown) => e instanceof T.DisposedError && /relu/.test((e as Error).message));
});

test.run();
