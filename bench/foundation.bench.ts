/**
 * Foundation benchmark: the kernels of this slice on each engine, measured side by side in one
 * run at the backend seam (inputs resident, output preallocated). Reports ratios against the
 * plain-TypeScript reference and the Wasm scalar twins; writes bench/results/foundation.json.
 * The gpu rows on a software adapter (SwiftShader) are not GPU speed; they are recorded so a
 * run on a hardware GPU can be compared with them, and each includes a 4-byte readback to wait.
 *
 *   npm run bench
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { backendFor, init, shutdown, wasmModule } from '../src/runtime.ts';
import { collapseBroadcast } from '../src/ops/broadcast.ts';

const info = await init();
const module = await wasmModule();
const engines: [string, Backend][] = [
  ['ref-ts', new ReferenceBackend()],
  ['wasm-scalar', new WasmBackend(module, { simd: false })],
  ['wasm-simd', new WasmBackend(module, { simd: true })],
];
if (info.gpu) engines.push(['webgpu', backendFor('gpu', 'bench')]);

interface Case<K extends KernelName> { name: string; kernel: K; params: KernelParams[K]; inputs: number[]; out: number; flops: number }
const cases: Case<KernelName>[] = [];
for (const n of [64, 128, 256]) cases.push({ name: `matmul ${n}^3`, kernel: 'matmul', params: { m: n, k: n, n }, inputs: [n * n, n * n], out: n * n, flops: 2 * n ** 3 });
const N = 1 << 20;
cases.push({ name: 'add 1M', kernel: 'binary', params: { op: 'add', ...collapseBroadcast([N], [N], [N]) }, inputs: [N, N], out: N, flops: N });
cases.push({ name: 'sum 1M', kernel: 'reduce', params: { op: 'sum', outer: 1, reduce: N, inner: 1 }, inputs: [N], out: 1, flops: N });

const bench = new Bench({ time: 400, iterations: 5, warmup: true, warmupIterations: 3 });
const meta: Record<string, { flops: number; engine: string; case: string }> = {};
for (const c of cases) {
  for (const [engine, be] of engines) {
    if (engine === 'ref-ts' && c.kernel === 'matmul' && (c.params as { m: number }).m > 128) continue; // minutes in plain TS
    const inputs = c.inputs.map((n, i) => { const b = be.alloc(n * 4); be.write(b, new Float32Array(n).map((_, j) => ((i + j * 7919) % 13) / 13 - 0.5)); return b; });
    const out = be.alloc(c.out * 4);
    const name = `${c.name} | ${engine}`;
    meta[name] = { flops: c.flops, engine, case: c.name };
    bench.add(name, async () => {
      be.run(c.kernel, inputs, out, c.params as never);
      if (engine === 'webgpu') await be.read(out, 4);
    });
  }
}
await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as { state: string; latency?: { mean: number; rme: number }; };
  const m = meta[t.name];
  const ms = r.latency?.mean ?? NaN;
  return { case: m.case, engine: m.engine, meanMs: ms, rmePercent: r.latency?.rme, gflops: m.flops / ms / 1e6 };
});
const byCase = (c: string, e: string) => rows.find((r) => r.case === c && r.engine === e)?.meanMs;
const ratios = cases.map((c) => ({
  case: c.name,
  simdOverScalar: byCase(c.name, 'wasm-scalar')! / byCase(c.name, 'wasm-simd')!,
  simdOverReferenceTs: (byCase(c.name, 'ref-ts') ?? NaN) / byCase(c.name, 'wasm-simd')!,
}));
console.table(rows.map((r) => ({ ...r, meanMs: r.meanMs.toFixed(3), gflops: r.gflops.toFixed(2), rmePercent: r.rmePercent?.toFixed(1) })));
console.table(ratios.map((r) => ({ case: r.case, 'simd / scalar': r.simdOverScalar.toFixed(2) + 'x', 'simd / reference TS (untuned oracle)': Number.isNaN(r.simdOverReferenceTs) ? '-' : r.simdOverReferenceTs.toFixed(2) + 'x' })));
const result = {
  bench: 'foundation', date: new Date().toISOString(), runtime: `node ${process.version}`,
  cpu: info.cpu, gpu: info.gpu && { adapter: info.gpu.adapter, fallback: info.gpu.fallback },
  note: 'Ratios of mean latency measured side by side in this one run. ref-ts is the untuned reference backend (the test oracle), not a tuned JS baseline. gpu rows on a fallback adapter are software rendering, not GPU speed.',
  rows, ratios,
};
writeFileSync(new URL('./results/foundation.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
shutdown();
