/**
 * The data loader (issue 8), side by side in one process. Writes bench/results/data.json.
 *
 * 1. An epoch of the demo's training (digits, 784-256-10 MLP, AdamW, batch 128; each batch a
 *    random 28x28 crop of the 2-pixel-padded image, scaled to [0, 1]) with the loader in three
 *    modes: neither prefetch nor workers (each batch made on demand on this thread), prefetch
 *    only (made ahead on this thread), and prefetch + one data worker. Modes interleave in
 *    rounds; medians. One traced epoch per mode gives the fraction of the epoch the training
 *    loop spent waiting for data: the 'wait' spans named 'data' on the host stream, summed,
 *    over the epoch's wall time. Per-batch preprocessing (the job), planning (this thread's share:
 *    indices, random choices, allocation) and compute times are reported so the
 *    condition "preprocessing a batch costs less than computing it" can be read off. A second
 *    configuration adds a JavaScript step of the user's own (pixel noise), a pipeline whose
 *    preprocessing is a larger share of the step. Both run with the cpu engine on 2 threads
 *    (the demo's setting: both cores compute, so a data worker's time comes out of the GEMM's
 *    second thread) and on 1 thread (a core left for the data worker).
 * 2. Worker scaling of preprocessing alone: 8192 CIFAR-shaped u8 images [32, 32, 3], random crop
 *    32 with padding 4, random flip, per-channel normalize; batches of 256 consumed with no
 *    compute; images per second with the work on this thread (0 workers) and on 1 .. cores
 *    workers (kept between epochs, so start-up is not in the figure).
 *
 * 3. Staging to the gpu (where there is one; SwiftShader here): a loader with device 'gpu' feeds
 *    a pipelined loop (linear + relu + row sum on the gpu, result read one step late). From the
 *    trace, the steps whose next batch's upload started before their own gpu batch completed
 *    (bench/pipeline.ts `overlaps`): the upload of batch k+1 runs while step k computes.
 *
 *
 * The epoch comparison is also made per round (neither over prefetch + worker, epochs of the same
 * round), which cancels the machine's slower and faster stretches: medians alone drift by
 * +-5-10% between runs here, more than the demo pipeline's whole preprocessing share.
 *
 * Timing is a plain performance.now() around each epoch, not tinybench: its task runner added
 * about 1 ms to every event-loop turn a task yields (measured here: an epoch of 16 batches made
 * on this thread, which yields once per batch, took 27.6-35.2 ms under tinybench and 10.3-22.6
 * ms in a plain loop, rounds 2-4, one process, same loader), and the loader's main-thread path yields per batch.
 *
 *   npm run bench:data
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as T from '../src/index.ts';

const info = await T.init({ threads: 'auto' });
if (info.gpu) await T.calibrate(); // now, not in the background of a timed epoch
const cores = availableParallelism();
const ROUNDS = Number(process.env.ROUNDS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
/** Wall time of one run of fn, ms. */
const timed = async (fn: () => Promise<unknown>) => { const t0 = performance.now(); await fn(); return performance.now() - t0; };

// ---------- 1. the demo's epoch ----------
const NTRAIN = 10_000, BATCH = 128;
const { transforms } = T.data;
const steps = [transforms.randomCrop(28, { padding: 2 }), transforms.normalize({ mean: 0, std: 1 })];
// The same with a step of the user's own in JavaScript (pixel noise, a random() per pixel): a
// pipeline whose preprocessing is a larger share of the step, still less than the compute.
const noise = transforms.custom((x, { random }) => { for (let i = 0; i < x.length; i++) x[i] += 0.05 * (random() - 0.5); });
const configs = { demo: steps, 'demo + JS noise step': [...steps, noise] };
type Config = keyof typeof configs;
const modes = {
  neither: { prefetch: 0, workers: 0 },
  'prefetch only': { prefetch: 4, workers: 0 },
  'prefetch + 1 worker': { prefetch: 4, workers: 1, persistentWorkers: true },
} as const;
type Mode = keyof typeof modes;

let model: T.nn.Sequential, opt: T.optim.AdamW;

/** One epoch of training on `loader`; the loss is read back every step, as the demo does. */
async function trainEpoch(loader: T.data.DataLoader): Promise<number> {
  let last = 0;
  for await (const b of loader) {
    const [x, y] = b as T.Tensor[];
    const loss = T.tidy(() => {
      const l = T.nn.crossEntropy(model.forward(T.reshape(x, [x.shape[0], 784])), y);
      opt.zeroGrad(); l.backward(); opt.step();
      return l;
    });
    last = (await loss.data())[0];
    loss.dispose();
  }
  return last;
}

/** Per round, neither's epoch time over prefetch + worker's (same round, so the same machine state). */
const paired = new Map<string, number[]>();
interface EpochRow { engineThreads: number; config: Config; mode: Mode; medianMs: number; p25Ms: number; p75Ms: number; samples: number; waitFraction: number; waitMsTraced: number; tracedEpochMs: number; statsWaitFraction: number; prepareMsPerBatch: number; planMsPerBatch: number; computeMsPerBatch: number; batches: number }
const epochRows: EpochRow[] = [];
// The engine on 2 threads (the demo's setting: both cores compute, so a data worker takes its
// time from the GEMM's second thread) and on 1 (a core left for the data worker).
for (const engineThreads of [cores, 1]) {
  await T.init({ threads: engineThreads });
  if (info.gpu) await T.calibrate();
  const { images, labels } = T.datasets.digits({ n: NTRAIN, seed: 1 });
  const ds = new T.data.TensorDataset(images, labels);
  model = new T.nn.Sequential(new T.nn.Linear(784, 256, { seed: 1, device: 'cpu' }), new T.nn.ReLU(), new T.nn.Linear(256, 10, { seed: 2, device: 'cpu' }));
  opt = new T.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
for (const config of Object.keys(configs) as Config[]) {
  const loaders = Object.fromEntries(Object.entries(modes).map(([m, o]) => [m, new T.data.DataLoader(ds, { batchSize: BATCH, shuffle: true, seed: 7, dropLast: true, transform: configs[config], ...o })])) as Record<Mode, T.data.DataLoader>;
  const times = new Map<Mode, number[]>(Object.keys(modes).map((m) => [m as Mode, []]));
  const waits = new Map<Mode, number[]>(Object.keys(modes).map((m) => [m as Mode, []]));
  const prep = new Map<Mode, number[]>(Object.keys(modes).map((m) => [m as Mode, []]));
  const plan = new Map<Mode, number[]>(Object.keys(modes).map((m) => [m as Mode, []]));
  for (let round = 0; round <= ROUNDS; round++) {
    const took = new Map<Mode, number>();
    for (const m of Object.keys(modes) as Mode[]) took.set(m, await timed(() => trainEpoch(loaders[m])));
    if (round === 0) continue; // warm-up: Wasm tier-up, worker start, allocator slabs
    for (const [m, ms] of took) {
      const st = loaders[m].stats!;
      times.get(m)!.push(ms);
      if (m === 'prefetch + 1 worker') {
        const key = `${engineThreads}|${config}`;
        paired.set(key, [...(paired.get(key) ?? []), took.get('neither')! / ms]);
      }
      waits.get(m)!.push(st.waitMs / st.elapsedMs);
      prep.get(m)!.push(st.prepareMs / st.batches);
      plan.get(m)!.push(st.planMs / st.batches);
    }
    console.error(`${engineThreads} engine thread(s), ${config}, round ${round}: ${[...times].map(([m, xs]) => `${m} ${xs.at(-1)!.toFixed(0)} ms`).join(', ')}`);
  }
  // One traced epoch per mode: the waiting fraction from the trace itself.
  for (const m of Object.keys(modes) as Mode[]) {
    T.startTrace();
    const t0 = performance.now();
    await trainEpoch(loaders[m]);
    const epochMs = performance.now() - t0;
    const trace = T.stopTrace();
    const waitMs = trace.traceEvents.filter((e) => e.cat === 'wait' && e.name === 'data').reduce((s, e) => s + (e.dur ?? 0) / 1000, 0);
    const med = median(times.get(m)!), batches = loaders[m].stats!.batches;
    const prepMs = median(prep.get(m)!);
    epochRows.push({
      engineThreads, config, mode: m, medianMs: med, p25Ms: quantile(times.get(m)!, 0.25), p75Ms: quantile(times.get(m)!, 0.75), samples: times.get(m)!.length, waitFraction: waitMs / epochMs, waitMsTraced: waitMs, tracedEpochMs: epochMs,
      statsWaitFraction: median(waits.get(m)!), prepareMsPerBatch: prepMs, planMsPerBatch: median(plan.get(m)!),
      computeMsPerBatch: (med * (1 - median(waits.get(m)!))) / batches, batches,
    });
  }
  for (const l of Object.values(loaders)) await l.close();
}
  images.dispose(); labels.dispose();
  for (const p of model.parameters()) p.dispose();
}
await T.init({ threads: 'auto' });

// ---------- 2. worker scaling of preprocessing alone ----------
const NIMG = 8192, CB = 256;
const pixels = new Uint8Array(NIMG * 32 * 32 * 3);
for (let i = 0, x = 12345; i < pixels.length; i++) { x = (x * 1103515245 + 12345) >>> 0; pixels[i] = x >>> 24; }
const cifar = T.tensor(pixels, [NIMG, 32, 32, 3], { dtype: 'u8' });
const cifarDs = new T.data.TensorDataset(cifar);
const cifarSteps = [transforms.randomCrop(32, { padding: 4 }), transforms.randomFlip(), transforms.normalize({ mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26] })];
const counts = Array.from({ length: cores + 1 }, (_, i) => i);
const scaleLoaders = counts.map((w) => new T.data.DataLoader(cifarDs, { batchSize: CB, shuffle: true, seed: 3, workers: w, prefetch: 4 * Math.max(1, w), persistentWorkers: true, transform: cifarSteps }));
const drain = async (l: T.data.DataLoader) => { for await (const _b of l) { /* consume: the loader frees each batch */ } };
interface ScaleRow { workers: number; medianMs: number; prepareMsPerBatch: number; imagesPerSecond: number; speedupOverMainThread: number; speedupOverOneWorker: number | null }
const scaleRows: ScaleRow[] = [];
{
  const times = counts.map(() => [] as number[]);
  for (let round = 0; round <= ROUNDS; round++) {
    const took: number[] = [];
    for (const w of counts) took.push(await timed(() => drain(scaleLoaders[w])));
    if (round === 0) continue;
    took.forEach((ms, i) => times[i].push(ms));
  }
  const meds = times.map(median);
  counts.forEach((w) => scaleRows.push({
    workers: w, medianMs: meds[w], prepareMsPerBatch: scaleLoaders[w].stats!.prepareMs / scaleLoaders[w].stats!.batches, imagesPerSecond: NIMG / (meds[w] / 1000), speedupOverMainThread: meds[0] / meds[w],
    speedupOverOneWorker: w >= 1 ? meds[1] / meds[w] : null,
  }));
  for (const l of scaleLoaders) await l.close();
}

// ---------- 3. staging to the gpu ----------
let staging: { steps: number; overlapped: number; uploads: number; batches: number } | null = null;
if (info.gpu) {
  const { overlaps } = await import('./pipeline.ts');
  const n = 384, feats = 16 * 16 * 3, hidden = 64;
  const small = T.tensor(pixels.subarray(0, n * feats), [n, 16, 16, 3], { dtype: 'u8' });
  const w = T.randn([hidden, feats], { seed: 4, device: 'gpu' }), bias = T.zeros([hidden], { device: 'gpu' });
  const gpuLoader = new T.data.DataLoader(new T.data.TensorDataset(small), { batchSize: 32, device: 'gpu', workers: 1, prefetch: 2, persistentWorkers: true, transform: [transforms.randomFlip(), transforms.normalize({ mean: 0.5, std: 0.25 })] });
  const loop = async () => {
    let prev: Promise<unknown> | null = null;
    for await (const b of gpuLoader) {
      const [x] = b as T.Tensor[];
      const y = T.tidy(() => T.sum(T.linear(T.reshape(x, [x.shape[0], feats]), w, bias, { activation: 'relu' }), -1));
      const read = y.data();
      y.dispose();
      if (prev) await prev;
      else await null; // the first step gets its own submit
      prev = read;
    }
    await prev;
  };
  await loop(); // warm-up: pipelines compile
  T.startTrace();
  await loop();
  staging = overlaps(T.stopTrace());
  await gpuLoader.close();
  for (const t of [small, w, bias]) t.dispose();
  console.log(`staging: the next batch's upload began before the step's gpu batch completed on ${staging.overlapped} of ${staging.steps} steps`);
}

const speedup = (t: number, c: Config) => epochRows.find((r) => r.engineThreads === t && r.config === c && r.mode === 'neither')!.medianMs / epochRows.find((r) => r.engineThreads === t && r.config === c && r.mode === 'prefetch + 1 worker')!.medianMs;
const speedups = [cores, 1].flatMap((t) => (Object.keys(configs) as Config[]).map((c) => {
  const ps = paired.get(`${t}|${c}`)!;
  return { engineThreads: t, config: c, speedup: speedup(t, c), pairedMedian: median(ps), pairedP25: quantile(ps, 0.25), pairedP75: quantile(ps, 0.75), pairedAbove1: ps.filter((r) => r > 1).length, rounds: ps.length };
}));
const result = {
  date: new Date().toISOString(),
  machine: { cores, cpuThreads: info.cpu.threads, relaxedSimd: info.cpu.relaxedSimd },
  epoch: { trainImages: NTRAIN, batch: BATCH, rows: epochRows, speedupPrefetchWorkerOverNeither: speedups },
  scaling: { images: NIMG, batch: CB, rows: scaleRows },
  staging: staging ? { adapter: info.gpu?.adapter, ...staging } : null,
};
writeFileSync(new URL('./results/data.json', import.meta.url), JSON.stringify(result, null, 2));
console.table(epochRows.map((r) => ({ threads: r.engineThreads, config: r.config, mode: r.mode, 'epoch ms': r.medianMs.toFixed(1), 'p25-p75': `${r.p25Ms.toFixed(0)}-${r.p75Ms.toFixed(0)}`, 'wait % (trace)': (100 * r.waitFraction).toFixed(2), 'wait % (stats)': (100 * r.statsWaitFraction).toFixed(2), 'prep ms/batch': r.prepareMsPerBatch.toFixed(3), 'plan ms/batch': r.planMsPerBatch.toFixed(3), 'compute ms/batch': r.computeMsPerBatch.toFixed(3) })));
for (const r of speedups) console.log(`engine on ${r.engineThreads} thread(s), ${r.config}: prefetch + worker vs neither ${r.speedup.toFixed(3)}x (medians); per round ${r.pairedMedian.toFixed(3)}x (p25 ${r.pairedP25.toFixed(3)}, p75 ${r.pairedP75.toFixed(3)}; faster in ${r.pairedAbove1} of ${r.rounds} rounds)`);
console.table(scaleRows.map((r) => ({ workers: r.workers, 'ms/epoch': r.medianMs.toFixed(1), 'job ms/batch': r.prepareMsPerBatch.toFixed(3), 'images/s': r.imagesPerSecond.toFixed(0), 'vs main thread': r.speedupOverMainThread.toFixed(2), 'vs 1 worker': r.speedupOverOneWorker?.toFixed(2) ?? '' })));
cifar.dispose();
T.shutdown();
