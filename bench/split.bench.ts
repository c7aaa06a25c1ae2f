/**
 * How the 2-thread GEMM splits its rows, on this machine's vCPUs. Two measurements, plain
 * timing (performance.now per call), one process:
 *
 * 1. steadiness: one thread repeats one 256x512x512 product (half of a 512^3 product) for
 *    STEADY_MS with nothing else running; the per-call times show whether a core keeps its
 *    speed. On this 2-vCPU VM it does not: stretches of 100-200 ms run ~1.8x slower.
 * 2. split: 512^3 products on a 1-thread engine and on a 2-thread engine, the latter with an
 *    equal split and with the learned split (src/backend/balance.ts), in interleaved blocks of
 *    BLOCK calls, back to back ('warm') and with the worker idle between blocks ('idle', as
 *    when other kernels or other libraries run between products).
 *
 *   npm run bench:split    (writes bench/results/split.json)
 */
import { writeFileSync } from 'node:fs';
import { SplitBalancer } from '../src/backend/balance.ts';
import type { Backend } from '../src/backend/backend.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { planMatmul } from '../src/ops/matmul-plan.ts';
import { makeCpu, wasmModule } from '../src/runtime.ts';

const STEADY_MS = Number(process.env.STEADY_MS ?? 6000);
const ROUNDS = Number(process.env.ROUNDS ?? 40);
const BLOCK = 6;

const data = (n: number, seed: number) => { let x = seed; return Float32Array.from({ length: n }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5); };
/** One call of T.matmul's work at the backend seam: allocate the output, run, free. */
function product(be: Backend, m: number, k: number, n: number): () => void {
  const a = be.alloc(4 * m * k), b = be.alloc(4 * k * n);
  be.write(a, data(m * k, 1)); be.write(b, data(k * n, 2));
  const { params } = planMatmul([m, k], [k, n], {}, null);
  return () => { const c = be.alloc(4 * m * n); be.run('matmul', [a, b], c, params); be.free(c); };
}
const timed = (f: () => void) => { const t = performance.now(); f(); return performance.now() - t; };
const quantile = (xs: number[], q: number) => [...xs].sort((p, r) => p - r)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const one = new WasmBackend(await wasmModule(undefined, 'simd'));
const two = await makeCpu(undefined, true, 2, { flavor: 'simd' });
if (two.threads !== 2) throw new Error('bench:split needs a 2-thread pool (SharedArrayBuffer and worker_threads)');

// 1. Steadiness of one core.
const half = product(one, 256, 512, 512);
for (let i = 0; i < 30; i++) half();
const steady: number[] = [];
for (const t0 = performance.now(); performance.now() - t0 < STEADY_MS;) steady.push(timed(half));
const fast = quantile(steady, 0.1);
const slowShare = steady.filter((t) => t > 1.4 * fast).length / steady.length;
console.error(`one thread, 256x512x512: p10 ${fast.toFixed(2)} ms, p50 ${quantile(steady, 0.5).toFixed(2)}, p90 ${quantile(steady, 0.9).toFixed(2)}; ${(100 * slowShare).toFixed(0)}% of calls over 1.4x p10`);

// 2. Equal against learned splits. The equal mode replaces the balancer's split and skips its learning.
let equal = false;
const proto = SplitBalancer.prototype as unknown as { starts(c: number, p: number): number[]; observe(l: number[], m: number[]): void };
const learnedStarts = proto.starts, learnedObserve = proto.observe;
proto.starts = function (this: SplitBalancer, c: number, p: number) { return equal ? Array.from({ length: p }, (_, i) => Math.floor((c * i) / p)) : learnedStarts.call(this, c, p); };
proto.observe = function (this: SplitBalancer, l: number[], m: number[]) { if (!equal) learnedObserve.call(this, l, m); };
const p1 = product(one, 512, 512, 512), p2 = product(two, 512, 512, 512);
for (let i = 0; i < 20; i++) { p1(); p2(); }
const modes: Record<string, Record<string, number>> = {};
for (const idle of [false, true]) {
  const got: Record<string, number[]> = { oneThread: [], equal: [], learned: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < BLOCK; i++) got.oneThread.push(timed(p1));
    if (idle) for (let i = 0; i < BLOCK; i++) p1();
    equal = r % 2 === 1;
    for (let i = 0; i < BLOCK; i++) got[equal ? 'equal' : 'learned'].push(timed(p2));
    if (idle) for (let i = 0; i < BLOCK; i++) p1();
  }
  const med = Object.fromEntries(Object.entries(got).map(([k, v]) => [k, quantile(v, 0.5)]));
  const name = idle ? 'idle' : 'warm';
  modes[name] = { ...med, equalSpeedup: med.oneThread / med.equal, learnedSpeedup: med.oneThread / med.learned, samplesPerMode: got.learned.length };
  console.error(`512^3 ${name}: one thread ${med.oneThread.toFixed(2)} ms, 2 threads equal ${med.equal.toFixed(2)} (${modes[name].equalSpeedup.toFixed(2)}x), learned ${med.learned.toFixed(2)} (${modes[name].learnedSpeedup.toFixed(2)}x)`);
}
equal = false;
two.destroy();

writeFileSync(new URL('./results/split.json', import.meta.url), `${JSON.stringify({
  bench: 'split', date: new Date().toISOString(), runtime: `node ${process.version}`, build: 'plain SIMD (threads build for the 2-thread engine)',
  note: 'Medians of per-call wall times; speedups are one-thread median over two-thread median from the same interleaved rounds.',
  steadiness: { case: '256x512x512, one thread, nothing else running', ms: STEADY_MS, calls: steady.length, p10: fast, p50: quantile(steady, 0.5), p90: quantile(steady, 0.9), shareOver1_4xP10: slowShare },
  split: { case: '512x512x512', blockCalls: BLOCK, rounds: ROUNDS, ...modes },
}, null, 1)}\n`);
