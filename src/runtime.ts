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
import { WASM_RELAXED_SIMD_BASE64, WASM_SIMD_BASE64 } from './gen/wasm.js';

export interface InitOptions {
  /** 'auto' (default): use WebGPU when an adapter exists. true: require it. false: never. */
  gpu?: 'auto' | boolean;
  /** A precompiled Tandem Wasm module (edge runtimes that forbid compiling from bytes). */
  wasm?: WebAssembly.Module;
  /** Use the f32x4 kernels (default) or their scalar twins. */
  simd?: boolean;
  /** Use the relaxed-SIMD build where the runtime validates it (default true); false forces
   *  the plain SIMD build. Ignored when `wasm` is given (that module is what runs). */
  relaxedSimd?: boolean;
}

export interface InitInfo {
  /** relaxedSimd: the running module is the relaxed-SIMD build (f32x4.relaxed_madd). */
  cpu: { simd: boolean; relaxedSimd: boolean; threads: number };
  gpu: GPUInfo | null;
}

interface State {
  cpu: WasmBackend;
  gpu: WebGPUBackend | null;
  gpuInfo: GPUInfo | null;
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
  const flavor: WasmFlavor | undefined = opts.relaxedSimd === false ? 'simd' : undefined;
  if (!state || state.cpu.simd !== simd || opts.wasm || (flavor === 'simd' && state.cpu.relaxedSimd)) {
    state = { cpu: new WasmBackend(await wasmModule(opts.wasm, flavor), { simd }), gpu: state?.gpu ?? null, gpuInfo: state?.gpuInfo ?? null };
  }
  if (state.gpu?.lost) { state.gpu = null; state.gpuInfo = null; }
  if (gpuWanted !== false && !state.gpu) {
    const got: Acquired | null = await acquireGPU().catch(() => null);
    if (got) {
      state.gpu = new WebGPUBackend(got.device, got.keepAlive);
      state.gpuInfo = got.info;
    } else if (gpuWanted === true) {
      throw new DeviceError('init: gpu: true was asked for, but no WebGPU adapter was found');
    }
  }
  return info();
}

/** The two builds of the kernels: 'relaxed-simd' (--enable relaxed-simd) and plain 'simd'. */
export type WasmFlavor = 'relaxed-simd' | 'simd';

/** True when this runtime validates the relaxed-SIMD build (Deno, Chromium; Node 20 only with
 *  --experimental-wasm-relaxed-simd). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(base64Bytes(WASM_RELAXED_SIMD_BASE64));
}

/**
 * The module init() uses: `given` if any, else the build named by `flavor`, else the relaxed
 * build where it validates and the plain SIMD build otherwise.
 */
export async function wasmModule(given?: WebAssembly.Module, flavor?: WasmFlavor): Promise<WebAssembly.Module> {
  if (given !== undefined) {
    if (!(given instanceof WebAssembly.Module)) throw new TandemError('init: options.wasm must be a WebAssembly.Module');
    return given;
  }
  if (flavor !== 'simd') {
    const relaxed = base64Bytes(WASM_RELAXED_SIMD_BASE64);
    if (WebAssembly.validate(relaxed)) return WebAssembly.compile(relaxed);
    if (flavor === 'relaxed-simd') throw new TandemError('init: this runtime does not validate the relaxed-SIMD build');
  }
  const bytes = base64Bytes(WASM_SIMD_BASE64);
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
  return { cpu: { simd: state.cpu.simd, relaxedSimd: state.cpu.relaxedSimd, threads: 1 }, gpu: state.gpuInfo };
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

/** Destroy the GPU device and drop every backend; tensors made before become unusable. */
export function shutdown(): void {
  state?.gpu?.destroy();
  state = null;
  pending = null;
}
