/**
 * Process-wide state: which backends exist. `init()` builds the Wasm backend (from the bytes
 * bundled in src/gen/wasm.ts, or a precompiled module for runtimes that forbid compiling
 * Wasm from bytes) and, unless told not to, looks for a WebGPU device. Calling it again is
 * cheap and only adds what the new options ask for and is missing.
 */
import { type Acquired, type GPUInfo, acquireGPU } from './backend/acquire.js';
import type { Backend, DeviceKind } from './backend/backend.js';
import { ReferenceBackend } from './backend/reference.js';
import { WasmBackend } from './backend/wasm.js';
import { WebGPUBackend } from './backend/webgpu.js';
import { DeviceError, NotInitializedError, TandemError } from './errors.js';
import { WASM_BASE64 } from './gen/wasm.js';
import { WorkerPool, canShare, destroyPools } from './backend/pool.js';
import { destroyDataWorkers } from './data/workers.js';
import { type CalibrationStore, calibrate, calibrationKey, loadCalibration, saveCalibration } from './sched/calibrate.js';
import { type Calibration, defaultCalibration } from './sched/cost.js';
import { PLACEMENTS, type Placement, configure } from './sched/place.js';

export interface InitOptions {
  /** 'auto' (default): use WebGPU when an adapter exists. true: require it. false: never. */
  gpu?: 'auto' | boolean;
  /** A precompiled Tandem Wasm module (edge runtimes that forbid compiling from bytes). */
  wasm?: WebAssembly.Module;
  /** Use the f32x4 kernels (default) or their scalar twins. */
  simd?: boolean;
  /**
   * Threads for the cpu engine: a number, or 'auto' (one per core). Default 1. Needs
   * SharedArrayBuffer (in pages: cross-origin isolation); without it Tandem runs on one thread
   * and `info.cpu.threads` says so. With `wasm`, pass a threads build (tandem.*-threads.wasm).
   * In Deno, call `T.shutdown()` when done: its workers cannot be detached from the process.
   */
  threads?: number | 'auto';
  /** Use the relaxed-SIMD build where the runtime validates it (default true); false forces
   *  the plain SIMD build. Ignored when `wasm` is given (that module is what runs). */
  relaxedSimd?: boolean;
  /**
   * Most bytes the cpu engine's Wasm memory may grow to; past it an allocation throws
   * OutOfMemoryError (with the request and memoryStats) instead of growing. Default: no cap
   * but wasm32's 4 GiB. Changing it re-creates the cpu engine, as `threads` does.
   */
  cpuMemoryLimit?: number;
  /**
   * Most bytes of GPU buffers reserved at once; past it the pool empties its cache and retries,
   * then throws OutOfMemoryError. Default: no cap but what the device refuses. Can be changed
   * by a later init() without re-creating the device.
   */
  gpuMemoryLimit?: number;
  /**
   * Where ops run (src/sched/place.ts): 'auto' (default) by the cost model, calibrated here when
   * a gpu exists; 'cpu' or 'gpu' for every op; 'manual' for the inputs' device (mixing devices
   * is a DeviceError). In every mode but 'manual', pinned tensors and T.onDevice force placement.
   */
  placement?: Placement;
  /** Rates for the cost model instead of measuring them (e.g. loaded elsewhere, or a test's). */
  calibration?: Calibration;
  /**
   * Where calibrations are kept across processes: { get(key), set(key, value) }, sync or async.
   * A stored one is used at once; a measured one is saved when it lands.
   */
  calibrationStore?: CalibrationStore;
  /** Measure again now, before init() resolves, even when a calibration is known. */
  recalibrate?: boolean;
}

export interface InitInfo {
  /** relaxedSimd: the running module is the relaxed-SIMD build (f32x4.relaxed_madd). */
  cpu: { simd: boolean; relaxedSimd: boolean; threads: number };
  gpu: GPUInfo | null;
  placement: Placement;
  /**
   * The cost model's rates, or null until they are measured: without a stored or given one,
   * init() does not measure (it would cost a cold start ~250 ms); the first decision that needs
   * the model starts the measurement in the background and uses defaults until it lands
   * (src/sched/cost.ts). `await T.calibrate()` measures, or waits for the measurement.
   */
  calibration: Calibration | null;
}

interface State {
  cpu: WasmBackend;
  gpu: WebGPUBackend | null;
  gpuInfo: GPUInfo | null;
  placement: Placement;
  calibration: Calibration | null;
  /** The measurement in flight, and the store its result goes to. */
  measuring?: Promise<Calibration>;
  store?: CalibrationStore;
}

let state: State | null = null;
let pending: Promise<InitInfo> | null = null;
const reference = new ReferenceBackend();

export function init(opts: InitOptions = {}): Promise<InitInfo> {
  // Serialise overlapping calls so two callers never build two backends.
  const run = (pending ?? Promise.resolve()).catch(() => {}).then(() => initOnce(opts));
  pending = run;
  return run;
}

async function initOnce(opts: InitOptions): Promise<InitInfo> {
  const gpuWanted = opts.gpu ?? 'auto';
  if (gpuWanted !== 'auto' && typeof gpuWanted !== 'boolean') {
    throw new TandemError(`init: gpu must be 'auto', true or false, got ${JSON.stringify(gpuWanted)}`);
  }
  const simd = opts.simd ?? true;
  const threads = wantedThreads(opts.threads);
  const flavor: WasmFlavor | undefined = opts.relaxedSimd === false ? 'simd' : undefined;
  if (!state || state.cpu.simd !== simd || opts.wasm ||
    (opts.threads !== undefined && state.cpu.threads !== threads) || (flavor === 'simd' && state.cpu.relaxedSimd) ||
    (opts.cpuMemoryLimit !== undefined && state.cpu.memoryLimit !== opts.cpuMemoryLimit)) {
    const memoryLimit = opts.cpuMemoryLimit ?? state?.cpu.memoryLimit;
    if (memoryLimit !== undefined && !(memoryLimit > 0)) throw new TandemError(`init: cpuMemoryLimit must be a positive number of bytes, got ${JSON.stringify(memoryLimit)}`);
    state?.cpu.destroy();
    state = {
      cpu: await makeCpu(opts.wasm, simd, threads, { flavor, memoryLimit }), gpu: state?.gpu ?? null, gpuInfo: state?.gpuInfo ?? null,
      placement: state?.placement ?? 'auto', calibration: state?.calibration ?? null, store: state?.store,
    };
  }
  if (state.gpu?.lost) { state.gpu = null; state.gpuInfo = null; }
  if (opts.gpuMemoryLimit !== undefined) {
    if (!(opts.gpuMemoryLimit > 0)) throw new TandemError(`init: gpuMemoryLimit must be a positive number of bytes, got ${JSON.stringify(opts.gpuMemoryLimit)}`);
    if (state.gpu) state.gpu.pool.limit = opts.gpuMemoryLimit;
  }
  if (gpuWanted !== false && !state.gpu) {
    const got: Acquired | null = await acquireGPU().catch(() => null);
    if (got) {
      state.gpu = new WebGPUBackend(got.device, got.keepAlive, { limit: opts.gpuMemoryLimit });
      state.gpuInfo = got.info;
    } else if (gpuWanted === true) {
      throw new DeviceError('init: gpu: true was asked for, but no WebGPU adapter was found');
    }
  }
  await setPlacement(state, opts);
  return info();
}

/**
 * The placement mode and, for 'auto' with a gpu, the cost model's calibration: given, known in
 * this process, stored, or measured later (lazily; now with `recalibrate`).
 */
async function setPlacement(s: State, opts: InitOptions): Promise<void> {
  const p = opts.placement ?? s.placement;
  if (!PLACEMENTS.includes(p)) throw new TandemError(`init: placement must be one of ${PLACEMENTS.map((x) => `'${x}'`).join(', ')}, got ${JSON.stringify(p)}`);
  if (p === 'gpu' && !s.gpu) throw new DeviceError(`init: placement 'gpu' needs a gpu, and init() found no WebGPU adapter`);
  s.placement = p;
  if (opts.calibrationStore) s.store = opts.calibrationStore;
  const key = keyOf(s);
  if (opts.calibration) s.calibration = opts.calibration;
  else if (opts.recalibrate && s.gpu) {
    s.calibration = null;
    s.measuring = undefined;
    await measure(s);
  } else if (p === 'auto' && s.gpu && s.calibration?.key !== key) {
    s.calibration = (s.store && await loadCalibration(s.store, key)) || null;
  }
  configurePlacement(s);
}

function keyOf(s: State): string {
  return calibrationKey(s.gpuInfo?.adapter ?? null, s.cpu.threads, s.cpu.relaxedSimd);
}

function configurePlacement(s: State): void {
  configure(s.placement, s.calibration, s.gpu, () => {
    void measure(s).catch(() => {}); // a failed measurement leaves the defaults in use
    return defaultCalibration(keyOf(s), s.gpuInfo?.fallback ?? false);
  });
}

/** Measure this machine's rates once (joining a measurement in flight); saved to the store. */
function measure(s: State): Promise<Calibration> {
  if (s.calibration) return Promise.resolve(s.calibration);
  if (!s.measuring) {
    const key = keyOf(s);
    s.measuring = calibrate(s.cpu, s.gpu, key).then(async (c) => {
      if (state === s && s.calibration === null && keyOf(s) === key) {
        s.calibration = c;
        configurePlacement(s);
        if (s.store) await saveCalibration(s.store, c);
      }
      return s.calibration ?? c;
    }).finally(() => { s.measuring = undefined; });
  }
  return s.measuring;
}

/**
 * The cost model's calibration: the known one, or measured now (joining a measurement in
 * flight). With no gpu, the cpu's rates and `gpu: null`.
 */
export function calibrateNow(): Promise<Calibration> {
  if (!state) throw new NotInitializedError('calibrate: Tandem is not initialised: call `await T.init()` first');
  return measure(state);
}

function wantedThreads(t: InitOptions['threads']): number {
  if (t === undefined) return 1;
  if (t === 'auto') return hardwareThreads();
  if (!Number.isInteger(t) || t < 1) throw new TandemError(`init: threads must be a positive integer or 'auto', got ${JSON.stringify(t)}`);
  return t;
}

/** Cores: navigator.hardwareConcurrency (browsers, Deno), os.availableParallelism() in Node 20. */
function hardwareThreads(): number {
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  const proc = (globalThis as { process?: { getBuiltinModule?(id: string): unknown } }).process;
  const os = proc?.getBuiltinModule?.('node:os') as { availableParallelism?(): number } | undefined;
  return Math.max(1, Math.min(16, nav?.hardwareConcurrency ?? os?.availableParallelism?.() ?? 1));
}

/**
 * The cpu backend: a pool on shared memory (threads build) when threads > 1 and this runtime
 * can share, otherwise one thread. `flavor` picks the relaxed or plain SIMD build (default:
 * relaxed where it validates); `parallelMin` is for tests that split even tiny kernels.
 */
export async function makeCpu(given: WebAssembly.Module | undefined, simd: boolean, threads: number, opts: { flavor?: WasmFlavor; parallelMin?: number; memoryLimit?: number } = {}): Promise<WasmBackend> {
  // One thread still gets the shared-memory build where it can (unless the caller brought its
  // own module): the data loader's workers write batches straight into the engine's memory.
  if (canShare() && (threads > 1 || given === undefined)) {
    const module = await wasmModule(given, opts.flavor, true);
    const memory = sharedMemory();
    const names = WebAssembly.Module.exports(module).filter((e) => e.kind === 'function').map((e) => e.name);
    const pool = threads > 1 && memory ? await WorkerPool.create(module, memory, names, threads) : null;
    if (memory && (pool || threads === 1)) return new WasmBackend(module, { simd, memory, pool, parallelMin: opts.parallelMin, memoryLimit: opts.memoryLimit });
  }
  return new WasmBackend(await wasmModule(given, opts.flavor), { simd, memoryLimit: opts.memoryLimit });
}

/** A shared memory as large as the platform lets us reserve (4 GiB, else 1 GiB). */
function sharedMemory(): WebAssembly.Memory | null {
  for (const maximum of [65536, 16384]) {
    try {
      return new WebAssembly.Memory({ initial: 16, maximum, shared: true });
    } catch {
      // try a smaller reservation
    }
  }
  return null;
}

/** The two builds of the kernels: 'relaxed-simd' (--enable relaxed-simd) and plain 'simd'. */
export type WasmFlavor = 'relaxed-simd' | 'simd';

/** True when this runtime validates the relaxed-SIMD build (Deno, Chromium; Node 20 only with
 *  --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(base64Bytes(WASM_BASE64.relaxed));
}

/**
 * The module init() uses: `given` if any, else the build named by `flavor`, else the relaxed
 * build where it validates and the plain SIMD build otherwise; `threads` picks the variant that
 * imports a shared memory.
 */
export async function wasmModule(given?: WebAssembly.Module, flavor?: WasmFlavor, threads = false): Promise<WebAssembly.Module> {
  if (given !== undefined) {
    if (!(given instanceof WebAssembly.Module)) throw new TandemError('init: options.wasm must be a WebAssembly.Module');
    return given;
  }
  const suffix = threads ? '-threads' : '';
  if (flavor !== 'simd') {
    const relaxed = base64Bytes(WASM_BASE64[`relaxed${suffix}`]);
    if (WebAssembly.validate(relaxed)) return WebAssembly.compile(relaxed);
    if (flavor === 'relaxed-simd') throw new TandemError('init: this runtime does not validate the relaxed-SIMD build');
  }
  const bytes = base64Bytes(WASM_BASE64[`simd${suffix}`]);
  if (!WebAssembly.validate(bytes)) throw new TandemError('init: this runtime lacks WebAssembly SIMD, which Tandem needs');
  return WebAssembly.compile(bytes);
}

function base64Bytes(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

export function info(): InitInfo {
  if (!state) throw new NotInitializedError('Tandem is not initialised: call `await T.init()` first');
  return {
    cpu: { simd: state.cpu.simd, relaxedSimd: state.cpu.relaxedSimd, threads: state.cpu.threads }, gpu: state.gpuInfo,
    placement: state.placement, calibration: state.calibration,
  };
}

/** The backend for a device, or a typed error saying why there is none. */
export function backendFor(device: DeviceKind, op: string): Backend {
  if (device === 'ref') return reference;
  if (!state) throw new NotInitializedError(`${op}: Tandem is not initialised: call \`await T.init()\` first`);
  if (device === 'cpu') return state.cpu;
  if (device === 'gpu') {
    if (!state.gpu) throw new DeviceError(`${op}: no gpu device: init() found no WebGPU adapter (or was called with gpu: false)`);
    return state.gpu;
  }
  throw new DeviceError(`${op}: unknown device ${JSON.stringify(device)}; use 'cpu', 'gpu' or 'ref'`);
}

/** @internal The live backends (memoryStats, emptyCache). */
export function backends(op: string): { cpu: WasmBackend; gpu: WebGPUBackend | null } {
  if (!state) throw new NotInitializedError(`${op}: Tandem is not initialised: call \`await T.init()\` first`);
  return { cpu: state.cpu, gpu: state.gpu };
}

/**
 * @internal For tests: put `gpu` in place of the runtime's gpu backend (null: none) and return
 * the one it replaces; placement is re-configured for it (keeping the calibration).
 */
export function swapGPUForTest(gpu: WebGPUBackend | null): WebGPUBackend | null {
  if (!state) throw new NotInitializedError('swapGPUForTest: not initialised');
  const old = state.gpu;
  state.gpu = gpu;
  configurePlacement(state);
  return old;
}

/**
 * Destroy the GPU device, stop every worker thread, and drop every backend; tensors made
 * before become unusable. Deno keeps running while a worker lives: call this at the end of a
 * Deno program that used `threads`.
 */
export function shutdown(): void {
  state?.gpu?.destroy();
  destroyPools();
  destroyDataWorkers();
  state = null;
  configure('manual', null, null);
  pending = null;
}
