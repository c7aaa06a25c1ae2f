/**
 * Helpers for kernel tests at the backend seam when operands are not all f32 (bool, u8, f16,
 * i32) or kernels update buffers in place, and for errors measured in ulps. Runtime-agnostic.
 */
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { backendFor, wasmModule } from '../src/runtime.ts';
import { info, threadedCpu } from './harness.ts';

export const ref = new ReferenceBackend();
const module = await wasmModule();
const threaded = await threadedCpu();
/**
 * The cpu engine every way: f32x4, scalar twins, and a 2-thread pool that splits every call;
 * kernels without WGSL are CPU-only, so these are all they run on.
 */
export const cpuEngines: [string, Backend][] = [
  ['wasm-simd', new WasmBackend(module, { simd: true })],
  ['wasm-scalar', new WasmBackend(module, { simd: false })],
  ...(threaded ? [['wasm-simd-2threads', threaded] as [string, Backend]] : []),
];
export const gpu: Backend | null = info.gpu ? backendFor('gpu', 'test') : null;

export interface Ran { out: Uint8Array; inputs: Uint8Array[] }

/**
 * Upload `inputs`, run `kernel`, read back the output (and the inputs, for in-place kernels).
 * `out` is the output's byte size, or its initial contents for kernels that read it.
 */
export async function run<K extends KernelName>(be: Backend, kernel: K, inputs: ArrayBufferView[], out: number | ArrayBufferView, params: KernelParams[K], runs = 1): Promise<Ran> {
  const bufs = inputs.map((x) => { const b = be.alloc(x.byteLength); be.write(b, x); return b; });
  const outBytes = typeof out === 'number' ? out : out.byteLength;
  const o = be.alloc(outBytes);
  if (typeof out !== 'number') be.write(o, out);
  try {
    for (let r = 0; r < runs; r++) if (outBytes > 0) be.run(kernel, bufs, o, params);
    return {
      out: await be.read(o, outBytes),
      inputs: await Promise.all(bufs.map((b, i) => be.read(b, inputs[i].byteLength))),
    };
  } finally {
    for (const b of [...bufs, o]) be.free(b);
  }
}

export const asF32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
export const asI32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
export const asU16 = (b: Uint8Array) => new Uint16Array(b.buffer, b.byteOffset, b.byteLength >>> 1);

const f = new Float32Array(1), u = new Uint32Array(f.buffer);
const ordered = (x: number) => { f[0] = x; return u[0] & 0x80000000 ? -(u[0] & 0x7fffffff) : u[0]; };

/** Distance in f32 ulps between two f32 values (0 for NaN vs NaN and for -0 vs +0). */
export function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  return Math.abs(ordered(a) - ordered(b));
}

/** The first element more than `max` ulps from the reference, described, or null. */
export function ulpMismatch(got: Float32Array, want: Float32Array, max: number, inputs: ArrayLike<number>[] = []): string | null {
  if (got.length !== want.length) return `length ${got.length}, expected ${want.length}`;
  for (let i = 0; i < want.length; i++) {
    const e = ulps(got[i], want[i]);
    if (e > max) return `index ${i}${inputs.length ? ` (input ${inputs.map((x) => x[i]).join(', ')})` : ''}: got ${got[i]}, expected ${want[i]}: ${e} ulp > ${max}`;
  }
  return null;
}

/** Largest ulp distance between two arrays. */
export function maxUlps(got: Float32Array, want: Float32Array): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, ulps(got[i], want[i]));
  return m;
}

/** Deterministic f32 bit patterns: every `stride`-th pattern from `start`, covering all of f32. */
export function bitPatterns(n: number, stride: number, start = 0): Float32Array {
  const out = new Float32Array(n), bits = new Uint32Array(out.buffer);
  for (let i = 0; i < n; i++) bits[i] = (start + i * stride) >>> 0;
  return out;
}

/** Sizes that hit 0, 1, primes and every tail of 4 and 16 lanes. */
export const SIZES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 31, 32, 33, 47, 64, 257, 1031];
