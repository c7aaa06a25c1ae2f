/**
 * The CPU GEMM against its peers, side by side in one Node process and run: Tandem (the Wasm
 * GEMM of assembly/gemm.ts, plain SIMD build and, when Node runs with
 * --experimental-wasm-relaxed-simd, the relaxed-SIMD build) vs tfjs-backend-wasm (XNNPACK), onnxruntime-web
 * (wasm EP, MLAS) and jax-js (wasm), all single-threaded; onnxruntime-web with 2 threads runs
 * in a child process afterwards (see bench/peers.ts for why), while this one waits.
 * Cases: square N = 64 ... 2048, and the products of an MLP 784 -> 256 -> 10 at batch 256,
 * forward and backward (the transposed products). Also the ladder of Tandem's own kernels
 * (naive -> register-blocked -> packed) on the square cases, and the machine's f32x4
 * multiply-add peak, measured here, so every row reports GFLOP/s and its fraction of it.
 * Medians of tinybench samples taken in interleaved rounds (see `measure`); ratios are of
 * medians from this one run. Writes
 * bench/results/gemm.json.
 *
 *   npm run bench:gemm            (GEMM_CASES=square or =mlp to run a subset)
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import type { Backend } from '../src/backend/backend.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { planMatmul } from '../src/ops/matmul-plan.ts';
import { makeCpu, relaxedSimdSupported, wasmModule } from '../src/runtime.ts';
import { type GemmCase, type Peer, type Prepared, jaxPeer, ortPeer, storedShapes, tfjsPeers } from './peers.ts';

const childThreads = Number(process.argv.find((a) => a.startsWith('--ort-threads='))?.split('=')[1] ?? 0);
const only = process.env.GEMM_CASES;

const CASES: GemmCase[] = [];
if (only !== 'mlp') {
  for (const [n, iterations] of [[64, 300], [128, 100], [256, 40], [512, 30], [1024, 10], [2048, 5]]) {
    CASES.push({ name: `square ${n}`, m: n, k: n, n, tA: false, tB: false, iterations });
  }
}
if (only !== 'square') {
  // torch layout: W1 [256, 784], W2 [10, 256]; X [256, 784]; h [256, 256]; dy [256, 10].
  CASES.push(
    { name: 'mlp fwd h = X W1^T', m: 256, k: 784, n: 256, tA: false, tB: true, iterations: 20 },
    { name: 'mlp fwd y = h W2^T', m: 256, k: 256, n: 10, tA: false, tB: true, iterations: 100 },
    { name: 'mlp bwd dW2 = dy^T h', m: 10, k: 256, n: 256, tA: true, tB: false, iterations: 100 },
    { name: 'mlp bwd dh = dy W2', m: 256, k: 10, n: 256, tA: false, tB: false, iterations: 100 },
    { name: 'mlp bwd dW1 = dh^T X', m: 256, k: 256, n: 784, tA: true, tB: false, iterations: 20 },
    { name: 'mlp fwd relu(X W1^T + b1), fused', m: 256, k: 784, n: 256, tA: false, tB: true, iterations: 20, fused: true },
  );
}
const flops = (c: GemmCase) => 2 * c.m * c.k * c.n;
const data = (len: number, seed: number) => { let x = seed; return Float32Array.from({ length: len }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5); };

interface Row { case: string; engine: string; medianMs: number; meanMs: number; rmePercent: number; samples: number; gflops: number; fractionOfPeak?: number; maxRelDiffVsTandem?: number }

/**
 * Median latency of each engine on case `c`. The machine is shared, so load comes and goes:
 * the engines are interleaved, ROUNDS rounds of tinybench each running every engine for a
 * share of the iterations, and the median is over all rounds' samples, so a burst of outside
 * load falls on every engine alike instead of on whichever ran during it.
 */
const ROUNDS = 5;
async function measure(c: GemmCase, engines: [string, Prepared][]): Promise<Row[]> {
  const samples = new Map<string, number[]>(engines.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({
      time: 0, iterations: Math.max(1, Math.ceil(c.iterations / ROUNDS)), retainSamples: true,
      warmup: round === 0, warmupIterations: Math.max(2, Math.min(10, c.iterations >> 2)),
    });
    for (const [name, p] of engines) bench.add(name, () => p.run());
    await bench.run();
    for (const t of bench.tasks) {
      const lat = (t.result as { latency?: { samples?: number[] } }).latency;
      if (!lat?.samples) throw new Error(`${c.name} | ${t.name}: no samples (${JSON.stringify(t.result).slice(0, 200)})`);
      samples.get(t.name)!.push(...lat.samples);
    }
  }
  return engines.map(([engine]) => {
    const xs = samples.get(engine)!.sort((x, y) => x - y);
    const median = xs[xs.length >> 1], mean = xs.reduce((x, y) => x + y, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / Math.max(1, xs.length - 1));
    return { case: c.name, engine, medianMs: median, meanMs: mean, rmePercent: (100 * 1.96 * sd) / Math.sqrt(xs.length) / mean, samples: xs.length, gflops: flops(c) / median / 1e6 };
  });
}

function maxRelDiff(got: Float32Array, want: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < want.length; i++) { d = Math.max(d, Math.abs(got[i] - want[i])); s = Math.max(s, Math.abs(want[i])); }
  return got.length === want.length ? d / (s || 1) : Infinity;
}

async function runPeers(peers: Peer[], tandems: [string, Backend][]): Promise<Row[]> {
  const withTandem = tandems.length > 0;
  const rows: Row[] = [];
  for (const c of CASES) {
    const [sa, sb] = storedShapes(c);
    const a = data(sa[0] * sa[1], 1), b = data(sb[0] * sb[1], 2), bias = data(c.n, 3);
    const engines: [string, Prepared][] = [];
    for (const [name, be] of tandems) engines.push([name, tandemPrepared(be, c, a, b, bias)]);
    for (const p of peers) {
      const prepared = await p.prepare(c, a, b, bias);
      if (prepared) engines.push([p.name, prepared]);
    }
    const results = await Promise.all(engines.map(async ([, p]) => p.result()));
    const got = await measure(c, engines);
    got.forEach((r, i) => { if (withTandem && i > 0) r.maxRelDiffVsTandem = maxRelDiff(results[i], results[0]); });
    rows.push(...got);
    for (const [, p] of engines) p.dispose();
    console.error(`${c.name}: ${got.map((r) => `${r.engine} ${r.gflops.toFixed(1)}`).join(', ')} GFLOP/s`);
  }
  return rows;
}

/**
 * Tandem at the backend seam, doing what T.matmul does (plan, allocate the output, run, free)
 * on a given Wasm backend, so the plain and the relaxed-SIMD builds run side by side.
 */
function tandemPrepared(be: Backend, c: GemmCase, a: Float32Array, b: Float32Array, bias: Float32Array): Prepared {
  const [sa, sb] = storedShapes(c);
  const A = be.alloc(a.length * 4), B = be.alloc(b.length * 4), C = be.alloc(bias.length * 4);
  be.write(A, a); be.write(B, b); be.write(C, bias);
  const once = () => {
    const attrs = { transposeA: c.tA, transposeB: c.tB, activation: c.fused ? 'relu' as const : 'none' as const };
    const { params } = planMatmul(sa, sb, attrs, c.fused ? [c.n] : null);
    const out = be.alloc(c.m * c.n * 4);
    be.run('matmul', c.fused ? [A, B, C] : [A, B], out, params);
    return out;
  };
  return {
    run() { be.free(once()); },
    async result() { const out = once(); const d = await be.read(out, c.m * c.n * 4); be.free(out); return new Float32Array(d.buffer, d.byteOffset, c.m * c.n); },
    dispose() { be.free(A); be.free(B); be.free(C); },
  };
}

if (childThreads > 0) {
  // Child: onnxruntime-web with more threads, same cases; rows as JSON on stdout, with the
  // process's CPU time over wall time (above 1 means more than one thread was computing).
  const t0 = performance.now(), cpu0 = process.cpuUsage();
  const rows = await runPeers([await ortPeer(childThreads)], []);
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(`CPU ${((cpu.user + cpu.system) / 1000 / (performance.now() - t0)).toFixed(2)}\nROWS ${JSON.stringify(rows)}\n`);
  process.exit(0);
}

// 'tandem' is the plain SIMD build, what Node 20 runs by default; 'tandem-relaxed' the
// relaxed-SIMD build that Deno and Chromium run by default, here when Node was started with
// --experimental-wasm-relaxed-simd (the npm script does; the peers are unaffected by it).
const relaxed = relaxedSimdSupported();
const plainModule = await wasmModule(undefined, 'simd');
const relaxedModule = relaxed ? await wasmModule(undefined, 'relaxed-simd') : null;
const tandems: [string, Backend][] = [['tandem', new WasmBackend(plainModule)]];
const unavailableTandem: Record<string, string> = {};
if (relaxedModule) tandems.push(['tandem-relaxed', new WasmBackend(relaxedModule)]);
// The same builds on a 2-thread pool (the GEMM splits by rows in 4s / columns in 8s).
for (const [name, flavor] of [['tandem-2t', 'simd'], ['tandem-relaxed-2t', 'relaxed-simd']] as const) {
  if (flavor === 'relaxed-simd' && !relaxedModule) continue;
  const be = await makeCpu(undefined, true, 2, { flavor });
  if (be.threads === 2) tandems.push([name, be]);
  else unavailableTandem[name] = 'no worker pool in this process (SharedArrayBuffer or worker_threads missing)';
}
const { peak, ladder } = await import('./gemm-ladder.ts');
const peakBefore = peak(plainModule), fmaPeakBefore = relaxedModule ? peak(relaxedModule) : NaN;
console.error(`f32x4 mul+add peak: ${peakBefore.toFixed(1)} GFLOP/s; relaxed_madd peak: ${fmaPeakBefore.toFixed(1)}`);

const peers: Peer[] = [];
const unavailable: Record<string, string> = {};
for (const [name, make] of [['jax-js', async () => [await jaxPeer()]], ['tfjs-wasm', tfjsPeers], ['ort-wasm', async () => [await ortPeer(1)]]] as const) {
  try { peers.push(...(await make())); } catch (e) { unavailable[name] = String((e as Error).stack ?? e); console.error(`${name} unavailable: ${e}`); }
}
const rows = await runPeers(peers, tandems);
const ladderRows = only === 'mlp' ? [] : await ladder(plainModule, CASES.filter((c) => c.name.startsWith('square')), measure);
rows.push(...ladderRows);

// onnxruntime-web with 2 threads, in a child process while this one waits.
const child = await new Promise<string>((resolve) => {
  const p = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--ort-threads=2'], { stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
  let out = '';
  p.stdout.on('data', (d) => { out += d; });
  p.on('close', (code) => resolve(code === 0 ? out : `exit ${code}: ${out}`));
});
const childRows = child.match(/^ROWS (.*)$/m);
const ortChildCpuPerWall = Number(child.match(/^CPU (.*)$/m)?.[1] ?? NaN);
if (childRows) rows.push(...(JSON.parse(childRows[1]) as Row[]));
else unavailable['ort-wasm-2t'] = child.slice(0, 2000);

const peakAfter = peak(plainModule), fmaPeakAfter = relaxedModule ? peak(relaxedModule) : NaN;
const peakGflops = Math.max(peakBefore, peakAfter), fmaPeakGflops = Math.max(fmaPeakBefore, fmaPeakAfter);
// Each row against the peak of the instructions it can use: relaxed_madd for the relaxed
// build, a separate mul and add for everything else (no peer ships a relaxed-SIMD binary).
// 2-thread rows are against two cores' worth of that peak.
for (const r of rows) r.fractionOfPeak = r.gflops / ((r.engine.startsWith('tandem-relaxed') ? fmaPeakGflops : peakGflops) * (r.engine.endsWith('-2t') ? 2 : 1));

const engines = ['tfjs-wasm', 'tfjs-wasm-T', 'ort-wasm', 'ort-wasm-2t', 'jax-js'];
const tandemNames = tandems.map(([n]) => n);
const at = (c: string, e: string) => rows.find((r) => r.case === c && r.engine === e)?.medianMs;
const ratios = CASES.flatMap((c) => tandemNames.map((tn) => {
  const t = at(c.name, tn)!;
  return { case: c.name, tandem: tn, tandemGflops: flops(c) / t / 1e6, ...Object.fromEntries(engines.map((e) => [`over_${e}`, (at(c.name, e) ?? NaN) / t])) };
}));

// Thread scaling: each build's 1-thread median over its 2-thread median, same run.
const threadScaling = CASES.flatMap((c) => [['tandem', 'tandem-2t'], ['tandem-relaxed', 'tandem-relaxed-2t']]
  .filter(([, two]) => at(c.name, two) !== undefined)
  .map(([one, two]) => ({ case: c.name, build: one, twoOverOne: at(c.name, one)! / at(c.name, two)! })));
console.table(threadScaling.map((r) => ({ case: r.case, build: r.build, '2 threads / 1 thread': `${r.twoOverOne.toFixed(2)}x` })));
console.table(rows.map((r) => ({ case: r.case, engine: r.engine, ms: r.medianMs.toFixed(3), 'GFLOP/s': r.gflops.toFixed(1), 'of peak': `${(100 * r.fractionOfPeak!).toFixed(0)}%`, 'rme%': r.rmePercent.toFixed(1), 'max rel diff': r.maxRelDiffVsTandem?.toExponential(1) ?? '' })));
console.table(ratios.map((r) => ({ case: r.case, build: r.tandem, 'GFLOP/s': r.tandemGflops.toFixed(1), ...Object.fromEntries(engines.map((e) => [`x ${e}`, Number.isNaN(r[`over_${e}` as keyof typeof r] as number) ? '-' : `${(r[`over_${e}` as keyof typeof r] as number).toFixed(2)}x`])) })));
console.log(`mul+add peak ${peakGflops.toFixed(1)} GFLOP/s (before ${peakBefore.toFixed(1)}, after ${peakAfter.toFixed(1)}); relaxed_madd peak ${fmaPeakGflops.toFixed(1)}; ratios are peer time / Tandem time`);

const result = {
  bench: 'gemm', date: new Date().toISOString(), runtime: `node ${process.version} ${process.execArgv.join(' ')}`, relaxedSimd: relaxed,
  machine: '2 cores shared with other work; numbers are noisy, ratios from one run are what to compare',
  peak: {
    gflops: peakGflops, before: peakBefore, after: peakAfter, how: 'f32x4 mul then add, 12 independent chains (assembly/peak.ts, plain SIMD build), best of 12 runs, before and after the suite',
    relaxedMaddGflops: fmaPeakGflops, relaxedHow: 'the same loop in the relaxed-SIMD build (f32x4.relaxed_madd); the fraction of peak of tandem-relaxed rows is against this one',
  },
  peers: Object.fromEntries(peers.map((p) => [p.name, { version: p.version, config: p.config }])),
  unavailable: { ...unavailable, ...unavailableTandem },
  ortChildCpuPerWall,
  threadScaling,
  caveats: {
    'ort-wasm-2t': ortChildCpuPerWall < 1.3
      ? `numThreads = 2 in Node 20: onnxruntime-web started its worker thread, yet the child process used ${ortChildCpuPerWall} s of CPU per wall second (1.00 = one thread busy): its Gemm did not get two cores in this run (the machine is shared), and the handoff made it slower than 1 thread. Recorded as measured.`
      : `numThreads = 2 in Node 20: the child process used ${ortChildCpuPerWall} s of CPU per wall second, so both threads computed; these rows are 2 threads against Tandem's 1.`,
    'tfjs-wasm': 'tf.matMul with transposeA or transposeB runs outside XNNPACK in tfjs-backend-wasm 4.22 (~1 GFLOP/s here); tfjs-wasm-T rows show the explicit tf.transpose workaround on those cases.',
  },
  note: 'medianMs is the median latency of one product through each library\'s public API (output allocated and freed per call); the Tandem rows run its matmul kernel at the backend seam the way T.matmul does (plan, allocate the output, run, free), so that both Wasm builds can run in one process. Ratios: peer median / Tandem median (> 1: Tandem faster). ort-wasm-2t ran in a child process after the single-threaded rows; ortChildCpuPerWall is that process\'s CPU time over wall time (about 2 when both threads compute the whole time). ladder-* rows call the Wasm exports directly.',
  rows, ratios,
};
writeFileSync(new URL('./results/gemm.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
process.exit(0);
