/**
 * The GradScaler's fused unscale + inf/NaN check at the seam: the Wasm f32x4 kernel, its scalar
 * twin, the 2-thread split and the WGSL kernel against the reference backend, at sizes 0, 1,
 * primes and every tail, with one inf, -inf or NaN placed at every position of each tail (and
 * at the front and middle): the finite grads must be scaled bit-for-bit as the reference
 * (one f32 multiply), the flag set exactly when a non-finite value was present, and a flag
 * already set must stay set (the kernel never clears it).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../src/backend/backend.ts';
import { RUNTIME, randomData } from './harness.ts';
import { SIZES, asF32, asI32, cpuEngines, gpu, ref, run } from './seam.ts';

const engines: [string, Backend][] = [...cpuEngines, ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];
const BAD = [Infinity, -Infinity, NaN];

/** Positions to poison in a buffer of n: the front, the middle and the last 17 (every tail of 4 and 16 lanes). */
function positions(n: number): number[] {
  const set = new Set<number>([0, n >> 1]);
  for (let p = Math.max(0, n - 17); p < n; p++) set.add(p);
  return [...set].filter((p) => p < n);
}

async function check(be: Backend, g: Float32Array, invScale: number, flag0: number, what: string): Promise<void> {
  const n = g.length, params = { size: n, invScale };
  const got = await run(be, 'unscale', [Int32Array.of(flag0)], g, params);
  const want = await run(ref, 'unscale', [Int32Array.of(flag0)], g, params);
  const gg = asF32(got.out), wg = asF32(want.out);
  for (let i = 0; i < n; i++) {
    // Non-finite inputs only need to stay non-finite (the step is skipped anyway); finite ones are exact.
    if (!Number.isFinite(g[i])) assert.ok(!Number.isFinite(gg[i]), `${what}: grads[${i}] = ${gg[i]} from ${g[i]}`);
    else if (!Object.is(gg[i], wg[i])) assert.unreachable(`${what}: grads[${i}] = ${gg[i]}, expected ${wg[i]}`);
  }
  assert.is(asI32(got.inputs[0])[0], asI32(want.inputs[0])[0], `${what}: found flag`);
}

for (const [name, be] of engines) {
  test(`${RUNTIME}: ${name}: unscale multiplies by 1/scale and flags inf/NaN at every tail position`, async () => {
    for (const n of SIZES) {
      const g = randomData(n, n + 7).map((x) => x * 65536);
      await check(be, g, 1 / 65536, 0, `n=${n} clean`);
      await check(be, g, 1 / 3, 1, `n=${n} clean, flag already set`);
      positions(n).forEach((p, k) => { g[p] = BAD[k % 3]; });
      await check(be, g, 0.25, 0, `n=${n} several non-finite`);
      for (const [k, p] of positions(n).entries()) {
        const h = randomData(n, n + 7).map((x) => x * 65536);
        h[p] = BAD[(k + n) % 3];
        await check(be, h, 2 ** -16, 0, `n=${n} ${h[p]} at ${p}`);
      }
    }
  });
}

test(`${RUNTIME}: reference unscale: the flag is raised by inf, -inf and NaN only, and never cleared`, async () => {
  const cases: [number[], number, number][] = [[[1, 2, 3], 0, 0], [[1, Infinity], 0, 1], [[-Infinity], 0, 1], [[NaN, 1], 0, 1], [[3.4e38, -3.4e38], 0, 0], [[1], 1, 1]];
  for (const [g, flag0, flag] of cases) {
    const r = await run(ref, 'unscale', [Int32Array.of(flag0)], Float32Array.from(g), { size: g.length, invScale: 0.5 });
    assert.is(asI32(r.inputs[0])[0], flag, `[${g}] flag ${flag0}`);
    assert.equal(Array.from(asF32(r.out)).filter(Number.isFinite), g.filter(Number.isFinite).map((x) => Math.fround(x * 0.5)));
  }
});

test.run();
