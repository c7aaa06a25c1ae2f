/**
 * The scheduler: pending tensors and fences, cpu work queued behind readbacks in issue order,
 * cross-device ops with inserted copies, placement (modes, pins, onDevice, the cost model on a
 * given calibration), calibration stores, and errors of pending work reaching every dependant.
 * Results are compared against the `ref` backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { loadCalibration, saveCalibration } from '../src/sched/calibrate.ts';
import { REQUIRE_GPU, RUNTIME, close, info, mismatch, randomData, withInit } from './harness.ts';

const name = (s: string) => `${RUNTIME}: sched: ${s}`;
T.startExplain(); // decisions are kept only when asked for

/** The same computation on the ref backend, from the same host data. */
async function refOf(f: (d: 'ref') => T.Tensor): Promise<Float32Array> {
  return (await f('ref').data()) as Float32Array;
}



test(name('init reports the placement; auto calibrates when a gpu exists'), async () => {
  const i = T.info();
  assert.is(i.placement, 'auto');
  if (REQUIRE_GPU) assert.ok(i.gpu);
  const c = await T.calibrate(); // measured lazily: init() does not wait for it
  assert.is(T.info().calibration, c);
  if (i.gpu) {
    assert.ok(c, 'a calibration');
    for (const r of [c.cpu, c.gpu!]) for (const k of ['launchUs', 'gbps', 'gflops'] as const) assert.ok(r[k] > 0 && Number.isFinite(r[k]), `${k} = ${r[k]}`);
    assert.ok(c.gpu!.upload.gbps > 0 && c.gpu!.download.gbps > 0);
    assert.match(c.key, new RegExp(`threads=${i.cpu.threads}`));
  }
});

test(name('T.to from the gpu returns a pending cpu tensor at once, then its values'), async () => {
  if (!info.gpu) return;
  const x = randomData(300, 1);
  const g = T.tensor(x, [3, 100], { device: 'gpu' });
  const c = T.to(g, 'cpu');
  assert.is(c.device, 'cpu');
  assert.ok(c.pending, 'pending until the readback lands');
  assert.equal(Array.from((await c.data()) as Float32Array), Array.from(x));
  assert.not.ok(c.pending);
  const moved = await T.transpose(g).to('cpu'); // async form, from a non-contiguous view
  assert.not.ok(moved.pending);
  assert.equal(moved.shape, [100, 3]);
  await close(moved, await refOf((d) => T.transpose(T.tensor(x, [3, 100], { device: d }))));
  for (const t of [g, c, moved]) t.dispose();
});

test(name('cpu ops on pending inputs queue behind the readback and run in issue order'), async () => {
  if (!info.gpu) return;
  const xa = randomData(64 * 32, 2), xb = randomData(32 * 16, 3), xc = randomData(16, 4);
  const a = T.tensor(xa, [64, 32], { device: 'gpu' }), b = T.tensor(xb, [32, 16], { device: 'gpu' });
  const p = T.to(T.matmul(a, b), 'cpu');
  const c = T.tensor(xc, [16], { device: 'cpu' });
  T.startTrace();
  const y = T.add(p, c), z = T.exp(T.mul(y, T.tensor([0.1], [1], { device: 'cpu' }))), w = T.sum(z, 1);
  assert.ok(y.pending && z.pending && w.pending, 'every dependant is pending');
  assert.ok(T.transpose(y).pending, 'views share the fence');
  const got = await w.data();
  const trace = T.stopTrace();
  const ref = await refOf((d) => T.sum(T.exp(T.mul(T.add(T.matmul(T.tensor(xa, [64, 32], { device: d }), T.tensor(xb, [32, 16], { device: d })), T.tensor(xc, [16], { device: d })), T.tensor([0.1], [1], { device: d }))), 1));
  assert.is(mismatch(got as Float32Array, ref, null, 1e-4, 1e-4), null);
  const cpuOps = trace.traceEvents.filter((e) => e.ph === 'X' && e.tid === 1 && e.cat === 'compute').map((e) => e.name);
  assert.equal(cpuOps, ['add', 'mul', 'exp', 'sum'], 'the cpu stream ran them in issue order');
});

test(name('disposing pending tensors is safe; their memory returns when the work completes'), async () => {
  if (!info.gpu) return;
  const g = T.tensor(randomData(4096, 5), [4096], { device: 'gpu' });
  const c0 = T.tensor(randomData(4096, 6), [4096], { device: 'cpu' });
  await (await g.to('cpu')).data(); // warm the paths whose first use reserves memory
  const base = T.memoryStats().cpu.bytesInUse;
  const p = T.to(g, 'cpu');
  const y = T.add(p, c0), z = T.relu(y), s = T.sum(z);
  p.dispose(); y.dispose(); z.dispose();
  assert.ok(s.pending);
  const expected = (await refOf((d) => T.sum(T.relu(T.add(T.tensor(randomData(4096, 5), [4096], { device: d }), T.tensor(randomData(4096, 6), [4096], { device: d }))))))[0];
  assert.ok(Math.abs((await s.data())[0] - expected) <= 1e-3 * Math.abs(expected) + 1e-3);
  s.dispose();
  assert.is(T.memoryStats().cpu.bytesInUse, base, 'every pending buffer was freed');
  for (const t of [g, c0]) t.dispose();
});

test(name('an error of pending work reaches the data() of every tensor that depends on it'), async () => {
  if (!info.gpu) return;
  const logits = T.tensor(randomData(12, 7), [3, 4], { device: 'gpu' });
  const labels = T.tensor(new Int32Array([0, 9, 1]), [3], { device: 'gpu' }); // 9 is out of range
  const loss = T.crossEntropy(logits, labels, { reduction: 'none' });
  const onCpu = T.to(loss, 'cpu');
  const later = T.add(onCpu, T.ones([3], { device: 'cpu' }));
  const viewed = T.reshape(later, [1, 3]);
  for (const t of [onCpu, later, viewed]) {
    try {
      await t.data();
      assert.unreachable('no silent values');
    } catch (e) {
      assert.instance(e, T.IndexError);
    }
  }
  // The cpu engine works on, and later ops on the failed tensor fail the same way.
  assert.equal(Array.from(await T.add(T.ones([2]), T.ones([2])).data()), [2, 2]);
  try {
    await T.neg(later).data();
    assert.unreachable();
  } catch (e) {
    assert.instance(e, T.IndexError);
  }
});

test(name('ordering across streams: gpu -> cpu -> gpu -> cpu, pending all the way'), async () => {
  if (!info.gpu) return;
  const xa = randomData(48 * 24, 8), xb = randomData(24 * 20, 9), xc = randomData(20, 10);
  const build = (d: 'ref' | 'gpu' | 'cpu', e: 'ref' | 'gpu' | 'cpu') => {
    const m = T.matmul(T.tensor(xa, [48, 24], { device: d }), T.tensor(xb, [24, 20], { device: d }));
    const h = T.tanh(T.add(T.to(m, e), T.tensor(xc, [20], { device: e })));  // cpu, queued
    const back = T.to(h, d);                                              // upload once h lands
    return T.sum(T.mul(back, T.tensor(xc, [20], { device: d })), 0);      // gpu, then read back
  };
  const out = build('gpu', 'cpu');
  assert.is(out.device, 'gpu');
  await close(out, await refOf(() => build('ref', 'ref')), 1e-4);
});

test(name("cross-device ops: legal in auto (copies inserted), a DeviceError in 'manual'"), async () => {
  if (!info.gpu) return;
  const xa = randomData(40, 11), xb = randomData(40, 12);
  const a = T.tensor(xa, [40], { device: 'cpu' }), b = T.tensor(xb, [40], { device: 'gpu' });
  const ref = await refOf((d) => T.mul(T.tensor(xa, [40], { device: d }), T.tensor(xb, [40], { device: d })));
  const c = T.mul(a, b);
  const last = T.explain().at(-1)!;
  assert.is(last.op, 'mul');
  assert.is(last.reason, 'model', 'pinned to two devices: the model decides');
  assert.is(c.device, last.device);
  assert.is(last.movedBytes, 160);
  await close(c, ref);
  assert.ok(Number.isFinite(last.cpuUs) && Number.isFinite(last.gpuUs));
  await withInit({ placement: 'manual' }, async () => {
    assert.throws(() => T.mul(a, b), (e: unknown) => e instanceof T.DeviceError && /mul: inputs are on different devices \(cpu, gpu\)/.test((e as Error).message));
    assert.throws(() => T.concat([a, b]), (e: unknown) => e instanceof T.DeviceError);
  });
  const cat = T.concat([a, b]);
  assert.is(cat.device, 'cpu');
  await close(cat, new Float32Array([...xa, ...xb]));
});

test(name('placement overrides: pinned tensors, T.onDevice, placement cpu/gpu'), async () => {
  if (!info.gpu) return;
  const x = randomData(64, 13);
  const ref = await refOf((d) => T.relu(T.tensor(x, [64], { device: d })));
  const free = T.relu(T.tensor(x, [64])); // made without a device: not pinned
  assert.not.ok(free.pinned);
  assert.is(free.device, 'cpu', 'a small op on unpinned cpu data stays on cpu');
  const g = T.onDevice('gpu', () => T.relu(T.tensor(x, [64])));
  assert.is(g.device, 'gpu');
  assert.ok(g.pinned, 'the result of a forced op is pinned');
  assert.is(T.explain().at(-1)!.reason, 'scope');
  await close(g, ref);
  const g2 = T.neg(g); // stays with its pinned input
  assert.is(g2.device, 'gpu');
  assert.is(T.explain().at(-1)!.reason, 'pinned');
  assert.throws(() => T.onDevice('tpu' as never, () => 0), (e: unknown) => e instanceof T.DeviceError);
  await withInit({ placement: 'gpu' }, async () => {
    const r = T.relu(T.tensor(x, [64]));
    assert.is(r.device, 'gpu');
    assert.is(T.explain().at(-1)!.reason, 'placement');
    await close(r, ref);
  });
  await withInit({ placement: 'cpu' }, async () => {
    assert.is(T.relu(T.tensor(x, [64])).device, 'cpu');
    assert.is(T.relu(g).device, 'gpu', 'pins still force');
  });
});

test(name('auto on this calibration: small and medium unpinned ops stay on cpu when the gpu is slower'), () => {
  const c = T.info().calibration;
  if (!c?.gpu) return;
  const a = T.zeros([256, 256]), b = T.zeros([256, 256]);
  const m = T.matmul(a, b);
  const d = T.explain().at(-1)!;
  assert.is(d.reason, 'model');
  assert.is(d.flops, 2 * 256 ** 3);
  // The decision follows the estimates, whichever engine they favour on this machine.
  assert.is(m.device, d.gpuUs < d.cpuUs ? 'gpu' : 'cpu');
  const s = T.add(T.zeros([16]), T.ones([16]));
  const e = T.explain().at(-1)!;
  assert.is(s.device, e.gpuUs < e.cpuUs ? 'gpu' : 'cpu');
  if (c.bounded.includes('gpu.gflops') || c.gpu.gflops < c.cpu.gflops) assert.is(m.device, 'cpu', 'a slow (software) gpu loses the matmul');
});

test(name('the model follows the calibration: a fast gpu takes the large matmul, a tiny add stays on cpu'), async () => {
  if (!info.gpu) return;
  const fast: T.Calibration = {
    key: 'test: a fast gpu', measuredMs: 0, bounded: [],
    cpu: { launchUs: 1, gbps: 10, gflops: 10 },
    gpu: { launchUs: 50, gbps: 500, gflops: 10000, upload: { latencyUs: 10, gbps: 20 }, download: { latencyUs: 100, gbps: 20 } },
  };
  const xa = randomData(96 * 80, 14), xb = randomData(80 * 72, 15);
  await withInit({ calibration: fast }, async () => {
    const a = T.tensor(xa, [96, 80]), b = T.tensor(xb, [80, 72]);
    const m = T.matmul(a, b);
    const d = T.explain().at(-1)!;
    assert.is(m.device, 'gpu');
    assert.ok(d.gpuUs < d.cpuUs, JSON.stringify(d));
    assert.is(d.movedBytes, (96 * 80 + 80 * 72) * 4, 'both inputs uploaded');
    await close(m, await refOf((dv) => T.matmul(T.tensor(xa, [96, 80], { device: dv }), T.tensor(xb, [80, 72], { device: dv }))), 1e-4);
    const s = T.add(T.tensor([1, 2]), T.tensor([3, 4]));
    assert.is(s.device, 'cpu');
    assert.ok(T.explain().at(-1)!.cpuUs < T.explain().at(-1)!.gpuUs);
    // An elementwise op on the gpu result, with a cpu operand: cheaper where the big input is.
    const y = T.relu(T.add(m, T.tensor(randomData(72, 16), [72])));
    assert.is(y.device, 'gpu');
    const back = T.sum(m); // a small result read by the host: the gpu still wins (no download of m)
    assert.is(back.device, 'gpu');
  });
});

test(name('calibrations round-trip through a store (sync or async, object or JSON string)'), async () => {
  const c = T.info().calibration ?? { key: 'k', cpu: { launchUs: 1, gbps: 1, gflops: 1 }, gpu: null, measuredMs: 5, bounded: [] };
  const map = new Map<string, unknown>();
  await saveCalibration({ get: (k) => map.get(k), set: (k, v) => { map.set(k, v); } }, c);
  assert.equal(await loadCalibration({ get: async (k) => map.get(k), set: () => {} }, c.key), { ...c, measuredMs: 0 });
  assert.equal(await loadCalibration({ get: (k) => JSON.stringify(map.get(k)), set: () => {} }, c.key), { ...c, measuredMs: 0 });
  assert.is(await loadCalibration({ get: () => ({ key: c.key, cpu: {} }), set: () => {} }, c.key), null, 'malformed: measure again');
  assert.is(await loadCalibration({ get: () => { throw new Error('no'); }, set: () => {} }, c.key), null);
  assert.is(await loadCalibration({ get: (k) => map.get(k), set: () => {} }, 'another machine'), null);
});


test(name('trace: Chrome trace events, one tid per stream, and nothing recorded when off'), async () => {
  if (!info.gpu) return;
  const x = randomData(256, 17);
  const g = T.tensor(x, [256], { device: 'gpu' });
  T.startTrace();
  const up = T.to(T.tensor(x, [256], { device: 'cpu' }), 'gpu');
  const y = T.relu(T.add(T.to(T.neg(g), 'cpu'), T.ones([256])));
  await y.data();
  await up.data();
  let trace = T.stopTrace();
  for (let i = 0; i < 50 && !trace.traceEvents.some((e) => e.tid === 2); i++) await new Promise((r) => setTimeout(r, 20));
  const json = JSON.parse(JSON.stringify(trace)) as ReturnType<typeof T.stopTrace>;
  const spans = json.traceEvents.filter((e) => e.ph === 'X');
  const names = new Map(json.traceEvents.filter((e) => e.ph === 'M').map((e) => [e.tid, (e.args as { name: string }).name]));
  for (const e of spans) {
    assert.ok(['compute', 'upload', 'download', 'compile', 'wait'].includes(e.cat), e.cat);
    assert.ok(Number.isInteger(e.ts) && Number.isInteger(e.dur) && e.dur! >= 0 && e.pid === 1);
    assert.ok(names.has(e.tid), `tid ${e.tid} is named`);
  }
  const has = (cat: string, stream: string) => spans.some((e) => e.cat === cat && names.get(e.tid) === stream);
  assert.ok(has('upload', 'upload'), 'the cpu -> gpu copy');
  assert.ok(has('download', 'download'), 'the readback');
  assert.ok(has('compute', 'cpu'), 'cpu kernels');
  assert.ok(has('wait', 'host'), 'data() waiting on a fence');
  assert.ok(has('compute', 'gpu'), 'a gpu batch');
  const cpuNames = spans.filter((e) => names.get(e.tid) === 'cpu').map((e) => e.name);
  assert.equal(cpuNames, ['add', 'relu']);
  T.relu(T.ones([4]));
  T.startTrace();
  trace = T.stopTrace();
  assert.is(trace.traceEvents.filter((e) => e.ph === 'X').length, 0, 'spans only between start and stop');
});

test(name('a device lost mid-stream: pending work fails with DeviceLostError, the cpu works on, host copies stay readable'), async () => {
  if (!info.gpu) return;
  const { acquireGPU } = await import('../src/backend/acquire.ts');
  const { WebGPUBackend } = await import('../src/backend/webgpu.ts');
  const { swapGPUForTest } = await import('../src/runtime.ts');
  const got = await acquireGPU();
  assert.ok(got, 'a second device for this test');
  const be = new WebGPUBackend(got!.device, got!.keepAlive);
  const original = swapGPUForTest(be);
  try {
    const x = randomData(1024, 18);
    const g = T.tensor(x, [1024], { device: 'gpu' });
    const landed = await g.to('cpu'); // a completed readback: a host copy
    const onCpu = T.tensor(x, [1024], { device: 'cpu' });
    const work = T.exp(T.mul(g, g));
    const pending = T.to(work, 'cpu');
    const downstream = T.add(pending, onCpu);
    got!.device.destroy(); // mid-stream: the readback is in flight
    for (const t of [pending, downstream]) {
      try {
        await t.data();
        assert.unreachable('pending work must fail');
      } catch (e) {
        assert.instance(e, T.DeviceLostError, String(e));
        assert.instance(e, T.DeviceError, 'old catches still work');
      }
    }
    try {
      await g.data();
      assert.unreachable('a gpu tensor is gone');
    } catch (e) {
      assert.instance(e, T.DeviceLostError, String(e));
    }
    assert.throws(() => T.neg(g), (e: unknown) => e instanceof T.DeviceLostError);
    assert.equal(Array.from((await landed.data()) as Float32Array), Array.from(x), 'the completed readback is readable');
    const y = T.add(landed, onCpu); // unpinned placement avoids the lost gpu
    assert.is(y.device, 'cpu');
    await close(y, await refOf((d) => T.add(T.tensor(x, [1024], { device: d }), T.tensor(x, [1024], { device: d }))));
    const z = T.sum(T.relu(T.tensor(x, [1024])));
    assert.is(z.device, 'cpu');
    assert.is(T.explain().at(-1)!.reason, 'only-engine');
    await z.data();
  } finally {
    swapGPUForTest(original);
    be.destroy();
  }
  // The runtime's own device was never touched.
  assert.equal(Array.from(await T.add(T.ones([2], { device: 'gpu' }), T.ones([2], { device: 'gpu' })).data()), [2, 2]);
});

test.run();
