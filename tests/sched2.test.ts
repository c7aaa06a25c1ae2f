/**
 * The scheduler, phase 2: the dispatcher's hot path and when decisions are kept, lazy
 * calibration (the first model decision starts it; defaults meanwhile), T.splitBatch (the split
 * follows the calibration; the joined result equals one device's), readbacks issued together
 * sharing one submit and one map, and the pipelined loop's trace structure (an upload of step
 * i+1 starts before step i's gpu batch completes). Results are compared against the `ref` backend
 * or a plain-JS reference.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { backends } from '../src/runtime.ts';
import { configure, place, placement, rates, stays } from '../src/sched/place.ts';
import { defaultCalibration } from '../src/sched/cost.ts';
import { overlaps, pipelineSetup, runLoop } from '../bench/pipeline.ts';
import { RUNTIME, close, info, mismatch, randomData, withInit } from './harness.ts';

const name = (s: string) => `${RUNTIME}: sched2: ${s}`;



test(name('hot path: decisions are kept only after startExplain; results match ref, views included'), async () => {
  T.explain({ stop: true, clear: true });
  const x = randomData(6 * 5, 1), y = randomData(5 * 6, 2);
  const a = T.tensor(x, [6, 5]), b = T.tensor(y, [5, 6]);
  const s = T.add(T.transpose(a), b); // a non-contiguous input on the hot path
  assert.is(T.explain().length, 0, 'nothing kept by default');
  const ref = T.add(T.transpose(T.tensor(x, [6, 5], { device: 'ref' })), T.tensor(y, [5, 6], { device: 'ref' }));
  await close(s, (await ref.data()) as Float32Array);
  T.startExplain();
  T.relu(a);
  const d = T.explain({ stop: true });
  assert.is(d.length, 1);
  assert.is(d[0].op, 'relu');
  assert.is(d[0].device, 'cpu');
  assert.ok(['only-engine', 'model', 'manual'].includes(d[0].reason), d[0].reason);
  T.neg(a);
  assert.is(T.explain().length, 1, 'stopped');
  await withInit({ placement: 'manual' }, async () => {
    T.startExplain();
    T.neg(a);
    const m = T.explain({ stop: true });
    assert.is(m.at(-1)!.reason, 'manual');
    assert.ok(stays('neg', 'cpu'), 'manual keeps ops on their inputs\' device');
  });
  T.startExplain();
});

test(name('lazy calibration: the first model decision starts the measurement, defaults meanwhile'), () => {
  if (!info.gpu) return;
  const saved = { mode: placement(), c: rates() };
  const gpu = { lost: false };
  let started = 0;
  const defaults = defaultCalibration('test', true);
  try {
    configure('auto', null, gpu, () => { started++; return defaults; });
    const a = T.zeros([4]);
    assert.not.ok(stays('neg', 'cpu'), 'with a gpu, auto asks the model');
    assert.is(started, 0, 'nothing measured before a decision needs it');
    const plan = { shape: [256, 256], kernel: 'matmul', params: { m: 256, k: 256, n: 256 } } as never;
    const m = T.zeros([256, 256]);
    assert.is(place('matmul', [m, m], plan), 'cpu', 'a software gpu\'s defaults never win');
    place('neg', [a], { shape: [4], kernel: 'unary', params: {} } as never);
    assert.is(started, 1, 'started once');
    assert.is(rates(), defaults);
    const hw = defaultCalibration('test', false);
    configure('auto', hw, gpu);
    assert.is(place('matmul', [m, m], plan), 'gpu', 'a hardware gpu\'s defaults take a 256^3 matmul');
    a.dispose(); m.dispose();
  } finally {
    configure(saved.mode, saved.c, backends('test').gpu);
  }
});

test(name('splitBatch: the split follows the calibration, and the result equals one device\'s'), async () => {
  const xd = randomData(8 * 12, 3), wd = randomData(12 * 5, 4);
  const ref = (await T.matmul(T.tensor(xd, [8, 12], { device: 'ref' }), T.tensor(wd, [12, 5], { device: 'ref' })).data()) as Float32Array;
  if (!info.gpu) {
    const y = T.splitBatch((x, w) => T.matmul(x, w), [T.tensor(xd, [8, 12]), T.tensor(wd, [12, 5])], { devices: ['cpu'], split: [true, false] });
    await close(y, ref, 1e-4);
    assert.throws(() => T.splitSizes(8), (e: unknown) => e instanceof T.DeviceError);
    return;
  }
  const cal: T.Calibration = {
    key: 'test: gpu 3x cpu', measuredMs: 0, bounded: [],
    cpu: { launchUs: 1, gbps: 30, gflops: 10 },
    gpu: { launchUs: 1, gbps: 10, gflops: 30, upload: { latencyUs: 1, gbps: 10 }, download: { latencyUs: 1, gbps: 10 } },
  };
  await withInit({ calibration: cal }, async () => {
    assert.equal(T.splitSizes(8), [{ device: 'gpu', rows: 6 }, { device: 'cpu', rows: 2 }]);
    assert.equal(T.splitSizes(8, { rate: 'gbps' }), [{ device: 'gpu', rows: 2 }, { device: 'cpu', rows: 6 }]);
    assert.equal(T.splitSizes(7, { weights: [1, 1] }).map((s) => s.rows), [4, 3], 'largest remainders, summing to n');
    assert.equal(T.splitSizes(3, { weights: [0, 5] }).map((s) => s.rows), [0, 3]);
    const seen: string[] = [];
    const x = T.tensor(xd, [8, 12]), w = T.tensor(wd, [12, 5]);
    const y = T.splitBatch((xs, ws) => {
      seen.push(`${xs.device}:${xs.shape[0]}:${ws.device}`);
      return T.tanh(T.matmul(xs, ws));
    }, [x, w], { split: [true, false] });
    assert.equal(seen, ['gpu:6:gpu', 'cpu:2:cpu'], 'each engine gets its rows and the whole weight');
    assert.is(y.device, 'cpu', 'joined on the first input\'s device');
    assert.equal(y.shape, [8, 5]);
    const tref = ref.map(Math.tanh);
    await close(y, tref, 1e-4);
    const single = T.onDevice('cpu', () => T.tanh(T.matmul(x, w)));
    await close(y, (await single.data()) as Float32Array, 1e-4);
    // Axis 1, joined on the gpu.
    const y1 = T.splitBatch((xs) => T.relu(xs), [T.tensor(xd, [8, 12])], { axis: 1, join: 'gpu', weights: [1, 2] });
    assert.is(y1.device, 'gpu');
    await close(y1, xd.map((v) => Math.max(0, v)));
    assert.throws(() => T.splitBatch((a) => a, [x, T.zeros([3, 12])]), (e: unknown) => e instanceof T.TandemError && /disagree/.test((e as Error).message));
    assert.throws(() => T.splitSizes(4, { devices: ['tpu' as never] }), (e: unknown) => e instanceof T.DeviceError);
    assert.throws(() => T.splitSizes(4, { weights: [0, 0] }), (e: unknown) => e instanceof T.TandemError);
  });
});

test(name('readbacks issued together share one submit and one map'), async () => {
  const gpu = backends('test').gpu;
  if (!info.gpu || !gpu) return;
  await T.calibrate(); // a measurement in the background submits work of its own
  const xs = [1, 2, 3, 4, 5].map((s) => randomData(100 + s, s));
  const ts = xs.map((x) => T.tensor(x, [x.length], { device: 'gpu' }));
  const ys = ts.map((t) => T.neg(t));
  await ys[0].data(); // everything before is submitted and done
  const queue = gpu.device.queue;
  const submit = queue.submit;
  let submits = 0;
  queue.submit = function (bufs: Iterable<GPUCommandBuffer>) { submits++; return submit.call(this, bufs); };
  const maps0 = gpu.readbacks.maps;
  try {
    const got = await Promise.all(ys.map((y) => y.data()));
    assert.is(submits, 1, 'one submit for five reads');
    assert.is(gpu.readbacks.maps - maps0, 1, 'one mapAsync');
    got.forEach((g, i) => assert.equal(Array.from(g as Float32Array), Array.from(xs[i]).map((v) => -v)));
  } finally {
    queue.submit = submit;
  }
});

test(name('pipelined loop: same results as serialized; an upload of step i+1 starts before step i\'s gpu batch completes'), async () => {
  if (!info.gpu) return;
  const size = { batch: 16, features: 64, hidden: 32 };
  const p = pipelineSetup(size, 4);
  try {
    const serial = await runLoop(p, 'serialized');
    T.startTrace();
    const piped = await runLoop(p, 'pipelined');
    for (let i = 0; i < 50; i++) await new Promise((r) => setTimeout(r, 10)); // the last batch's span lands after its read
    const trace = T.stopTrace();
    assert.equal(piped.map((r) => Array.from(r)), serial.map((r) => Array.from(r)));
    // Step 0 against plain JS: x = u8 / 255 - 0.5, y = sum(relu(x W^T + b)).
    const [w, b] = (await Promise.all([p.w.data(), p.b.data()])) as Float32Array[];
    const host = new Uint8Array(size.batch * size.features);
    for (let i = 0, x = 1; i < host.length; i++) host[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
    const ref = new Float32Array(size.batch);
    for (let r = 0; r < size.batch; r++) {
      for (let o = 0; o < size.hidden; o++) {
        let acc = b[o];
        for (let k = 0; k < size.features; k++) acc += (Math.fround(host[r * size.features + k] * Math.fround(1 / 255)) - 0.5) * w[o * size.features + k];
        ref[r] += Math.max(0, acc);
      }
    }
    assert.is(mismatch(serial[0], ref, null, 1e-3, 1e-3), null);
    const o = overlaps(trace);
    assert.is(o.uploads, 4, 'one upload span per step');
    assert.ok(o.batches >= 4, `a gpu batch per step (${o.batches})`);
    assert.ok(o.overlapped >= 1, JSON.stringify(o));
  } finally {
    p.dispose();
  }
});

test.run();
