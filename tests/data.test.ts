/**
 * T.data: the DataLoader over TensorDataset, random-access and iterable datasets; transforms
 * against plain-JS references; the same bytes whatever the number of workers; errors that name
 * the item; crashed workers and early breaks that neither hang nor leak.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { liveDataWorkers } from '../src/data/workers.ts';
import { canShare } from '../src/backend/pool.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const tr = T.data.transforms;
/** Worker counts to compare: 0 (this thread) and, where memory can be shared, 1 and 2. */
const WORKERS = canShare() ? [0, 1, 2] : [0]; // without sharing, the tests that need workers fail

/** Every batch of an epoch as host arrays (one array per column, per batch). */
async function epoch(loader: T.data.DataLoader): Promise<{ shape: number[]; dtype: string; values: number[] }[][]> {
  const out: { shape: number[]; dtype: string; values: number[] }[][] = [];
  for await (const b of loader) {
    const cols = Array.isArray(b) ? b : [b];
    out.push(await Promise.all(cols.map(async (t) => ({ shape: [...t.shape], dtype: t.dtype, values: Array.from(await t.data() as ArrayLike<number>) }))));
  }
  return out;
}

/** Run fn and check cpu bytes, live tensors and data workers return to where they were. */
async function noLeaks(name: string, fn: () => Promise<void>): Promise<void> {
  const before = T.memoryStats().cpu;
  await fn();
  const after = T.memoryStats().cpu;
  assert.is(after.liveTensors, before.liveTensors, `${name}: live tensors`);
  assert.is(after.bytesInUse, before.bytesInUse, `${name}: bytes in use`);
  assert.is(liveDataWorkers(), 0, `${name}: data workers still alive`);
}

async function rejects(p: Promise<unknown>, pattern: RegExp): Promise<Error> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, T.TandemError);
    assert.match((e as Error).message, pattern);
    return e as Error;
  }
  assert.unreachable(`expected an error matching ${pattern}`);
  throw new Error('unreachable');
}

const rows = (n: number, width: number) => T.tensor(Float32Array.from({ length: n * width }, (_, i) => i * 0.5 - 3), [n, width]);
const labels = (n: number, classes: number) => T.tensor(Int32Array.from({ length: n }, (_, i) => (i * 7) % classes), [n], { dtype: 'i32' });

test(`${RUNTIME}: data: TensorDataset in order: rows, shapes, dtypes, a short last batch, dropLast, length`, async () => {
  for (const n of [0, 1, 7, 13]) {
    const x = rows(n, 3), y = labels(n, 4), ds = new T.data.TensorDataset(x, y);
    for (const dropLast of [false, true]) {
      await noLeaks(`n ${n}`, async () => {
        const loader = new T.data.DataLoader(ds, { batchSize: 5, dropLast });
        const got = await epoch(loader);
        const want = dropLast ? Math.floor(n / 5) : Math.ceil(n / 5);
        assert.is(loader.length, want);
        assert.is(got.length, want, `n ${n} dropLast ${dropLast}`);
        got.forEach(([xb, yb], k) => {
          const m = Math.min(5, n - 5 * k);
          assert.equal(xb.shape, [m, 3]);
          assert.is(xb.dtype, 'f32');
          assert.equal(yb.shape, [m]);
          assert.is(yb.dtype, 'i32');
          assert.equal(xb.values, Array.from({ length: m * 3 }, (_, i) => (5 * k * 3 + i) * 0.5 - 3));
          assert.equal(yb.values, Array.from({ length: m }, (_, i) => ((5 * k + i) * 7) % 4));
        });
      });
    }
    x.dispose(); y.dispose();
  }
});

test(`${RUNTIME}: data: shuffle: a permutation per epoch, the same for a seed, whatever the worker count`, async () => {
  const n = 101, x = rows(n, 2), y = labels(n, 10), ds = new T.data.TensorDataset(x, y);
  const orderOf = (batches: Awaited<ReturnType<typeof epoch>>) => batches.flatMap(([xb]) => xb.values.filter((_, i) => i % 2 === 0).map((v) => (v + 3) / 0.5 / 2));
  let first: number[] | null = null;
  for (const workers of WORKERS) {
    const loader = new T.data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 42, workers });
    const e0 = orderOf(await epoch(loader)), e1 = orderOf(await epoch(loader));
    assert.equal([...e0].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'epoch 0 is a permutation');
    assert.equal([...e1].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'epoch 1 is a permutation');
    assert.not.equal(e0, e1, 'each epoch reshuffles');
    assert.not.equal(e0, Array.from({ length: n }, (_, i) => i), 'shuffled');
    if (first) assert.equal([...e0, ...e1], first, `workers ${workers}: same order as workers ${WORKERS[0]}`);
    first ??= [...e0, ...e1];
    assert.is(loader.stats?.workers, workers);
  }
  const other = orderOf(await epoch(new T.data.DataLoader(ds, { batchSize: 8, shuffle: true, seed: 43 })));
  assert.not.equal(other, first!.slice(0, n), 'another seed, another order');
  x.dispose(); y.dispose();
});

/** The reference of the fused image step: crop window (top, left) with zero padding, optional flip, normalize to CHW. */
function imageRef(img: Uint8Array, h: number, w: number, ch: number, oh: number, ow: number, top: number, left: number, flip: boolean, mean: number[], std: number[]): Float32Array {
  const out = new Float32Array(ch * oh * ow);
  for (let c = 0; c < ch; c++) {
    const s = Math.fround(1 / (255 * std[c])), b = Math.fround(-mean[c] / std[c]);
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const sy = top + y, sx = left + (flip ? ow - 1 - x : x);
        const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[(sy * w + sx) * ch + c] : 0;
        out[(c * oh + y) * ow + x] = Math.fround(Math.fround(v * s) + b);
      }
    }
  }
  return out;
}

test(`${RUNTIME}: data: image transforms: normalize, flip, crop with padding match the reference; same bytes for any worker count`, async () => {
  for (const [h, w, ch] of [[5, 7, 1], [6, 5, 3], [9, 4, 4], [3, 3, 2]]) {
    const n = 11, img = Uint8Array.from({ length: n * h * w * ch }, (_, i) => (i * 37 + 11) % 256);
    const images = T.tensor(img, ch === 1 && h === 5 ? [n, h, w] : [n, h, w, ch], { dtype: 'u8' });
    const ds = new T.data.TensorDataset(images);
    const mean = [0.5, 0.4, 0.3, 0.2].slice(0, ch), std = [0.25, 0.5, 0.2, 1].slice(0, ch);
    const item = (i: number) => img.subarray(i * h * w * ch, (i + 1) * h * w * ch);
    // No randomness: normalize alone, and flip with p = 1.
    for (const flip of [false, true]) {
      const steps = flip ? [tr.randomFlip({ p: 1 }), tr.normalize({ mean, std })] : [tr.normalize({ mean, std })];
      const got = await epoch(new T.data.DataLoader(ds, { batchSize: 4, transform: steps }));
      got.forEach(([xb], k) => {
        assert.equal(xb.shape, [Math.min(4, n - 4 * k), ch, h, w]);
        xb.values.forEach((v, j) => {
          const s = Math.floor(j / (ch * h * w)), i = 4 * k + s;
          const want = imageRef(item(i), h, w, ch, h, w, 0, 0, flip, mean, std)[j % (ch * h * w)];
          if (!Object.is(v, want)) assert.unreachable(`${h}x${w}x${ch} flip ${flip}: item ${i} value ${j}: ${v} != ${want}`);
        });
      });
    }
    // Random crops with padding and random flips: each sample is one of the allowed windows, and
    // the bytes do not depend on the worker count.
    const oh = h - 1, ow = w + 1, pad = 2;
    let base: number[] | null = null;
    const seenFlip = new Set<boolean>();
    for (const workers of WORKERS) {
      const loader = new T.data.DataLoader(ds, { batchSize: 3, shuffle: true, seed: 5, workers, transform: [tr.randomCrop([oh, ow], { padding: pad }), tr.randomFlip(), tr.normalize({ mean, std })] });
      const got = await epoch(loader);
      const flat = got.flatMap(([xb]) => xb.values);
      if (base) assert.equal(flat, base, `workers ${workers}`);
      base ??= flat;
      if (workers !== WORKERS[0]) continue;
      // Which item is which: the shuffle is not visible, so match each sample against every item and window.
      for (const [xb] of got) {
        for (let s = 0; s < xb.shape[0]; s++) {
          const sample = xb.values.slice(s * ch * oh * ow, (s + 1) * ch * oh * ow);
          let found = false;
          for (let i = 0; i < n && !found; i++) {
            for (let top = -pad; top <= h + pad - oh && !found; top++) {
              for (let left = -pad; left <= w + pad - ow && !found; left++) {
                for (const flip of [false, true]) {
                  const ref = imageRef(item(i), h, w, ch, oh, ow, top, left, flip, mean, std);
                  if (ref.every((v, j) => Object.is(v, sample[j]))) { found = true; seenFlip.add(flip); break; }
                }
              }
            }
          }
          assert.ok(found, `${h}x${w}x${ch}: a sample is no window of any item`);
        }
      }
    }
    assert.is(seenFlip.size, 2, 'randomFlip() flips some samples and not others');
    images.dispose();
  }
});

test(`${RUNTIME}: data: oneHot targets (i32 and u8 labels); a label out of range names its item`, async () => {
  const n = 9, x = rows(n, 2), y = labels(n, 5), y8 = T.tensor(Uint8Array.from({ length: n }, (_, i) => (i * 7) % 5), [n], { dtype: 'u8' });
  for (const [workers, ds] of WORKERS.flatMap((w) => [[w, new T.data.TensorDataset(x, y)], [w, new T.data.TensorDataset(x, y8)]] as const)) {
    const got = await epoch(new T.data.DataLoader(ds, { batchSize: 4, targetTransform: tr.oneHot(5), workers }));
    got.forEach(([, yb], k) => {
      const m = Math.min(4, n - 4 * k);
      assert.equal(yb.shape, [m, 5]);
      assert.equal(yb.values, Array.from({ length: m * 5 }, (_, j) => (((4 * k + Math.floor(j / 5)) * 7) % 5 === j % 5 ? 1 : 0)));
    });
  }
  const bad = T.tensor(Int32Array.of(0, 1, 2, 9, 1), [5], { dtype: 'i32' }), xs = rows(5, 1);
  for (const workers of WORKERS) {
    await noLeaks(`oneHot error, workers ${workers}`, async () => {
      await rejects(epoch(new T.data.DataLoader(new T.data.TensorDataset(xs, bad), { batchSize: 2, targetTransform: tr.oneHot(5), workers })), /item 3 .*label 9 is outside 0\.\.4/);
    });
  }
  for (const t of [x, y, y8, bad, xs]) t.dispose();
});

class Numbers extends T.data.Dataset {
  constructor(readonly n: number, readonly bad: (i: number) => T.data.Item | null = () => null) { super(); }
  get length() { return this.n; }
  async get(i: number): Promise<T.data.Item> {
    await null;
    return this.bad(i) ?? [{ data: Uint8Array.from({ length: 6 }, (_, j) => i * 6 + j), shape: [2, 3] }, i % 3, Float32Array.of(i, -i)];
  }
}

test(`${RUNTIME}: data: a random-access Dataset of typed arrays, numbers and { data, shape }; errors name the item`, async () => {
  for (const workers of WORKERS) {
    const got = await epoch(new T.data.DataLoader(new Numbers(7), { batchSize: 3, workers }));
    assert.is(got.length, 3);
    const [a, b, c] = got[2];
    assert.equal([a.shape, a.dtype, b.shape, b.dtype, c.shape, c.dtype], [[1, 2, 3], 'u8', [1], 'i32', [1, 2], 'f32']);
    assert.equal(a.values, [36, 37, 38, 39, 40, 41]);
    assert.equal(got[1][1].values, [0, 1, 2]);
    assert.equal(got[1][2].values, [3, -3, 4, -4, 5, -5]);
  }
  const cases: [string, (i: number) => T.data.Item | null, RegExp][] = [
    ['shape', (i) => (i === 5 ? [{ data: new Uint8Array(4), shape: [2, 2] }, 0, Float32Array.of(0, 0)] : null), /item 5 \(column 0\) has shape \[2, 2\], earlier items had \[2, 3\]/],
    ['dtype', (i) => (i === 4 ? [{ data: new Uint8Array(6), shape: [2, 3] }, 0.5, Float32Array.of(0, 0)] : null), /item 4 \(column 1\) is f32, earlier items were i32/],
    ['columns', (i) => (i === 6 ? [{ data: new Uint8Array(6), shape: [2, 3] }, 1] : null), /item 6 has 2 columns, earlier items had 3/],
    ['kind', (i) => (i === 2 ? [{ data: new Uint8Array(6), shape: [2, 3] }, 'x' as unknown as number, Float32Array.of(0, 0)] : null), /item 2 \(column 1\) is string/],
    ['get throws', (i) => { if (i === 3) throw new Error('disk on fire'); return null; }, /dataset\.get\(3\) threw: disk on fire/],
  ];
  for (const [name, bad, pattern] of cases) {
    await noLeaks(name, async () => {
      const e = await rejects(epoch(new T.data.DataLoader(new Numbers(8, bad), { batchSize: 3, workers: WORKERS.at(-1) })), pattern);
      assert.instance(e, T.DataError);
    });
  }
});

test(`${RUNTIME}: data: iterable datasets (sync and async generators) in order; shuffle refused`, async () => {
  const sync = { *[Symbol.iterator]() { for (let i = 0; i < 10; i++) yield [Float32Array.of(i, i + 0.5), i] as T.data.Item; } };
  const asyncDs = { async *[Symbol.asyncIterator]() { for (let i = 0; i < 10; i++) { await null; yield [Float32Array.of(i, i + 0.5), i] as T.data.Item; } } };
  for (const ds of [sync, asyncDs]) {
    for (const [dropLast, sizes] of [[false, [4, 4, 2]], [true, [4, 4]]] as const) {
      const loader = new T.data.DataLoader(ds, { batchSize: 4, dropLast, prefetch: 3, workers: WORKERS.at(-1) });
      assert.is(loader.length, undefined);
      const got = await epoch(loader);
      assert.equal(got.map(([x]) => x.shape[0]), sizes);
      assert.equal(got.flatMap(([, y]) => y.values), Array.from({ length: sizes.reduce((a, b) => a + b, 0) }, (_, i) => i));
      assert.equal(got[1][0].values, [4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5]);
    }
  }
  assert.throws(() => new T.data.DataLoader(sync, { shuffle: true }), (e: unknown) => e instanceof T.TandemError && /shuffle needs a random-access dataset/.test((e as Error).message));
});

test(`${RUNTIME}: data: collate replaces batching; a single-column dataset yields tensors`, async () => {
  const single = new (class extends T.data.Dataset<Float32Array> { get length() { return 5; } get(i: number) { return Float32Array.of(i, 2 * i); } })();
  const got = await epoch(new T.data.DataLoader(single, { batchSize: 2 }));
  assert.equal(got.map(([x]) => x.shape), [[2, 2], [2, 2], [1, 2]]);
  const summed = await epoch(new T.data.DataLoader(single, { batchSize: 2, collate: (items) => T.tensor([(items as Float32Array[]).reduce((a, v) => a + v[1], 0)]) }));
  assert.equal(summed.map(([s]) => s.values[0]), [2, 10, 8]);
  assert.throws(() => new T.data.DataLoader(single, { collate: (i) => i as never, transform: tr.normalize({ mean: 0, std: 1 }) }), (e: unknown) => /collate replaces/.test((e as Error).message));
  await rejects(epoch(new T.data.DataLoader(single, { batchSize: 2, collate: () => 3 as never })), /collate must return a tensor/);
});

test(`${RUNTIME}: data: a failing custom transform names its item; a crashed worker ends the loop with an error`, async () => {
  const n = 40, x = rows(n, 4), ds = new T.data.TensorDataset(x);
  const fails = tr.custom((_x, ctx) => { if (ctx.index === 23) throw new Error(`no item ${ctx.index}`); });
  for (const workers of WORKERS) {
    await noLeaks(`custom throws, workers ${workers}`, async () => {
      await rejects(epoch(new T.data.DataLoader(ds, { batchSize: 5, transform: fails, workers })), /item 23 \(batch 4, sample 3\): no item 23/);
    });
  }
  // custom steps get a seeded random(), the same on any thread.
  const noisy = tr.custom((v, ctx) => { for (let i = 0; i < v.length; i++) v[i] += ctx.random(); });
  const outs: number[][] = [];
  for (const workers of WORKERS) outs.push((await epoch(new T.data.DataLoader(ds, { batchSize: 7, seed: 9, transform: noisy, workers }))).flatMap(([b]) => b.values));
  for (const o of outs) assert.equal(o, outs[0]);
  assert.ok(outs[0].every((v, i) => v - (i * 0.5 - 3) >= 0 && v - (i * 0.5 - 3) < 1), 'random() in [0, 1)');
  if (WORKERS.length === 1) assert.unreachable('no SharedArrayBuffer here, so no data workers to crash');
  {
    // An uncaught error thrown later on the worker's own event loop kills it (Node) or is its
    // error event (web workers): the loop must throw, not wait for a batch that never comes.
    const crash = tr.custom((_x, ctx) => { if (ctx.index === 12) setTimeout(() => { throw new Error('worker down'); }, 0); });
    const e = await rejects((async () => {
      for await (const _b of new T.data.DataLoader(ds, { batchSize: 2, transform: crash, workers: 2, prefetch: 1 })) await new Promise((r) => setTimeout(r, 2));
    })(), /data worker \d crashed/);
    assert.instance(e, T.DataError);
    assert.is(liveDataWorkers(), 0);
  }
  x.dispose();
});

test(`${RUNTIME}: data: breaking out early frees batches in flight and ends the workers`, async () => {
  const x = rows(200, 64), y = labels(200, 10), ds = new T.data.TensorDataset(x, y);
  for (const workers of WORKERS) {
    await noLeaks(`break, workers ${workers}`, async () => {
      let k = 0;
      for await (const b of new T.data.DataLoader(ds, { batchSize: 10, workers, prefetch: 4, targetTransform: tr.oneHot(10) })) {
        assert.is((b as T.Tensor[])[0].shape[0], 10);
        if (++k === 3) break;
      }
      assert.is(k, 3);
    });
  }
  x.dispose(); y.dispose();
});

test(`${RUNTIME}: data: prefetch N prepares N batches past the one taken; 0 prepares on demand`, async () => {
  for (const prefetch of [0, 1, 3]) {
    const asked: number[] = [];
    const ds = new (class extends T.data.Dataset<number> { get length() { return 40; } get(i: number) { asked.push(i); return i; } })();
    const it = new T.data.DataLoader(ds, { batchSize: 4, prefetch })[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 20));
    assert.is(asked.length, 4 * (1 + prefetch), `prefetch ${prefetch}: items read after the first batch`);
    await it.next();
    await new Promise((r) => setTimeout(r, 20));
    assert.is(asked.length, 4 * (2 + prefetch), `prefetch ${prefetch}: after the second`);
    await it.return!();
  }
});

test(`${RUNTIME}: data: persistentWorkers keeps the workers between epochs, with the same batches; close() ends them`, async () => {
  if (WORKERS.length === 1) assert.unreachable('no SharedArrayBuffer here, so no data workers (every runtime the suite runs in has it)');
  const img = T.tensor(Uint8Array.from({ length: 30 * 8 * 8 }, (_, i) => (i * 13) % 256), [30, 8, 8], { dtype: 'u8' }), ds = new T.data.TensorDataset(img);
  const opts = { batchSize: 4, shuffle: true, seed: 2, workers: 2, transform: [tr.randomCrop(6, { padding: 1 }), tr.randomFlip(), tr.normalize({ mean: 0.5, std: 0.5 })] };
  const kept = new T.data.DataLoader(ds, { ...opts, persistentWorkers: true }), plain = new T.data.DataLoader(ds, opts);
  for (let e = 0; e < 2; e++) {
    assert.equal(await epoch(kept), await epoch(plain), `epoch ${e}`);
    assert.is(liveDataWorkers(), 2, 'kept between epochs');
  }
  await kept.close();
  assert.is(liveDataWorkers(), 0);
  assert.equal((await epoch(kept)).length, 8, 'a later epoch starts new workers');
  await kept.close();
  assert.is(liveDataWorkers(), 0);
  img.dispose();
});

test(`${RUNTIME}: data: batches land on the gpu, uploaded ahead; the trace has data spans`, async () => {
  if (!info.gpu) {
    if (REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
    return;
  }
  const x = rows(30, 3), y = labels(30, 4), ds = new T.data.TensorDataset(x, y);
  T.startTrace();
  const got = await epoch(new T.data.DataLoader(ds, { batchSize: 8, device: 'gpu', workers: WORKERS.at(-1), targetTransform: tr.oneHot(4) }));
  const trace = T.stopTrace();
  assert.is(got.length, 4);
  assert.equal(got[3][0].values, Array.from({ length: 18 }, (_, i) => (24 * 3 + i) * 0.5 - 3));
  assert.equal(got[3][1].shape, [6, 4]);
  const data = trace.traceEvents.filter((e) => e.cat === 'data' && e.name.startsWith('batch '));
  assert.is(data.length, 4, 'one data span per batch');
  assert.is(trace.traceEvents.filter((e) => e.cat === 'data' && e.name.startsWith('plan ')).length, 4, 'one planning span per batch');
  assert.ok(trace.traceEvents.some((e) => e.cat === 'upload'), 'uploads traced');
  for await (const b of new T.data.DataLoader(ds, { batchSize: 8, device: 'gpu' })) {
    assert.is((b as T.Tensor[])[0].device, 'gpu');
    break;
  }
  x.dispose(); y.dispose();
});

test(`${RUNTIME}: data: on an engine without shared memory (a plain module, as edge runtimes pass), workers fall back to this thread`, async () => {
  const { wasmModule } = await import('../src/runtime.ts');
  const threads = T.info().cpu.threads;
  await T.init({ threads: 1, wasm: await wasmModule(undefined, 'simd', false) });
  try {
    const img = T.tensor(Uint8Array.from({ length: 10 * 4 * 4 }, (_, i) => i % 256), [10, 4, 4], { dtype: 'u8' });
    const loader = new T.data.DataLoader(new T.data.TensorDataset(img), { batchSize: 4, workers: 2, transform: tr.randomFlip({ p: 1 }) });
    const got = await epoch(loader);
    assert.is(loader.stats?.workers, 0, 'no workers without shared memory');
    assert.equal(got.map(([x]) => x.shape), [[4, 1, 4, 4], [4, 1, 4, 4], [2, 1, 4, 4]]);
    const first = got[0][0].values.slice(0, 16), want = Array.from({ length: 16 }, (_, j) => (4 * Math.floor(j / 4) + 3 - (j % 4)) / 255);
    first.forEach((v, j) => assert.ok(Math.abs(v - want[j]) < 1e-6, `value ${j}: ${v} != ${want[j]}`));
    img.dispose();
  } finally {
    await T.init({ threads }); // a new engine on the default build
    // Calibrate now, as the harness did: a lazy calibration would land in a later test's byte counts.
    if (T.info().gpu) await T.calibrate();
  }
});

test(`${RUNTIME}: data: bad options and bad transforms are refused with typed errors`, async () => {
  const x = rows(4, 2), ds = new T.data.TensorDataset(x);
  const refuses = (fn: () => unknown, pattern: RegExp, type: new (...a: never[]) => Error = T.TandemError) =>
    assert.throws(fn, (e: unknown) => e instanceof type && pattern.test((e as Error).message));
  refuses(() => new T.data.DataLoader(ds, { batchSize: 0 }), /batchSize must be an integer >= 1/);
  refuses(() => new T.data.DataLoader(ds, { workers: -1 }), /workers must be an integer >= 0/);
  refuses(() => new T.data.DataLoader(ds, { prefetch: 1.5 }), /prefetch must be an integer >= 0/);
  refuses(() => new T.data.DataLoader(ds, { device: 'tpu' as 'gpu' }), /device must be 'cpu' or 'gpu'/, T.DeviceError);
  refuses(() => new T.data.DataLoader(null as never), /dataset must be/);
  refuses(() => new T.data.DataLoader({} as never), /neither length and get\(i\) nor an iterator/);
  refuses(() => new T.data.TensorDataset(x, rows(3, 2)), /tensor 1 has 3 rows/, T.ShapeError);
  refuses(() => tr.randomFlip({ p: 2 }), /p must be in \[0, 1\]/);
  refuses(() => tr.normalize({ mean: [0], std: [0] }), /std has a 0/);
  refuses(() => tr.randomCrop(0), /height must be an integer >= 1/);
  refuses(() => tr.custom({ f(v: unknown) { return v; } }.f as never), /function expression or an arrow function/);
  // Checked against the items when the epoch starts.
  await rejects(epoch(new T.data.DataLoader(ds, { transform: tr.normalize({ mean: 0, std: 1 }) })), /image steps need u8 images; transform \(column 0\) items are f32/);
  await rejects(epoch(new T.data.DataLoader(ds, { transform: (() => 1) as never })), /wrap it in T\.data\.transforms\.custom/);
  const img = T.zeros([2, 4, 4], { dtype: 'u8' });
  await rejects(epoch(new T.data.DataLoader(new T.data.TensorDataset(img), { transform: tr.randomCrop(9, { padding: 2 }) })), /randomCrop\(9x9, padding 2\) does not fit/);
  await rejects(epoch(new T.data.DataLoader(new T.data.TensorDataset(img), { transform: [tr.custom((v) => v), tr.randomFlip()] })), /custom steps come after/);
  const disposed = rows(3, 1), dds = new T.data.TensorDataset(disposed);
  disposed.dispose();
  await rejects(epoch(new T.data.DataLoader(dds)), /tensor 0 was disposed/);
  x.dispose(); img.dispose();
});

test.run();
