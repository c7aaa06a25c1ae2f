/**
 * GradScaler's unscale pass at the backend seam, on 1M f32 grads: the fused `unscale` kernel
 * (multiply by 1/scale in place and raise the found-inf flag: one read and one write per
 * element) against what the ops would do without it (a `binary` mul by the scalar into a new
 * buffer, then a `reduce` sum of x * 0, which is NaN exactly when some x is inf or NaN: two
 * kernels, two extra passes). Wasm f32x4 and scalar twin side by side in one run; ratios
 * only (the machine is shared). Writes bench/results/amp.json.
 *
 *   npm run bench:amp
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import type { Backend } from '../src/backend/backend.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { init, wasmModule } from '../src/runtime.ts';
import { collapseBroadcast } from '../src/ops/broadcast.ts';

await init();
const module = await wasmModule();
const N = 1 << 20;
const engines: [string, Backend][] = [['wasm-simd', new WasmBackend(module, { simd: true })], ['wasm-scalar', new WasmBackend(module, { simd: false })]];
const bench = new Bench({ time: 400, iterations: 10, warmup: true, warmupIterations: 5 });
for (const [engine, be] of engines) {
  const g = be.alloc(4 * N), flag = be.alloc(4), scalar = be.alloc(4), tmp = be.alloc(4 * N), zero = be.alloc(4), prod = be.alloc(4 * N), s = be.alloc(4);
  be.write(g, new Float32Array(N).map((_, i) => ((i * 7919) % 13) - 6));
  be.write(scalar, Float32Array.of(1)); // 1: the grads stay the same run after run
  be.write(zero, Float32Array.of(0));
  bench.add(`fused unscale | ${engine}`, () => { be.run('unscale', [flag], g, { size: N, invScale: 1 }); });
  const mul = { op: 'mul' as const, ...collapseBroadcast([N], [N], []) };
  bench.add(`mul + isfinite sum | ${engine}`, () => {
    be.run('binary', [g, scalar], tmp, mul);
    be.run('binary', [tmp, zero], prod, mul);
    be.run('reduce', [prod], s, { op: 'sum', outer: 1, reduce: N, inner: 1 });
  });
}
await bench.run();
const rows = bench.tasks.map((t) => ({ task: t.name, meanMs: (t.result as { latency?: { mean: number } }).latency?.mean ?? NaN }));
const ms = (name: string) => rows.find((r) => r.task === name)!.meanMs;
const ratios = engines.map(([e]) => ({ engine: e, unfusedOverFused: ms(`mul + isfinite sum | ${e}`) / ms(`fused unscale | ${e}`) }));
console.table(rows);
console.table(ratios);
writeFileSync(new URL('./results/amp.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), elements: N, rows, ratios }, null, 2));
