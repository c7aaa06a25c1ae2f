/**
 * What the tape costs, through the public API, single-threaded cpu, tfjs-backend-wasm's add
 * beside it as the yardstick of bench/ops.bench.ts ("add of 1,000 f32 no slower than tfjs"):
 *   - add 1,000 with grad mode on and no input requiring grad (the default forward: the
 *     dispatcher's one boolean test, then a scan of the inputs for requiresGrad / gradFn);
 *   - the same inside T.noGrad (the boolean test only);
 *   - the same with an input requiring grad (a tape node is made and later freed);
 *   - forward + backward of sum(relu(x @ w^T + b)) for x [64, 128], w [128, 128] (one
 *     training-step shape), against the forward alone under noGrad.
 * Engines interleaved in 5 rounds; medians of all samples. Writes bench/results/autograd.json.
 *
 *   npm run build && node --import tsx bench/autograd.bench.ts
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import * as T from '../src/index.ts';
import { tfjsWasm } from './peers.ts';

const info = await T.init({ gpu: false, threads: 1 });
const { tf, version: tfjsVersion } = await tfjsWasm();
const data = (n: number, seed: number) => { let x = seed; return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1); };

const a = T.tensor(data(1000, 1), [1000]), b = T.tensor(data(1000, 2), [1000]);
const p = T.tensor(data(1000, 3), [1000]);
p.requiresGrad = true;
const fa = tf.tensor(data(1000, 1), [1000]), fb = tf.tensor(data(1000, 2), [1000]);
const x = T.tensor(data(64 * 128, 4), [64, 128]), w = T.tensor(data(128 * 128, 5), [128, 128]), bias = T.tensor(data(128, 6), [128]);
w.requiresGrad = bias.requiresGrad = true;
const step = () => T.tidy(() => T.sum(T.relu(T.linear(x, w, bias))).backward());

const cases: [string, number, () => void][] = [
  ['tfjs-wasm add 1,000', 20000, () => tf.add(fa, fb).dispose()],
  ['add 1,000, grad mode on, no input requires grad', 20000, () => T.add(a, b).dispose()],
  ['add 1,000 inside noGrad', 20000, () => T.noGrad(() => T.add(a, b)).dispose()],
  ['add 1,000, an input requires grad (node made and freed)', 20000, () => T.add(p, b).dispose()],
  ['linear+relu+sum [64,128]x[128,128], forward under noGrad', 300, () => T.noGrad(() => T.tidy(() => { T.sum(T.relu(T.linear(x, w, bias))); }))],
  ['linear+relu+sum [64,128]x[128,128], forward + backward', 300, () => { step(); w.grad!.dispose(); w.grad = null; bias.grad!.dispose(); bias.grad = null; }],
];
const samples = new Map(cases.map(([n]) => [n, [] as number[]]));
for (let round = 0; round < 5; round++) {
  for (const [name, iterations, fn] of cases) {
    const bench = new Bench({ time: 0, iterations: Math.ceil(iterations / 5), retainSamples: true, warmup: round === 0, warmupIterations: Math.min(200, iterations) });
    bench.add(name, fn);
    await bench.run();
    samples.get(name)!.push(...((bench.tasks[0].result as { latency?: { samples?: number[] } }).latency?.samples ?? []));
  }
}
const rows = cases.map(([name]) => {
  const xs = samples.get(name)!.sort((u, v) => u - v);
  return { case: name, medianUs: xs[xs.length >> 1] * 1000, samples: xs.length };
});
console.table(rows.map((r) => ({ ...r, medianUs: r.medianUs.toFixed(2) })));
writeFileSync(new URL('./results/autograd.json', import.meta.url), JSON.stringify({
  bench: 'autograd', date: new Date().toISOString(), runtime: `node ${process.version}`, tandem: info.cpu,
  peer: { 'tfjs-wasm': { version: tfjsVersion, config: 'tfjs-core + tfjs-backend-wasm, SIMD binary, 1 thread' } },
  note: 'Median latency of one call, output allocated and disposed per call; cases interleaved in 5 rounds. Shared 2-core machine: noisy.',
  rows,
}, null, 2) + '\n');
process.exit(0);
