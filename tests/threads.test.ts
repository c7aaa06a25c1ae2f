/**
 * The worker pool: init({ threads }) grants threads where memory can be shared, and every
 * pooled kernel gives the same bits on 2 threads as on 1.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { canShare } from '../src/backend/pool.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { SplitBalancer } from '../src/backend/balance.ts';
import { wasmModule } from '../src/runtime.ts';
import { collapseBroadcast } from '../src/ops/broadcast.ts';
import { RUNTIME, randomData, threadedCpu } from './harness.ts';

const one = new WasmBackend(await wasmModule());
const two = await threadedCpu();

async function bits<K extends KernelName>(be: Backend, kernel: K, inputs: ArrayBufferView[], outBytes: number, p: KernelParams[K]) {
  const bufs = inputs.map((x) => { const b = be.alloc(x.byteLength); be.write(b, x); return b; });
  const out = be.alloc(outBytes);
  be.run(kernel, bufs, out, p);
  const r = await be.read(out, outBytes);
  for (const b of [...bufs, out]) be.free(b);
  return Array.from(r);
}

test(`${RUNTIME}: threads: 2 threads give the same bits as 1 for every pooled kernel`, async () => {
  assert.ok(two, 'a 2-thread pool (SharedArrayBuffer is available here)');
  const m = 67, k = 45, n = 53, rows = 37, c = 101;
  const cases: [KernelName, ArrayBufferView[], number, KernelParams[KernelName]][] = [
    ['matmul', [randomData(m * k, 1), randomData(k * n, 2)], 4 * m * n, { m, k, n }], // split by rows
    ['matmul', [randomData(5 * k, 1), randomData(k * 203, 2)], 4 * 5 * 203, { m: 5, k, n: 203, transposeB: false }], // by columns
    ['matmul', [randomData(6 * 9 * k, 1), randomData(k * 11, 2), randomData(11, 3)], 4 * 6 * 9 * 11,
      { m: 9, k, n: 11, batchShape: [6], aBatchStrides: [9 * k], bBatchStrides: [0], bias: true, activation: 'relu' }], // by batches
    ['binary', [randomData(rows * c, 3), randomData(c, 4)], 4 * rows * c, { op: 'add', ...collapseBroadcast([rows, c], [rows, c], [c]) }],
    ['unary', [randomData(1001, 5)], 4004, { op: 'relu', size: 1001 }],
    ['reduce', [randomData(rows * c, 6)], 4 * rows, { op: 'sum', outer: rows, reduce: c, inner: 1 }],
    ['reduce', [randomData(rows * c * 3, 7)], 12 * rows, { op: 'max', outer: rows, reduce: c, inner: 3 }],
    ['reduce', [randomData(200003, 12)], 4, { op: 'sum', outer: 1, reduce: 200003, inner: 1 }], // chunked partials
    ['reduce', [randomData(30011 * 7, 13)], 28, { op: 'mean', outer: 1, reduce: 30011, inner: 7 }],
    ['reduce', [randomData(70001, 14)], 4, { op: 'min', outer: 1, reduce: 70001, inner: 1 }],
    ['softmax', [randomData(rows * c, 8)], 4 * rows * c, { rows, n: c, log: false }],
    ['layerNorm', [randomData(rows * c, 9)], 4 * rows * c, { rows, n: c, eps: 1e-5, weight: false, bias: false }],
    ['crossEntropy', [randomData(rows * c, 10), new Int32Array(rows).map((_, i) => (i * 7) % c)], 4 * rows, { rows, classes: c, smoothing: 0.1 }],
    ['copy', [randomData(rows * c, 11)], 4 * rows * c, { itemBytes: 4, shape: [c, rows], srcStrides: [1, c], dstStrides: [rows, 1], srcOffset: 0, dstOffset: 0 }],
  ];
  for (const [kernel, inputs, outBytes, p] of cases) {
    assert.equal(await bits(two!, kernel, inputs, outBytes, p), await bits(one, kernel, inputs, outBytes, p), `${kernel} ${JSON.stringify(p).slice(0, 60)}`);
  }
});

test(`${RUNTIME}: threads: a label error found by a worker names the right row`, async () => {
  const labels = new Int32Array(40).fill(1);
  labels[33] = 9;
  try {
    await bits(two!, 'crossEntropy', [randomData(40 * 3, 1), labels], 160, { rows: 40, classes: 3, smoothing: 0 });
    assert.unreachable('label 9 of 3 classes');
  } catch (e) {
    assert.instance(e, T.IndexError);
    assert.match((e as Error).message, /label 9 at index 33/);
  }
});

test(`${RUNTIME}: threads: tensors made on a pool keep working after it is stopped`, async () => {
  const be = await threadedCpu();
  const x = be!.alloc(4 * 1000), o = be!.alloc(4 * 1000);
  be!.write(x, randomData(1000, 3));
  be!.destroy(); // as init({ threads: 1 }) or shutdown() does to the old backend
  be!.run('unary', [x], o, { op: 'relu', size: 1000 }); // would wait forever on gone workers
  const got = new Float32Array((await be!.read(o, 4000)).buffer);
  assert.equal(Array.from(got), Array.from(randomData(1000, 3)).map((v) => (v < 0 ? 0 : v)));
});

test(`${RUNTIME}: threads: init({ threads }) grants them, and info says so`, async () => {
  try {
    const info = await T.init({ threads: 2 });
    assert.is(info.cpu.threads, canShare() ? 2 : 1);
    const a = T.randn([300, 200], { seed: 4 }), b = T.randn([200, 300], { seed: 5 });
    const got = await T.matmul(a, b).data();
    const ref = await T.matmul(await a.to('ref'), await b.to('ref')).data();
    got.forEach((v, i) => assert.ok(Math.abs(v - ref[i]) <= 1e-4 * (1 + Math.abs(ref[i])), `index ${i}`));
  } finally {
    await T.init({ threads: 1 });
  }
  assert.is(T.info().cpu.threads, 1);
  try {
    await T.init({ threads: 1.5 });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /threads must be a positive integer or 'auto'/);
  }
});

test(`${RUNTIME}: threads: the GEMM split follows the threads' measured speeds`, () => {
  const b = new SplitBalancer(2);
  assert.equal(b.starts(10, 2), [0, 5], 'equal parts before any measurement');
  assert.equal(b.starts(1, 2), [0, 1], 'fewer units than parts: one part is empty');
  assert.equal(b.starts(2, 2), [0, 1]);
  // The worker takes twice as long per unit: within a few calls the caller gets ~2/3.
  for (let i = 0; i < 12; i++) {
    const [, s] = b.starts(300, 2);
    b.observe([s, 300 - s], [s / 100, (300 - s) / 50]);
  }
  const [, cut] = b.starts(300, 2);
  assert.ok(cut >= 195 && cut <= 205, `caller's share ${cut} of 300, want ~200`);
  assert.equal(b.starts(3, 2), [0, 2]);
  // Parts too short to time say nothing; a thread that stalled once keeps a measurable share.
  b.observe([150, 150], [0.05, 5]);
  assert.is(b.starts(300, 2)[1], cut, 'a part under the timing floor is ignored');
  for (let i = 0; i < 20; i++) b.observe([150, 150], [1, 1000]);
  const [, most] = b.starts(300, 2);
  assert.ok(most <= 240 && most >= 230, `a stalled thread keeps 1/5 of the units, got ${300 - most}`);
  assert.equal(b.starts(5, 2), [0, 4], 'every part keeps a unit');
  // Three threads: starts ascend and each part has a unit.
  const c = new SplitBalancer(3);
  c.observe([10, 10, 10], [1, 2, 4]);
  const st = c.starts(7, 3);
  assert.is(st[0], 0);
  assert.ok(st[1] > 0 && st[2] > st[1] && st[2] < 7, JSON.stringify(st));
});

test(`${RUNTIME}: threads: uneven GEMM parts give the same bits as one thread`, async () => {
  assert.ok(two, 'a 2-thread pool');
  const be = await threadedCpu();
  const balancer = (be as unknown as { balancer: SplitBalancer }).balancer;
  const k = 37;
  for (const speed of [[4, 1], [1, 4], [1.3, 1]]) {
    balancer.speed.splice(0, 2, ...speed);
    for (const [m, n] of [[67, 53], [9, 30], [5, 203], [2, 19]]) {
      const p = { m, k, n, bias: true, activation: 'relu' as const };
      const inputs = [randomData(m * k, m), randomData(k * n, n), randomData(n, 3)];
      assert.equal(await bits(be!, 'matmul', inputs, 4 * m * n, p), await bits(one, 'matmul', inputs, 4 * m * n, p), `${m}x${k}x${n} speeds ${speed}`);
    }
  }
  be!.destroy();
});

test.run();
