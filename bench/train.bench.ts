/**
 * Training steps, Tandem vs tfjs (layers API on tfjs-backend-wasm, XNNPACK, one thread), side
 * by side in one process. Issue 7's target: one step of the 784-256-10 MLP at batch 128 in at
 * most a third of tfjs-wasm's `trainOnBatch` time, with SGD and with AdamW (tfjs has no AdamW:
 * its row runs Adam, the same work less the decoupled decay). Every step of either library
 * ends with the loss read back to the host, as `trainOnBatch` does.
 *
 * Then Tandem against itself, time and peak bytes side by side:
 * - autocast f16 vs f32 on a wider MLP (784-1024-1024-10, batch 512);
 * - every layer checkpointed vs plain on the 16-layer MLP of the issue (width 256, batch 4096).
 *
 * The parent runs Tandem on 1 thread; a child runs it with a pool of 2 (tfjs-wasm starts no
 * threads in Node, so it stays on 1 and is measured again beside it). Engines interleave in
 * rounds; medians. Writes bench/results/train.json.
 *
 *   npm run bench:train
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import * as T from '../src/index.ts';
import { arg, isChild, printRows, runChild } from './child.ts';

const threads = Number(arg('threads') ?? 1);
const info = await T.init({ gpu: false, threads });
const tag = threads > 1 ? `-${threads}t` : '';

const tf = await import('@tensorflow/tfjs');
const wasm = await import('@tensorflow/tfjs-backend-wasm');
wasm.setWasmPaths(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
wasm.setThreadsCount(1);
tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
if (!(await tf.setBackend('wasm'))) throw new Error('train bench: tfjs wasm backend did not start');

interface Row { case: string; engine: string; medianMs: number; samples: number; peakBytes?: number; finalLoss?: number }
const rows: Row[] = [];
const ROUNDS = 5;

/** Time each engine's step, interleaved in rounds; one warm-up round first. */
async function measure(name: string, iterations: number, engines: [string, () => Promise<number>][], peaks: Record<string, number> = {}): Promise<void> {
  const samples = new Map(engines.map(([e]) => [e, [] as number[]]));
  const last = new Map<string, number>();
  for (let round = 0; round <= ROUNDS; round++) {
    const bench = new Bench({ time: 0, iterations: round === 0 ? 2 : Math.max(1, Math.ceil(iterations / ROUNDS)), retainSamples: true, warmup: false });
    for (const [e, step] of engines) bench.add(e, async () => { last.set(e, await step()); });
    await bench.run();
    if (round === 0) continue;
    for (const t of bench.tasks) samples.get(t.name)!.push(...((t.result as { latency?: { samples?: number[] } }).latency?.samples ?? []));
  }
  for (const [e] of engines) {
    const xs = samples.get(e)!.sort((a, b) => a - b);
    rows.push({ case: name, engine: e, medianMs: xs[xs.length >> 1], samples: xs.length, peakBytes: peaks[e], finalLoss: last.get(e) });
  }
  console.error(`${name}: done`);
}

const seeded = (n: number, seed: number) => { let x = seed >>> 0; return Float32Array.from({ length: n }, () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32)); };

// ---- the MLP: 784-256-10, batch 128 ----
const B = 128;
const xs = seeded(B * 784, 1), labels = Int32Array.from(seeded(B, 2), (v) => Math.floor(v * 10));

function tandemMLP(opt: 'sgd' | 'adamw') {
  const model = new T.nn.Sequential(new T.nn.Linear(784, 256), new T.nn.ReLU(), new T.nn.Linear(256, 10));
  const o = opt === 'sgd' ? new T.optim.SGD(model.parameters(), { lr: 0.01, momentum: 0.9 }) : new T.optim.AdamW(model.parameters(), { lr: 1e-3, weightDecay: 0.01 });
  const x = T.tensor(xs, [B, 784]), y = T.tensor(labels, [B], { dtype: 'i32' });
  return async () => {
    const loss = T.tidy(() => {
      const l = T.nn.crossEntropy(model.forward(x), y);
      o.zeroGrad(); l.backward(); o.step();
      return l;
    });
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };
}

function tfjsMLP(opt: 'sgd' | 'adam') {
  const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu' }), tf.layers.dense({ units: 10 })] });
  model.compile({ optimizer: opt === 'sgd' ? tf.train.momentum(0.01, 0.9) : tf.train.adam(1e-3), loss: (t: import('@tensorflow/tfjs').Tensor, p: import('@tensorflow/tfjs').Tensor) => tf.losses.softmaxCrossEntropy(t, p) });
  const x = tf.tensor2d(xs, [B, 784]), y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
  return async () => Number(await model.trainOnBatch(x, y));
}

await measure('mlp 784-256-10 b128 SGD momentum', 100, [[`tandem${tag}`, tandemMLP('sgd')], ['tfjs-wasm', tfjsMLP('sgd')]]);
await measure('mlp 784-256-10 b128 AdamW (tfjs: Adam)', 100, [[`tandem${tag}`, tandemMLP('adamw')], ['tfjs-wasm', tfjsMLP('adam')]]);

// ---- Tandem against itself: the step and its peak bytes in use ----
/** A step function of an MLP of `widths`, optionally under autocast or with every layer checkpointed. */
function variant(widths: number[], batch: number, mode: 'f32' | 'f16' | 'checkpoint') {
  const layers = widths.slice(1).map((w, i) => new T.nn.Linear(widths[i], w));
  const params = layers.flatMap((l) => l.parameters());
  const o = new T.optim.SGD(params, { lr: 1e-3 });
  const x = T.tensor(seeded(batch * widths[0], 3), [batch, widths[0]]);
  const y = T.tensor(Int32Array.from(seeded(batch, 4), (v) => Math.floor(v * widths.at(-1)!)), [batch], { dtype: 'i32' });
  const forward = () => {
    let h = x;
    layers.forEach((l, i) => {
      const last = i === layers.length - 1;
      const f = (a: T.Tensor) => (last ? l.forward(a) : T.relu(l.forward(a)));
      h = mode === 'checkpoint' && !last ? T.checkpoint(f, h) : f(h);
    });
    return T.nn.crossEntropy(h, y);
  };
  const step = async () => {
    const loss = T.tidy(() => {
      const l = mode === 'f16' ? T.autocast({ dtype: 'f16' }, forward) : forward();
      o.zeroGrad(); l.backward(); o.step();
      return l;
    });
    const v = (await loss.data())[0];
    loss.dispose();
    return v;
  };
  return { step, peak: async () => { const base = T.memoryStats().cpu.bytesInUse; T.resetPeak(); await step(); return T.memoryStats().cpu.peakBytesInUse - base; } };
}

async function selfCase(name: string, iterations: number, widths: number[], batch: number, modes: ('f32' | 'f16' | 'checkpoint')[]): Promise<void> {
  const vs = modes.map((m) => [m, variant(widths, batch, m)] as const);
  const peaks: Record<string, number> = {};
  for (const [m, v] of vs) peaks[`tandem${tag} ${m}`] = await v.peak();
  await measure(name, iterations, vs.map(([m, v]) => [`tandem${tag} ${m}`, v.step]), peaks);
}

await selfCase('mlp 784-1024-1024-10 b512: autocast f16 vs f32', 20, [784, 1024, 1024, 10], 512, ['f32', 'f16']);
await selfCase('mlp 16 x 256 b4096: checkpoint vs plain', 5, [256, ...Array(16).fill(256)], 4096, ['f32', 'checkpoint']);

if (isChild) printRows(rows);
const child = await runChild(new URL(import.meta.url).pathname, [], ['--threads=2'], [] as Row[]);
const all = [...rows, ...child.map((r) => (r.engine === 'tfjs-wasm' ? { ...r, engine: 'tfjs-wasm (2t run)' } : r))];
const at = (c: string, e: string) => all.find((r) => r.case === c && r.engine === e)?.medianMs ?? NaN;
const mlpCases = [...new Set(all.filter((r) => r.case.startsWith('mlp 784-256')).map((r) => r.case))];
const ratios = mlpCases.map((c) => ({ case: c, tfjsOverTandem: at(c, 'tfjs-wasm') / at(c, 'tandem'), tfjsOverTandem2t: at(c, 'tfjs-wasm (2t run)') / at(c, 'tandem-2t') }));
console.table(all.map((r) => ({ ...r, medianMs: r.medianMs.toFixed(2), peakMiB: r.peakBytes === undefined ? '' : (r.peakBytes / 2 ** 20).toFixed(1) })));
console.table(ratios.map((r) => ({ case: r.case, 'tfjs / Tandem (1 thread)': `${r.tfjsOverTandem.toFixed(2)}x`, 'tfjs / Tandem (2 threads)': `${r.tfjsOverTandem2t.toFixed(2)}x` })));
writeFileSync(new URL('./results/train.json', import.meta.url), JSON.stringify({
  bench: 'train', date: new Date().toISOString(), runtime: `node ${process.version}`, tandem: info.cpu,
  peer: { 'tfjs-wasm': { version: tf.version.tfjs, config: 'tfjs layers model.trainOnBatch on tfjs-backend-wasm (SIMD binary), 1 thread; softmaxCrossEntropy on one-hot labels' } },
  note: 'Median time of one step (forward, backward, update, loss read back). Engines interleaved in 5 rounds after a warm-up round. peakBytes: cpu bytes in use above the pre-step baseline during one step. Ratio > 1: Tandem faster.',
  rows: all, ratios,
}, null, 2) + '\n');
process.exit(0);
