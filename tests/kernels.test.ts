/**
 * Every kernel on every backend against the reference backend, at the backend seam: the Wasm
 * f32x4 kernels, their scalar twins, and the WGSL kernels. Sizes include 0, 1, primes and
 * every SIMD tail (n mod 4, n mod 16 for sums, m mod 4 and n mod 8 for the matmul block, and
 * partial 16x16 tiles on the GPU).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { backendFor, wasmModule } from '../src/runtime.ts';
import { collapseBroadcast, broadcastShapes } from '../src/ops/broadcast.ts';
import type { BinaryOp, UnaryOp } from '../src/ops/elementwise-spec.ts';
import { F32_EPS, REQUIRE_GPU, RUNTIME, info, mismatch, randomData, threadedCpu } from './harness.ts';

const ref = new ReferenceBackend();
const module = await wasmModule();
const threaded = await threadedCpu();
const engines: [string, Backend | null][] = [
  ['wasm-simd', new WasmBackend(module, { simd: true })],
  ['wasm-scalar', new WasmBackend(module, { simd: false })],
  ['wasm-simd-2threads', threaded],
  ['webgpu', info.gpu ? backendFor('gpu', 'test') : null],
];

/** Run one kernel on `be` and on the reference; inputs are given as host arrays. */
async function runBoth<K extends KernelName>(be: Backend, kernel: K, inputs: Float32Array[], outSize: number, params: KernelParams[K]) {
  const go = async (b: Backend) => {
    const bufs = inputs.map((x) => { const buf = b.alloc(x.length * 4); b.write(buf, x); return buf; });
    const out = b.alloc(outSize * 4);
    if (outSize > 0) b.run(kernel, bufs, out, params);
    const bytes = await b.read(out, outSize * 4);
    for (const buf of [...bufs, out]) b.free(buf);
    return new Float32Array(bytes.buffer, bytes.byteOffset, outSize);
  };
  return { got: await go(be), want: await go(ref) };
}

const sizes = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 16, 17, 31, 64, 257, 1031];
const shapePairs: [number[], number[]][] = [
  [[5, 7], [5, 7]], [[5, 7], []], [[], [5, 7]], [[5, 7], [7]], [[7], [5, 7]], [[5, 1], [5, 7]],
  [[5, 1], [1, 7]], [[3, 1, 6], [4, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[0, 3], [3]], [[3, 0], [1]], [[1], [1]],
  [[2, 1, 3, 1, 2, 1, 2, 3], [3, 1, 2, 4, 1, 3]],
];

for (const [name, be] of engines) {
  const gpu = name === 'webgpu';
  if (!be) {
    test(`${RUNTIME}: ${name}: the engine exists`, () => {
      if (name === 'webgpu' && REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
      if (name.includes('threads')) assert.unreachable('no SharedArrayBuffer here, so no worker pool');
    });
    continue;
  }
  if (name.includes('threads')) {
    test(`${RUNTIME}: ${name}: the pool really has 2 threads`, () => {
      assert.is((be as WasmBackend).threads, 2);
    });
  }

  // The exact foundation ops; tests/elementwise.test.ts covers every spec row with its tolerance.
  for (const op of ['add', 'mul'] as BinaryOp[]) {
    test(`${RUNTIME}: ${name}: binary ${op}, same shape, every tail length`, async () => {
      for (const n of sizes) {
        const p = { op, ...collapseBroadcast([n], [n], [n]) };
        const { got, want } = await runBoth(be, 'binary', [randomData(n, 1), randomData(n, 2)], n, p);
        const bad = mismatch(got, want, null, 0, 0);
        if (bad) assert.unreachable(`n=${n}: ${bad}`);
      }
    });
    test(`${RUNTIME}: ${name}: binary ${op}, broadcasts`, async () => {
      for (const [a, b] of shapePairs) {
        const out = broadcastShapes(a, b, op);
        const n = out.reduce((x, y) => x * y, 1);
        const size = (s: number[]) => s.reduce((x, y) => x * y, 1);
        const p = { op, ...collapseBroadcast(out, a, b) };
        const { got, want } = await runBoth(be, 'binary', [randomData(size(a), 3), randomData(size(b), 4)], n, p);
        const bad = mismatch(got, want, null, 0, 0);
        if (bad) assert.unreachable(`[${a}] ${op} [${b}]: ${bad}`);
      }
    });
  }

  for (const op of ['relu'] as UnaryOp[]) {
    test(`${RUNTIME}: ${name}: unary ${op}, every tail length`, async () => {
      for (const n of sizes) {
        const { got, want } = await runBoth(be, 'unary', [randomData(n, 5)], n, { op, size: n });
        const bad = mismatch(got, want, null, 0, 0);
        if (bad) assert.unreachable(`n=${n}: ${bad}`);
      }
    });
  }
  if (!gpu) {
    // WGSL lets implementations assume no NaN or infinity, so special values are a CPU contract.
    test(`${RUNTIME}: ${name}: relu keeps NaN and passes infinities`, async () => {
      const x = new Float32Array([NaN, -Infinity, Infinity, -0, 0, -1, 1, NaN]);
      const { got } = await runBoth(be, 'unary', [x], x.length, { op: 'relu', size: x.length });
      assert.ok(Number.isNaN(got[0]) && Number.isNaN(got[7]), 'NaN kept');
      assert.equal(Array.from(got.slice(1, 7)), [0, Infinity, -0, 0, 0, 1]);
    });
  }

  for (const op of ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'] as const) {
    const exact = op !== 'sum' && op !== 'mean';
    test(`${RUNTIME}: ${name}: reduce ${op} over [outer, reduce, inner], empty and tail extents`, async () => {
      for (const outer of [1, 3])
        for (const reduce of exact ? [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 33, 257] : [0, 1, 3, 4, 5, 15, 16, 17, 33, 257, 1000])
          for (const inner of [1, 2, 3, 4, 5, 7, 9]) {
            const x = randomData(outer * reduce * inner, reduce * 31 + inner);
            const p = { op, outer, reduce, inner };
            const { got, want } = await runBoth(be, 'reduce', [x], outer * inner, p);
            if (op.startsWith('arg')) {
              const g = new Int32Array(got.buffer, got.byteOffset, got.length), w = new Int32Array(want.buffer, want.byteOffset, want.length);
              assert.equal(Array.from(g), Array.from(w), `${op} outer=${outer} reduce=${reduce} inner=${inner}`);
              continue;
            }
            const { want: bound } = exact ? { want: null } : await runBoth(be, 'reduce', [x.map(Math.abs)], outer * inner, { ...p, op: 'sum' });
            if (bound && op === 'mean') bound.forEach((v, i) => { bound[i] = v / reduce; });
            const bad = mismatch(got, want, bound, exact ? 0 : 1e-6, exact ? 0 : 2 * reduce * F32_EPS);
            if (bad) assert.unreachable(`outer=${outer} reduce=${reduce} inner=${inner}: ${bad}`);
          }
    });
  }

  test(`${RUNTIME}: ${name}: matmul, every row/column tail, k from 0`, async () => {
    const cases: [number, number, number][] = [];
    for (const m of [0, 1, 2, 3, 4, 5, 7, 8, 9, 17])
      for (const n of [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33])
        for (const k of [1, 17]) cases.push([m, k, n]);
    for (const k of [0, 2, 3, 8, 13, 16, 31, 64]) cases.push([5, k, 9]);
    cases.push([64, 64, 64], [100, 37, 129], [128, 256, 96]);
    for (const [m, k, n] of cases) {
      const a = randomData(m * k, m + 7 * k), b = randomData(k * n, n + 11 * k);
      const p = { m, k, n };
      const { got, want } = await runBoth(be, 'matmul', [a, b], m * n, p);
      const { want: bound } = await runBoth(be, 'matmul', [a.map(Math.abs), b.map(Math.abs)], m * n, p);
      const bad = mismatch(got, want, bound, 1e-6, 2 * k * F32_EPS);
      if (bad) assert.unreachable(`m=${m} k=${k} n=${n}: ${bad}`);
    }
  });
}

test.run();
