/**
 * Shared test helpers, runtime-agnostic (Node, Deno, Chromium). Settings come from the
 * environment in Node/Deno and from globalThis.TANDEM_TEST_ENV on the browser page.
 */
import * as T from '../src/index.ts';
import * as assert from 'uvu/assert';

export function env(name: string): string | undefined {
  const page = (globalThis as { TANDEM_TEST_ENV?: Record<string, string> }).TANDEM_TEST_ENV;
  if (page && name in page) return page[name];
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return proc?.env?.[name];
}

/** Runtime name for test titles. */
export const RUNTIME: string = 'Deno' in globalThis ? 'deno' : typeof (globalThis as { window?: unknown }).window !== 'undefined' ? 'chromium' : 'node';

/** Tests require a GPU adapter unless TANDEM_ALLOW_NO_GPU=1: a missing GPU is a failure, never a silent skip. */
export const REQUIRE_GPU = env('TANDEM_ALLOW_NO_GPU') !== '1';

export const info = await T.init();
// Measure the cost model's calibration now: lazily, it starts in the background of whichever
// test first needs a placement decision, and its buffers and gpu work would land in that
// test's byte counts and submit counts.
if (info.gpu) await T.calibrate();

/** Deterministic test data: normals from a seed, optionally with exact small integers. */
export function randomData(n: number, seed: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x / 4294967296) * 4 - 2;
  }
  return out;
}

/**
 * Compare got against ref elementwise: |got - ref| <= atol + rtol * |bound|, where bound is the
 * magnitude the error scales with (|ref| for elementwise ops; the same op on |inputs| for sums
 * and matmuls). Returns null when close, else a message naming the first bad index.
 */
export function mismatch(got: Float32Array, ref: Float32Array, bound: Float32Array | null, atol: number, rtol: number): string | null {
  if (got.length !== ref.length) return `length ${got.length}, expected ${ref.length}`;
  for (let i = 0; i < ref.length; i++) {
    const b = Math.abs(bound ? bound[i] : ref[i]);
    const same = Object.is(got[i], ref[i]) || (Number.isNaN(got[i]) && Number.isNaN(ref[i]));
    if (!same && !(Math.abs(got[i] - ref[i]) <= atol + rtol * b)) {
      return `index ${i}: got ${got[i]}, expected ${ref[i]} (tolerance ${atol + rtol * b})`;
    }
  }
  return null;
}

export const F32_EPS = 2 ** -23;

/**
 * A cpu backend on 2 threads that splits every kernel, however small (parallelMin 1), so the
 * pooled paths run at sizes 0, 1, primes and every tail. Null where threads are impossible.
 */
export async function threadedCpu(simd = true) {
  const { makeCpu } = await import('../src/runtime.ts');
  const { canShare } = await import('../src/backend/pool.ts');
  if (!canShare()) return null;
  return makeCpu(undefined, simd, 2, { parallelMin: 1 });
}

/** fn throws an error of `type` (a TandemError subclass) whose message matches `pattern`. */
export function throwsTyped(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, type);
    assert.instance(e, T.TandemError);
    assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable(`expected ${type.name} matching ${pattern}`);
}

/** t's values equal `ref` within tol (absolute and relative). */
export async function close(t: T.Tensor, ref: Float32Array, tol = 1e-5): Promise<void> {
  const m = mismatch((await t.data()) as Float32Array, ref, null, tol, tol);
  assert.is(m, null, m ?? '');
}

/** Run fn with Tandem re-initialised with `opts`, then restore the placement and calibration. */
export async function withInit<R>(opts: T.InitOptions, fn: () => Promise<R>): Promise<R> {
  const before = T.info();
  await T.init(opts);
  try {
    return await fn();
  } finally {
    await T.init({ placement: before.placement, ...(before.calibration ? { calibration: before.calibration } : {}) });
  }
}
