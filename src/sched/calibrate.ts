/**
 * Calibration: short microbenchmarks at init() that give the cost model its rates, within a
 * time budget (250 ms by default, so init stays under ~300 ms), at the backend seam.
 *   cpu: launch (a 16-element add), bandwidth (an add of 256K f32), matmul GFLOP/s (192^3).
 *   gpu: round trip (write 4 B, read 4 B), upload (1 MB through the ring) and readback (1 MB)
 *        bandwidth, dispatch overhead (32 tiny adds), bandwidth (an add of 64K f32), matmul
 *        GFLOP/s (64^3, then 256^3 if that was quick).
 * Best-of-N timings (the least disturbed run). GPU probes need their pipelines: they are
 * compiled with precompile(), so user work is never held behind them, and a probe whose
 * pipeline is not ready by the deadline yields a bound instead of a measurement (its name is
 * listed in `bounded`): a device that takes longer than the budget to compile one add is slow
 * enough that the bound decides the same way. SwiftShader compiles a matmul in ~0.3 s, so its
 * matmul figure is usually such a bound.
 *
 * Stores: `init({ calibrationStore })` takes any { get(key), set(key, value) } (sync or
 * async; a JSON file, localStorage); the key names the adapter, thread count and Wasm build,
 * so a later process on the same machine skips measuring.
 */
import type { WasmBackend } from '../backend/wasm.js';
import type { WebGPUBackend } from '../backend/webgpu.js';
import { PROGRAMS } from '../backend/wgsl-programs.js';
import type { Calibration, EngineRates, LinkRates } from './cost.js';

export interface CalibrationStore {
  get(key: string): unknown | Promise<unknown>;
  set(key: string, value: unknown): void | Promise<void>;
}

const now = (): number => performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export function calibrationKey(adapter: string | null, threads: number, relaxed: boolean): string {
  return `tandem-calibration-v1|${adapter ?? 'no-gpu'}|threads=${threads}|${relaxed ? 'relaxed-simd' : 'simd'}`;
}

/** A stored calibration for `key`, or null (missing, malformed, or the store failed). */
export async function loadCalibration(store: CalibrationStore, key: string): Promise<Calibration | null> {
  try {
    let v = await store.get(key);
    if (typeof v === 'string') v = JSON.parse(v);
    return isCalibration(v) && v.key === key ? { ...v, measuredMs: 0 } : null;
  } catch {
    return null;
  }
}

export async function saveCalibration(store: CalibrationStore, c: Calibration): Promise<void> {
  try {
    await store.set(c.key, c);
  } catch { /* a store that cannot write costs the next process a calibration, nothing more */ }
}

export function isCalibration(v: unknown): v is Calibration {
  const c = v as Calibration;
  const rates = (r: EngineRates) => r && [r.launchUs, r.gbps, r.gflops].every((x) => typeof x === 'number' && x > 0 && Number.isFinite(x));
  const link = (l: LinkRates) => l && l.latencyUs >= 0 && l.gbps > 0;
  return !!c && typeof c.key === 'string' && rates(c.cpu) && (c.gpu === null || (rates(c.gpu) && link(c.gpu.upload) && link(c.gpu.download))) && Array.isArray(c.bounded);
}

/** Best time in ms of `reps` calls of fn (each awaited). */
async function best(reps: number, fn: () => void | Promise<void>): Promise<number> {
  let b = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = now();
    await fn();
    b = Math.min(b, now() - t0);
  }
  return b;
}

export async function calibrate(cpu: WasmBackend, gpu: WebGPUBackend | null, key: string, budgetMs = 250): Promise<Calibration> {
  const start = now();
  const bounded: string[] = [];
  // Start the gpu compiles first: they run while the cpu is measured.
  const lim = gpu?.limits;
  const addProg = (n: number) => PROGRAMS.binary({ op: 'add', shape: [n], aStrides: [1], bStrides: [1] }, lim!);
  const mmProg = (n: number) => PROGRAMS.matmul({ m: n, k: n, n }, lim!);
  const addReady = gpu ? gpu.precompile([addProg(16)]).then(() => true, () => false) : null;
  const mmReady = gpu ? gpu.precompile([mmProg(64)]).then(() => true, () => false) : null;

  const cpuRates = await measureEngine(cpu, async () => {}, 16, 1 << 18, 192);
  if (!gpu) return { key, cpu: cpuRates, gpu: null, measuredMs: now() - start, bounded };

  const deadline = start + budgetMs;
  const kb = 1 << 20;
  const small = gpu.alloc(4), big = gpu.alloc(kb), host = new Uint8Array(kb);
  const sync = async () => { await gpu.read(small, 4); };
  try {
    gpu.write(small, new Float32Array(1));
    await sync(); // first use makes the upload ring
    const rt = await best(5, async () => { gpu.write(small, new Float32Array(1)); await sync(); });
    const writeHost = await best(10, () => gpu.write(small, new Float32Array(1)));
    await sync();
    const up = await best(3, async () => { gpu.write(big, host); await sync(); });
    const down = await best(3, async () => { await gpu.read(big, kb); });
    const upload = { latencyUs: writeHost * 1e3, gbps: kb / Math.max(1e-3, up - rt) / 1e6 };
    const download = { latencyUs: rt * 1e3, gbps: kb / Math.max(1e-3, down - rt) / 1e6 };

    let rates: EngineRates;
    if (await Promise.race([addReady!, sleep(deadline - now()).then(() => false)])) {
      rates = await measureEngine(gpu, sync, 16, 1 << 16, 0, rt);
      if (await Promise.race([mmReady!, sleep(deadline - now()).then(() => false)])) {
        rates.gflops = await gpuMatmul(gpu, sync, rt, mmProg);
      } else {
        bounded.push('gpu.gflops');
        rates.gflops = (2 * 64 ** 3) / Math.max(1, now() - start) / 1e6; // it had not run one 64^3 in the whole budget
      }
    } else {
      bounded.push('gpu.launchUs', 'gpu.gbps', 'gpu.gflops');
      const waited = Math.max(1, now() - start);
      rates = { launchUs: waited * 1e3, gbps: (3 * 4 * 16) / waited / 1e6, gflops: (2 * 64 ** 3) / waited / 1e6 };
    }
    return { key, cpu: cpuRates, gpu: { ...rates, upload, download }, measuredMs: now() - start, bounded };
  } finally {
    gpu.free(small);
    gpu.free(big);
  }
}

/**
 * launch, bandwidth (and matmul rate when mmN > 0) of one engine at the seam; `sync` waits for
 * the engine's queue, `rt` is its cost (ms) and is taken off each timed batch.
 */
async function measureEngine(be: WasmBackend | WebGPUBackend, sync: () => Promise<void>, tiny: number, n: number, mmN: number, rt = 0): Promise<EngineRates> {
  const bufs = [be.alloc(n * 4), be.alloc(n * 4), be.alloc(n * 4)] as never[];
  const add = (size: number) => be.run('binary', [bufs[0], bufs[1]], bufs[2], { op: 'add', shape: [size], aStrides: [1], bStrides: [1] });
  const mm = mmN > 0 ? [be.alloc(mmN * mmN * 4), be.alloc(mmN * mmN * 4), be.alloc(mmN * mmN * 4)] as never[] : [];
  try {
    for (const b of bufs) be.write(b, new Float32Array(n).fill(1));
    const batch = be.kind === 'gpu' ? 32 : 200;
    add(tiny);
    await sync();
    const launch = await best(be.kind === 'gpu' ? 2 : 3, async () => { for (let i = 0; i < batch; i++) add(tiny); await sync(); });
    const launchUs = Math.max(0.05, (launch - rt) * 1e3 / batch);
    const reps = be.kind === 'gpu' ? 1 : 8;
    add(n);
    await sync();
    const stream = await best(be.kind === 'gpu' ? 2 : 3, async () => { for (let i = 0; i < reps; i++) add(n); await sync(); });
    const gbps = (reps * 3 * 4 * n) / Math.max(1e-3, stream - rt - (reps * launchUs) / 1e3) / 1e6;
    let gflops = 1;
    if (mmN > 0) {
      const run = () => be.run('matmul', [mm[0], mm[1]], mm[2], { m: mmN, k: mmN, n: mmN });
      for (let i = 0; i < 3; i++) run(); // V8 tiers a Wasm function up after repeated calls
      gflops = (2 * mmN ** 3) / (await best(5, run)) / 1e6;
    }
    return { launchUs, gbps, gflops };
  } finally {
    for (const b of [...bufs, ...mm]) be.free(b);
  }
}

/** GFLOP/s of the gpu matmul its API would run: 64^3, then 256^3 when 64^3 took under 5 ms. */
async function gpuMatmul(gpu: WebGPUBackend, sync: () => Promise<void>, rt: number, prog: (n: number) => unknown): Promise<number> {
  let rate = 0;
  for (const n of [64, 256]) {
    if (n > 64) {
      await gpu.precompile([prog(n) as never]).catch(() => {});
    }
    const bufs = [gpu.alloc(n * n * 4), gpu.alloc(n * n * 4), gpu.alloc(n * n * 4)];
    try {
      const t = await best(2, async () => { gpu.run('matmul', [bufs[0], bufs[1]], bufs[2], { m: n, k: n, n }); await sync(); });
      rate = (2 * n ** 3) / Math.max(1e-3, t - rt) / 1e6;
      if (t > 5) break;
    } finally {
      for (const b of bufs) gpu.free(b);
    }
  }
  return rate;
}
