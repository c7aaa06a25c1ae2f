/**
 * Per-call cost of small and medium ops through each library's public API, Tandem vs
 * tfjs-backend-wasm (XNNPACK), both single-threaded, side by side in one process: the issue's
 * targets are add of 1,000 f32 no slower than tfjs-wasm, and softmax over [256, 1000] at least
 * 1.3x faster. Each call allocates its output and frees it, as user code does. Engines run
 * interleaved in rounds (a burst of outside load lands on both); medians of all samples.
 * Tandem runs its plain SIMD build (Node 20's default) here, and its relaxed-SIMD build (the
 * default in Deno and Chromium) in a child process started with --experimental-wasm-relaxed-simd,
 * which measures tfjs-wasm again beside it: each ratio comes from one process. tfjs-wasm
 * 4.22 ships no relaxed-SIMD binary, so the flag does not change what it runs. A second child
 * runs Tandem with a pool of 2 threads (tandem-2t) beside single-threaded tfjs-wasm.
 * Writes bench/results/ops.json.
 *
 *   npm run bench:ops
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import * as T from '../src/index.ts';
import { arg, isChild as child, printRows, runChild } from './child.ts';
import { tfjsWasm } from './peers.ts';

const threads = Number(arg('threads') ?? 1);
const info = await T.init({ gpu: false, threads });
if (info.cpu.threads !== threads) throw new Error(`ops bench: asked for ${threads} threads, got ${info.cpu.threads}`);
const tandemName = (info.cpu.relaxedSimd ? 'tandem-relaxed' : 'tandem') + (threads > 1 ? `-${threads}t` : '');
const { tf, version: tfjsVersion } = await tfjsWasm();

const data = (n: number, seed: number) => { let x = seed; return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) * 8 - 4); };

interface Case { name: string; shape: number[]; iterations: number; tandem(a: T.Tensor, b: T.Tensor): T.Tensor; tfjs(a: import('@tensorflow/tfjs-core').Tensor, b: import('@tensorflow/tfjs-core').Tensor): import('@tensorflow/tfjs-core').Tensor }
const CASES: Case[] = [
  { name: 'add 1,000', shape: [1000], iterations: 20000, tandem: T.add, tfjs: (a, b) => tf.add(a, b) },
  { name: 'add 1,000,000', shape: [1000, 1000], iterations: 200, tandem: T.add, tfjs: (a, b) => tf.add(a, b) },
  { name: 'relu 1,000,000', shape: [1000, 1000], iterations: 200, tandem: (a) => T.relu(a), tfjs: (a) => tf.relu(a) },
  { name: 'exp 1,000,000', shape: [1000, 1000], iterations: 100, tandem: (a) => T.exp(a), tfjs: (a) => tf.exp(a) },
  { name: 'softmax [256, 1000]', shape: [256, 1000], iterations: 200, tandem: (a) => T.softmax(a, -1), tfjs: (a) => tf.softmax(a) },
  { name: 'sum rows [256, 1000]', shape: [256, 1000], iterations: 500, tandem: (a) => T.sum(a, -1), tfjs: (a) => tf.sum(a, -1) },
];

const ROUNDS = 5;
const rows: { case: string; engine: string; medianUs: number; samples: number }[] = [];
const checks: Record<string, number> = {};
for (const c of CASES) {
  const n = c.shape.reduce((x, y) => x * y, 1);
  const ad = data(n, 1), bd = data(n, 2);
  const ta = T.tensor(ad, c.shape), tb = T.tensor(bd, c.shape);
  const fa = tf.tensor(ad, c.shape), fb = tf.tensor(bd, c.shape);
  // Same answer first: the largest difference relative to the largest value.
  const got = await c.tandem(ta, tb).data(), want = await c.tfjs(fa, fb).data() as Float32Array;
  let d = 0, s = 0;
  for (let i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(got[i] - want[i])); s = Math.max(s, Math.abs(want[i])); }
  checks[c.name] = d / (s || 1);
  const engines: [string, () => void][] = [
    [tandemName, () => c.tandem(ta, tb).dispose()],
    ['tfjs-wasm', () => c.tfjs(fa, fb).dispose()],
  ];
  const samples = new Map(engines.map(([e]) => [e, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 0, iterations: Math.ceil(c.iterations / ROUNDS), retainSamples: true, warmup: round === 0, warmupIterations: Math.min(200, c.iterations) });
    for (const [e, fn] of engines) bench.add(e, fn);
    await bench.run();
    for (const t of bench.tasks) samples.get(t.name)!.push(...((t.result as { latency?: { samples?: number[] } }).latency?.samples ?? []));
  }
  for (const [e] of engines) {
    const xs = samples.get(e)!.sort((x, y) => x - y);
    rows.push({ case: c.name, engine: e, medianUs: xs[xs.length >> 1] * 1000, samples: xs.length });
  }
  ta.dispose(); tb.dispose(); fa.dispose(); fb.dispose();
  console.error(`${c.name}: done (${tandemName})`);
}
if (child) printRows({ rows, checks });

/** A child run; its tfjs-wasm rows are renamed by the run's name. */
async function childRun(nodeFlags: string[], args: string[], run: string): Promise<{ rows: typeof rows; checks: Record<string, number> }> {
  const got = await runChild(new URL(import.meta.url).pathname, nodeFlags, args, { rows: [] as typeof rows, checks: {} as Record<string, number> });
  return { rows: got.rows.map((r) => ({ ...r, engine: r.engine === 'tfjs-wasm' ? `tfjs-wasm (${run} run)` : r.engine })), checks: got.checks };
}
// The relaxed-SIMD build; then the plain build with a pool of 2 threads (this machine has 2
// cores; tfjs-wasm stays on 1: tfjs-backend-wasm 4.22 never starts threads in Node).
const relaxed = await childRun(['--experimental-wasm-relaxed-simd'], [], 'relaxed');
const twoThreads = await childRun([], ['--threads=2'], '2t');

const all = [...rows, ...relaxed.rows, ...twoThreads.rows];
const at = (c: string, e: string) => all.find((r) => r.case === c && r.engine === e)?.medianUs ?? NaN;
const ratios = CASES.map((c) => ({
  case: c.name,
  tfjsOverTandem: at(c.name, 'tfjs-wasm') / at(c.name, 'tandem'),
  tfjsOverTandemRelaxed: at(c.name, 'tfjs-wasm (relaxed run)') / at(c.name, 'tandem-relaxed'),
  tfjsOverTandem2t: at(c.name, 'tfjs-wasm (2t run)') / at(c.name, 'tandem-2t'),
  maxRelDiff: checks[c.name], maxRelDiffRelaxed: relaxed.checks[c.name] ?? null, maxRelDiff2t: twoThreads.checks[c.name] ?? null,
}));
console.table(all.map((r) => ({ ...r, medianUs: r.medianUs.toFixed(2) })));
console.table(ratios.map((r) => ({ case: r.case, 'tfjs / Tandem (plain SIMD)': `${r.tfjsOverTandem.toFixed(2)}x`, 'tfjs / Tandem (relaxed SIMD)': `${r.tfjsOverTandemRelaxed.toFixed(2)}x`, 'tfjs / Tandem (2 threads)': `${r.tfjsOverTandem2t.toFixed(2)}x`, 'max rel diff': r.maxRelDiff.toExponential(1) })));
writeFileSync(new URL('./results/ops.json', import.meta.url), JSON.stringify({
  bench: 'ops', date: new Date().toISOString(), runtime: `node ${process.version}`, tandem: info.cpu,
  relaxedRun: 'child process: node --experimental-wasm-relaxed-simd; Tandem picks its relaxed-SIMD build, tfjs-wasm is unchanged and measured again beside it',
  twoThreadRun: 'child process: Tandem plain SIMD build with init({ threads: 2 }) (kernels above the pool threshold split over 2 workers on this 2-core machine); tfjs-wasm on its 1 thread (it starts none in Node) measured again beside it',
  peer: { 'tfjs-wasm': { version: tfjsVersion, config: 'tfjs-core + tfjs-backend-wasm, SIMD binary, 1 thread' } },
  note: 'Median latency of one call through each public API, output allocated and disposed per call; engines interleaved in 5 rounds. Ratio > 1: Tandem faster.',
  rows: all, ratios,
}, null, 2) + '\n');
process.exit(0);
