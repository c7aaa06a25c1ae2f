/**
 * conv2d on the cpu engine: LeNet-sized layers (N = 128; 1 -> 8 channels at 28x28, 8 -> 16 at
 * 14x14; 3x3 and 5x5, 'same' padding) with bias and a fused relu, Tandem (im2col + packed GEMM,
 * NCHW) against tfjs-backend-wasm's fused conv2d (XNNPACK, NHWC: its native layout, so each
 * library runs its fast path), both single-threaded, in one process, interleaved in rounds.
 * Also Tandem's backward (dx and dw, via conv2dBackward) of the same layers, for scale.
 * GFLOP/s counts 2 * N * O * OH * OW * C * kH * kW per forward (the bias and relu are free).
 * Writes bench/results/conv.json.
 *
 *   npm run bench:conv
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import * as T from '../src/index.ts';
import { conv2dAttrs, conv2dBackward } from '../src/ops/conv.ts';
import { tfjsWasm } from './peers.ts';

const info = await T.init({ gpu: false, threads: 1 });
const { tf, version: tfjsVersion } = await tfjsWasm();
const data = (n: number, seed: number) => { let x = seed; return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1); };

interface Case { name: string; n: number; c: number; hw: number; o: number; k: number; iterations: number }
const CASES: Case[] = [
  { name: 'conv1 1->8 28x28 3x3', n: 128, c: 1, hw: 28, o: 8, k: 3, iterations: 40 },
  { name: 'conv1 1->8 28x28 5x5', n: 128, c: 1, hw: 28, o: 8, k: 5, iterations: 30 },
  { name: 'conv2 8->16 14x14 3x3', n: 128, c: 8, hw: 14, o: 16, k: 3, iterations: 30 },
  { name: 'conv2 8->16 14x14 5x5', n: 128, c: 8, hw: 14, o: 16, k: 5, iterations: 20 },
];
const ROUNDS = 5;
const rows: { case: string; engine: string; medianMs: number; gflops: number; samples: number }[] = [];
const checks: Record<string, number> = {};

for (const c of CASES) {
  const pad = (c.k - 1) / 2, flops = 2 * c.n * c.o * c.hw * c.hw * c.c * c.k * c.k;
  const xd = data(c.n * c.c * c.hw * c.hw, 1), wd = data(c.o * c.c * c.k * c.k, 2), bd = data(c.o, 3), dyd = data(c.n * c.o * c.hw * c.hw, 4);
  const x = T.tensor(xd, [c.n, c.c, c.hw, c.hw]), w = T.tensor(wd, [c.o, c.c, c.k, c.k]), b = T.tensor(bd, [c.o]), dy = T.tensor(dyd, [c.n, c.o, c.hw, c.hw]);
  // tfjs: NHWC input, [kH, kW, in, out] filter.
  type T4 = import('@tensorflow/tfjs-core').Tensor4D;
  const fx = tf.transpose(tf.tensor(xd, [c.n, c.c, c.hw, c.hw]), [0, 2, 3, 1]) as T4, fw = tf.transpose(tf.tensor(wd, [c.o, c.c, c.k, c.k]), [2, 3, 1, 0]) as T4, fb = tf.tensor(bd, [c.o]);
  const tandem = () => T.conv2d(x, w, b, { padding: pad, activation: 'relu' });
  const tfjs = () => tf.fused.conv2d({ x: fx, filter: fw, strides: 1, pad: 'same', bias: fb, activation: 'relu' });
  // Same answer first (tfjs's NHWC result moved to NCHW).
  const got = await tandem().data(), ref = tf.transpose(tfjs(), [0, 3, 1, 2]), want = await ref.data() as Float32Array;
  let d = 0, s = 0;
  for (let i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(got[i] - want[i])); s = Math.max(s, Math.abs(want[i])); }
  checks[c.name] = d / (s || 1);
  const attrs = conv2dAttrs({ padding: pad });
  const engines: [string, () => void, number][] = [
    ['tandem', () => tandem().dispose(), flops],
    ['tfjs-wasm', () => tfjs().dispose(), flops],
    ['tandem backward (dx + dw)', () => { const g = conv2dBackward(x, w, dy, attrs, { dx: true, dw: true }); g.dx!.dispose(); g.dw!.dispose(); }, 2 * flops],
  ];
  const samples = new Map(engines.map(([e]) => [e, [] as number[]]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 0, iterations: Math.ceil(c.iterations / ROUNDS), retainSamples: true, warmup: round === 0, warmupIterations: 5 });
    for (const [e, fn] of engines) bench.add(e, fn);
    await bench.run();
    for (const t of bench.tasks) samples.get(t.name)!.push(...((t.result as { latency?: { samples?: number[] } }).latency?.samples ?? []));
  }
  for (const [e, , f] of engines) {
    const xs = samples.get(e)!.sort((p, q) => p - q), med = xs[xs.length >> 1];
    rows.push({ case: c.name, engine: e, medianMs: med, gflops: f / (med * 1e6), samples: xs.length });
  }
  for (const t of [x, w, b, dy]) t.dispose();
  for (const t of [fx, fw, fb, ref]) t.dispose();
  console.error(`${c.name}: done`);
}

const at = (c: string, e: string) => rows.find((r) => r.case === c && r.engine === e)?.medianMs ?? NaN;
const ratios = CASES.map((c) => ({ case: c.name, tfjsOverTandem: at(c.name, 'tfjs-wasm') / at(c.name, 'tandem'), maxRelDiff: checks[c.name] }));
console.table(rows.map((r) => ({ ...r, medianMs: r.medianMs.toFixed(2), gflops: r.gflops.toFixed(2) })));
console.table(ratios.map((r) => ({ case: r.case, 'tfjs / Tandem time': `${r.tfjsOverTandem.toFixed(2)}x`, 'max rel diff': r.maxRelDiff.toExponential(1) })));
writeFileSync(new URL('./results/conv.json', import.meta.url), JSON.stringify({
  bench: 'conv', date: new Date().toISOString(), runtime: `node ${process.version}`, tandem: info.cpu,
  peer: { 'tfjs-wasm': { version: tfjsVersion, config: 'tfjs-core + tfjs-backend-wasm, SIMD binary, 1 thread; tf.fused.conv2d with bias + relu, NHWC' } },
  note: 'Median time of one forward call (bias + relu fused) through each public API, output allocated and disposed per call; engines interleaved in 5 rounds. Ratio > 1: Tandem faster. Measured on a shared, loaded 2-core machine: noisy.',
  rows, ratios,
}, null, 2) + '\n');
process.exit(0);
