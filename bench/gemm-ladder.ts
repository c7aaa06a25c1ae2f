/**
 * The ladder of bench/gemm.bench.ts: Tandem's three f32 matmul rungs on the same square cases,
 * called straight through the Wasm exports on one instance (no seam, no allocation):
 *   ladder-0-naive (scalar i-p-j), ladder-1-blocked (the 4x8 register block walking B in
 *   place), ladder-2-packed (f32_gemm: packed panels, cache blocks). And `peak`, the f32x4
 *   multiply-add ceiling of this machine (assembly/peak.ts), best of several runs.
 */
import type { GemmCase, Prepared } from './peers.ts';

type Exports = Record<string, (...a: number[]) => number>;

function instance(module: WebAssembly.Module, pages: number): { x: Exports; memory: WebAssembly.Memory } {
  const memory = new WebAssembly.Memory({ initial: pages });
  return { x: new WebAssembly.Instance(module, { env: { memory } }).exports as Exports, memory };
}

export function peak(module: WebAssembly.Module): number {
  const { x } = instance(module, 1);
  let best = 0;
  for (let r = 0; r < 12; r++) {
    const iters = 2e6, t0 = performance.now();
    x.f32_peak_madd(iters, 1 + r);
    best = Math.max(best, (iters * 12 * 8) / (performance.now() - t0) / 1e6);
  }
  return best;
}

export async function ladder<R>(module: WebAssembly.Module, cases: GemmCase[], measure: (c: GemmCase, e: [string, Prepared][]) => Promise<R[]>): Promise<R[]> {
  const rows: R[] = [];
  for (const c of cases) {
    const { m, k, n } = c;
    const wsBytes = 2 * 1024 * 1024;
    const { x, memory } = instance(module, Math.ceil((4 * (m * k + k * n + m * n) + wsBytes + 4096) / 65536) + 2);
    const base = (x.heapBase() + 15) & ~15;
    const a = base, b = a + 4 * m * k, cc = b + 4 * k * n, desc = cc + 4 * m * n, ws = desc + 256;
    new Float32Array(memory.buffer, a, m * k).fill(0.5);
    new Float32Array(memory.buffer, b, k * n).fill(0.25);
    if (x.f32_gemm_workspace_bytes() > wsBytes) throw new Error('ladder: workspace too small');
    // The descriptor of assembly/gemm_desc.ts: whole ranges, one batch.
    new Int32Array(memory.buffer, desc, 18).set([a, b, cc, 0, m, k, n, 0, 0, 0, m, 0, n, 0, 1, ws, wsBytes, 0]);
    const noop = async () => new Float32Array(0);
    const engines: [string, Prepared][] = [];
    if (n <= 256) engines.push(['ladder-0-naive', { run: () => x.f32_matmul_naive(a, b, cc, m, k, n), result: noop, dispose() {} }]);
    if (n <= 1024) engines.push(['ladder-1-blocked', { run: () => x.f32_matmul_blocked(a, b, cc, m, k, n), result: noop, dispose() {} }]);
    engines.push(['ladder-2-packed', { run: () => x.f32_gemm(desc), result: noop, dispose() {} }]);
    rows.push(...(await measure({ ...c, iterations: Math.min(c.iterations, 20) }, engines)));
  }
  return rows;
}
