/**
 * The trace's gpu batch spans timed by GPU timestamp queries (src/backend/gpu-timestamps.ts).
 * Without a GPU: the checks that reject unusable timestamps, the clock anchor's containment and
 * order, and the all-zero fallback on a mock device. With one, on fresh devices swapped in
 * (so their query sets and passes are counted from nothing): with tracing off, no query set and
 * no timed pass; with tracing on, spans whose clock is 'gpu-timestamp' where the device has
 * `timestamp-query` ('host' otherwise), durations >= 0, in submission order, inside the window
 * from before the first submit to after the last completion and each inside its own batch's
 * host window (args.submitTs..doneTs), one query set for all batches; a device without the
 * feature gets host spans. No assertion on the times' values beyond order and containment.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { ClockAnchor, GPUTimestamps, MAX_PASSES, timestampProblem } from '../src/backend/gpu-timestamps.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const name = (s: string) => `${RUNTIME}: trace-timestamps: ${s}`;
const stamps = (...v: number[]) => BigUint64Array.from(v.map(BigInt));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Span = ReturnType<typeof T.stopTrace>['traceEvents'][number];
const gpuSpans = (trace: ReturnType<typeof T.stopTrace>): Span[] => {
  const tid = trace.traceEvents.find((e) => e.ph === 'M' && (e.args as { name: string }).name === 'gpu')!.tid;
  return trace.traceEvents.filter((e) => e.ph === 'X' && e.tid === tid && e.cat === 'compute');
};
const arg = (e: Span, k: string) => (e.args ?? {})[k];

test(name('unusable timestamps are detected: all zero, a pass ending before it begins, begins out of submission order'), () => {
  assert.is(timestampProblem(stamps(100, 200, 200, 300), null), null);
  assert.is(timestampProblem(stamps(100, 250, 200, 300), null), null, 'a pass may end after the next begins (passes overlap on a gpu)');
  assert.is(timestampProblem(stamps(100, 100), 100n), null, 'a quantized pass: begin == end, and == the last batch\'s begin');
  assert.is(timestampProblem(stamps(0, 0, 0, 0), null), 'all timestamps are zero');
  assert.match(timestampProblem(stamps(100, 90), null) ?? '', /ends before it begins/);
  assert.match(timestampProblem(stamps(100, 200, 150, 300, 140, 400), null) ?? '', /pass 2 begins before pass 1/);
  assert.match(timestampProblem(stamps(100, 200), 101n) ?? '', /before the batch submitted before it/);
});

test(name('the clock anchor puts each span inside its batch\'s host window, in order, within its error bound, or refuses'), () => {
  const a = new ClockAnchor();
  // The GPU's clock reads `base` ns at host time 1000 ms (SwiftShader's are ~2.7e13 ns).
  const base = 26_583_522_017_280n;
  const gpuNs = (hostMs: number) => base + BigInt(Math.round((hostMs - 1000) * 1e6));
  // [submit, true begin, true end, done] in host ms: the gpu ran inside [submit, done].
  const batches = [[1000, 1000.3, 1002, 1003], [1002.5, 1003.1, 1003.2, 1005], [1003, 1005.05, 1006, 1006.02], [1010, 1010.01, 1011, 1013]];
  let last = -Infinity;
  for (const [submit, g0, g1, done] of batches) {
    const p = a.place(gpuNs(g0), gpuNs(g1), submit, done)!;
    assert.ok(p, 'placed');
    assert.ok(p.t0 >= submit - 1e-9 && p.t1 <= done + 1e-9, `inside its window: ${p.t0}..${p.t1} in ${submit}..${done}`);
    assert.ok(p.t0 >= last, 'in submission order');
    assert.ok(Math.abs(p.t1 - p.t0 - (g1 - g0)) < 1e-6, 'the gpu duration is kept');
    assert.ok(Math.abs(p.t0 - g0) <= p.widthMs + 1e-6, `off the true time by ${p.t0 - g0} ms, bound ${p.widthMs}`);
    last = p.t0;
  }
  assert.ok(a.place(gpuNs(1011.5), gpuNs(1011.6), 1011.4, 1011.65)!.widthMs < 0.1, 'batches narrow the bound');
  assert.is(a.place(gpuNs(1020), gpuNs(1030), 1020, 1025), null, 'a gpu interval longer than the host window');
  // A batch whose window contradicts the offset so far (quantization, drift) lowers it only as
  // far as it must, and the span still follows the previous one.
  const p = a.place(gpuNs(1011.6), gpuNs(1011.7), 1011.55, 1011.68)!;
  assert.ok(p, 'placed');
  assert.ok(p.t0 >= 1011.5 && p.t0 >= 1011.55 && p.t1 <= 1011.68 + 1e-9, JSON.stringify(p));
});

test(name('all-zero timestamps give a host span saying why, and the device\'s timestamps are given up'), async () => {
  const made: string[] = [];
  const device = {
    createQuerySet: () => { made.push('query set'); return { destroy() {} }; },
    createBuffer: () => { made.push('buffer'); return { destroy() {} }; },
  } as unknown as GPUDevice;
  const ts = new GPUTimestamps(device);
  const calls: string[] = [];
  const encoder = { resolveQuerySet: () => calls.push('resolve'), copyBufferToBuffer: () => calls.push('copy') } as unknown as GPUCommandEncoder;
  T.startTrace();
  const b = ts.begin()!;
  assert.ok(ts.passDescriptor(b)?.timestampWrites);
  assert.ok(ts.passDescriptor(b)?.timestampWrites);
  assert.equal(made, ['query set', 'buffer'], 'one query set for the batch\'s passes');
  const data = ts.submitting(b, encoder, (bytes) => ({ buffer: {} as GPUBuffer, offset: 0, data: Promise.resolve(new Uint8Array(bytes)) }));
  assert.equal(calls, ['resolve', 'copy']);
  assert.ok(typeof data !== 'string');
  const t0 = performance.now();
  ts.submitted(b, data as Promise<Uint8Array>, t0, 3);
  await ts.settled();
  const spans = gpuSpans(T.stopTrace());
  const mine = spans.filter((e) => arg(e, 'fallback') === 'all timestamps are zero'); // the runtime's own device may be busy too
  assert.is(mine.length, 1);
  assert.equal(mine[0].args, { clock: 'host', batch: 0, fallback: 'all timestamps are zero' });
  assert.is(mine[0].name, 'gpu batch (3 dispatches)');
  assert.is(ts.begin(), null, 'later batches are not timed');
  // Overflow and copy-only batches fall back too.
  const ts2 = new GPUTimestamps(device);
  const full = ts2.begin()!;
  for (let i = 0; i < MAX_PASSES; i++) assert.ok(ts2.passDescriptor(full));
  assert.is(ts2.passDescriptor(full), undefined);
  assert.match(String(ts2.submitting(full, encoder, () => { throw new Error('no read'); })), /more than 64 compute passes/);
  assert.match(String(ts2.submitting(ts2.begin()!, encoder, () => { throw new Error('no read'); })), /copies only/);
});

interface Spy { querySets: number; passes: number; timedPasses: number; resolves: number }

/**
 * A fresh device (features masked without timestamp-query when `mask`) in a backend swapped in
 * for the runtime's; its query sets, passes and resolves are counted.
 */
async function withFreshGPU(mask: boolean, fn: (be: import('../src/backend/webgpu.ts').WebGPUBackend, spy: Spy) => Promise<void>): Promise<void> {
  const { acquireGPU } = await import('../src/backend/acquire.ts');
  const { WebGPUBackend } = await import('../src/backend/webgpu.ts');
  const { swapGPUForTest } = await import('../src/runtime.ts');
  await T.calibrate(); // known before the swap: a lazy measurement would run on the fresh device
  const got = await acquireGPU();
  assert.ok(got, 'a second device for this test');
  const device = got!.device;
  if (mask) Object.defineProperty(device, 'features', { value: new Set([...device.features].filter((f) => f !== 'timestamp-query')) });
  const spy: Spy = { querySets: 0, passes: 0, timedPasses: 0, resolves: 0 };
  const createQuerySet = device.createQuerySet, createCommandEncoder = device.createCommandEncoder;
  device.createQuerySet = function (d) { spy.querySets++; return createQuerySet.call(this, d); };
  device.createCommandEncoder = function (d) {
    const enc = createCommandEncoder.call(this, d);
    const beginComputePass = enc.beginComputePass, resolveQuerySet = enc.resolveQuerySet;
    enc.beginComputePass = function (p) { spy.passes++; if (p?.timestampWrites) spy.timedPasses++; return beginComputePass.call(this, p); };
    enc.resolveQuerySet = function (...a) { spy.resolves++; return resolveQuerySet.apply(this, a); };
    return enc;
  };
  const be = new WebGPUBackend(device, got!.keepAlive);
  const original = swapGPUForTest(be);
  try {
    await fn(be, spy);
  } finally {
    swapGPUForTest(original);
    be.destroy();
  }
}

/** `steps` batches of dispatches, each read back; the last also uploads mid-batch (two passes). */
async function work(steps: number): Promise<void> {
  const x = T.tensor(randomData(4096, 5), [4096], { device: 'gpu' });
  for (let k = 0; k < steps; k++) await T.neg(T.mul(x, x)).data();
  const a = T.neg(x);
  const up = T.tensor(randomData(4096, 6), [4096], { device: 'gpu' }); // a copy: ends the pass
  await T.add(a, up).data();
}

test(name('tracing off: no query set is made and no pass is timed'), async () => {
  if (!info.gpu) { assert.not.ok(REQUIRE_GPU, 'a gpu is required'); return; }
  await withFreshGPU(false, async (be, spy) => {
    await work(2);
    assert.ok(spy.passes > 0, 'dispatches ran');
    assert.equal({ querySets: spy.querySets, timedPasses: spy.timedPasses, resolves: spy.resolves }, { querySets: 0, timedPasses: 0, resolves: 0 });
    assert.is(be.timestamps?.querySets ?? 0, 0);
  });
});

test(name('tracing on: gpu batch spans from timestamp queries where the device has them, ordered, inside the host window'), async () => {
  if (!info.gpu) return;
  await withFreshGPU(false, async (be, spy) => {
    const hasTs = be.device.features.has('timestamp-query');
    await work(1); // compile the pipelines first: their batches wait behind the compiles
    const steps = 4;
    T.startTrace();
    const t0 = performance.now();
    await work(steps);
    await be.timestamps?.settled();
    await be.device.queue.onSubmittedWorkDone();
    await sleep(20); // host spans land in onSubmittedWorkDone callbacks
    const t1 = performance.now();
    const spans = gpuSpans(T.stopTrace());
    const withDispatches = spans.filter((e) => !/\(0 dispatches\)/.test(e.name));
    assert.ok(withDispatches.length >= steps + 1, `a span per batch (${spans.length})`);
    for (const e of spans) {
      assert.ok(Number.isInteger(e.ts) && Number.isInteger(e.dur) && e.dur! >= 0, JSON.stringify(e));
      // Rounding to whole microseconds is the only slack: placement is inside each batch's window.
      assert.ok(e.ts >= Math.floor(t0 * 1000) && e.ts + e.dur! <= Math.ceil(t1 * 1000) + 1, `${JSON.stringify(e)} inside ${t0 * 1000}..${t1 * 1000}`);
    }
    // Spans of one clock are made in submission order (copies-only batches, host-timed, may interleave).
    withDispatches.forEach((e, i) => assert.ok(i === 0 || e.ts >= withDispatches[i - 1].ts, `in submission order: ${JSON.stringify(withDispatches.map((s) => [s.ts, s.args]))}`));
    for (const e of withDispatches) assert.is(arg(e, 'clock'), hasTs ? 'gpu-timestamp' : 'host', JSON.stringify(e));
    if (!hasTs) return;
    const timed = withDispatches.map((e) => arg(e, 'batch') as number);
    assert.equal(timed, [...timed].sort((p, q) => p - q), 'batch numbers rise in emission order');
    assert.is(new Set(timed).size, timed.length);
    for (const e of withDispatches) {
      assert.ok((arg(e, 'anchorUs') as number) >= 0);
      // Inside its own batch's host window (whole-microsecond rounding aside).
      assert.ok(e.ts >= (arg(e, 'submitTs') as number) - 1 && e.ts + e.dur! <= (arg(e, 'doneTs') as number) + 1, JSON.stringify(e));
    }
    assert.ok(withDispatches.some((e) => (arg(e, 'passes') as number) >= 2), 'the upload mid-batch splits it into two timed passes');
    assert.is(spy.querySets, 1, 'one query set serves every batch');
    assert.is(spy.resolves, withDispatches.length, 'one resolve per timed batch');
    assert.is(spy.timedPasses, withDispatches.reduce((n, e) => n + (arg(e, 'passes') as number), 0));
  });
});

test(name('a device without timestamp-query: host spans that say so'), async () => {
  if (!info.gpu) return;
  await withFreshGPU(true, async (be, spy) => {
    assert.is(be.timestamps, null);
    T.startTrace();
    await work(1);
    await be.device.queue.onSubmittedWorkDone();
    await sleep(20);
    const spans = gpuSpans(T.stopTrace()).filter((e) => !/\(0 dispatches\)/.test(e.name));
    assert.ok(spans.length >= 2);
    for (const e of spans) assert.equal(e.args, { clock: 'host', fallback: 'no timestamp-query on this device' });
    assert.is(spy.querySets + spy.timedPasses, 0);
  });
});

test.run();
