/**
 * The matmul kernel on every engine against the reference backend, at the seam: the Wasm GEMM
 * (plain SIMD build, relaxed-SIMD build where this runtime validates it, scalar twin) and the
 * WGSL kernel. Sizes cover 0, 1, primes and every tail of every tile the Wasm GEMM uses
 * (rows mod MR = 4, columns mod 8 with the 4-wide panel for tails <= 4, the gemv paths' 32-
 * and 4-column blocks and 8/4-step k loops, the KC = 256, MC = 128, NC = 1024 cache blocks),
 * each transpose combination, batches with broadcast operands, bias and activation.
 * Tolerance: atol + 2k·eps·bound, where bound is the reference run on |A|, |B| and |bias|.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { planMatmul } from '../src/ops/matmul-plan.ts';
import { backendFor, relaxedSimdSupported, wasmModule } from '../src/runtime.ts';
import { F32_EPS, REQUIRE_GPU, RUNTIME, info, mismatch, randomData, threadedCpu } from './harness.ts';

type MM = KernelParams['matmul'];
const ref = new ReferenceBackend();
const relaxed = relaxedSimdSupported();
const engines: [string, Backend | null][] = [
  ['wasm-simd', new WasmBackend(await wasmModule(undefined, 'simd'), { simd: true })],
  ['wasm-scalar', new WasmBackend(await wasmModule(undefined, 'simd'), { simd: false })],
  ['webgpu', info.gpu ? backendFor('gpu', 'test') : null],
];
if (relaxed) engines.splice(1, 0, ['wasm-relaxed', new WasmBackend(await wasmModule(undefined, 'relaxed-simd'), { simd: true })]);
// Every product split over 2 threads however small (batches, rows in 4s, or columns in 8s).
const threaded = await threadedCpu();
if (threaded) engines.splice(1, 0, ['wasm-2threads', threaded]);

const batches = (p: MM) => (p.batchShape ?? []).reduce((x, y) => x * y, 1);
/** Elements each input needs: the furthest batch offset plus one matrix. */
function inputSizes(p: MM): number[] {
  const span = (strides: number[] = []) => (p.batchShape ?? []).reduce((s, d, i) => s + (d - 1) * strides[i], 0);
  const sizes = [span(p.aBatchStrides) + p.m * p.k, span(p.bBatchStrides) + p.k * p.n];
  if (p.bias) sizes.push(p.n);
  return sizes;
}

async function run(be: Backend, p: MM, inputs: Float32Array[]): Promise<Float32Array> {
  const size = batches(p) * p.m * p.n;
  const bufs = inputs.map((x) => { const b = be.alloc(x.length * 4); be.write(b, x); return b; });
  const out = be.alloc(size * 4);
  if (size > 0) be.run('matmul', bufs, out, p);
  const bytes = await be.read(out, size * 4);
  for (const b of [...bufs, out]) be.free(b);
  return new Float32Array(bytes.buffer, bytes.byteOffset, size);
}

/** Check one product on `be`; returns a message naming the case when it is off. */
async function check(be: Backend, p: MM, seed: number): Promise<string | null> {
  const inputs = inputSizes(p).map((n, i) => randomData(n, seed * 3 + i + 1));
  const got = await run(be, p, inputs);
  const want = await run(ref, p, inputs);
  const bound = await run(ref, { ...p, activation: 'none' }, inputs.map((x) => x.map(Math.abs)));
  const bad = mismatch(got, want, bound, 1e-6, 2 * Math.max(p.k, 1) * F32_EPS);
  return bad && `${JSON.stringify(p)}: ${bad}`;
}

const T4: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

for (const [name, be] of engines) {
  if (!be) {
    test(`${RUNTIME}: ${name}: a WebGPU adapter exists`, () => {
      if (REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
    });
    continue;
  }
  const gpu = name === 'webgpu';

  for (const [tA, tB] of T4) {
    test(`${RUNTIME}: ${name}: matmul tA=${tA} tB=${tB}: every row, column and k tail`, async () => {
      const ms = gpu ? [0, 1, 2, 3, 4, 5, 9, 17] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 17];
      const ns = gpu ? [0, 1, 2, 4, 5, 8, 9, 13, 33] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 31, 33, 40];
      const ks = gpu ? [0, 1, 7, 17] : [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 15, 17];
      for (const m of ms) for (const n of ns) for (const k of ks) {
        const bad = await check(be, { m, k, n, transposeA: tA, transposeB: tB }, m * 1000 + n * 10 + k);
        if (bad) assert.unreachable(bad);
      }
    });

    test(`${RUNTIME}: ${name}: matmul tA=${tA} tB=${tB}: cache-block edges (KC 256, MC 128, NC 1024) and gemv blocks`, async () => {
      const cases: [number, number, number][] = [
        [130, 300, 20], [5, 257, 9], [12, 256, 24], [1, 300, 67], [67, 300, 1], [1, 13, 1], [2, 513, 3], [7, 64, 1030],
      ];
      if (!gpu) cases.push([129, 520, 37], [1, 37, 1030], [1030, 11, 1], [3, 11, 1031]);
      for (const [m, k, n] of cases) {
        const bad = await check(be, { m, k, n, transposeA: tA, transposeB: tB }, m + k + n);
        if (bad) assert.unreachable(bad);
      }
    });
  }

  test(`${RUNTIME}: ${name}: batched matmul with broadcast operands (planned as the op table plans them)`, async () => {
    const pairs: [number[], number[], boolean, boolean][] = [
      [[2, 3, 4, 5], [5, 6], false, false], [[2, 3, 5, 4], [5, 6], true, false], [[3, 1, 4, 5], [2, 5, 6], false, false],
      [[3, 1, 5, 4], [2, 6, 5], true, true], [[4, 5], [2, 3, 5, 6], false, false], [[5, 4], [2, 3, 6, 5], true, true],
      [[1, 9, 5], [2, 6, 5], false, true], [[2, 1, 3, 1, 4, 5], [3, 1, 2, 5, 6], false, false], [[5], [2, 5, 3], false, false],
      [[2, 5, 3], [5], true, false], [[7], [7], false, false], [[2, 0, 4, 5], [5, 6], false, false], [[2, 4, 0], [2, 0, 3], false, false],
    ];
    for (const [a, b, tA, tB] of pairs) {
      const { params } = planMatmul(a, b, { transposeA: tA, transposeB: tB }, null);
      const bad = await check(be, params, a.length * 7 + b.length);
      if (bad) assert.unreachable(`${JSON.stringify(a)} @ ${JSON.stringify(b)}: ${bad}`);
    }
  });

  test(`${RUNTIME}: ${name}: fused bias and relu epilogue, every tail, k = 0, batches`, async () => {
    for (const activation of ['none', 'relu'] as const)
      for (const [tA, tB] of T4)
        for (const [m, k, n] of [[1, 9, 13], [5, 0, 7], [3, 17, 1], [9, 4, 3], [6, 33, 12], [17, 300, 9], [4, 5, 2], [1, 0, 5], [1, 8, 40]] as const) {
          const bad = await check(be, { m, k, n, transposeA: tA, transposeB: tB, bias: true, activation }, m * k + n);
          if (bad) assert.unreachable(bad);
          const bad2 = await check(be, { m, k, n, transposeA: tA, transposeB: tB, activation }, m + k * n);
          if (bad2) assert.unreachable(bad2);
        }
    const { params } = planMatmul([2, 1, 5, 7], [3, 7, 6], { activation: 'relu' }, [6]);
    const bad = await check(be, params, 99);
    if (bad) assert.unreachable(bad);
  });

  if (!gpu) {
    // WGSL may assume no NaN; on the CPU the fused relu keeps NaN like T.relu does.
    test(`${RUNTIME}: ${name}: fused relu keeps NaN and passes +inf, in every path`, async () => {
      for (const [m, k, n] of [[1, 3, 9], [9, 3, 1], [5, 3, 9], [2, 3, 9], [5, 3, 3]]) {
        const a = randomData(m * k, 5), b = randomData(k * n, 6);
        a[0] = NaN; a[k] = Infinity; // row 0 all NaN; row 1 has an inf times a random sign
        const p: MM = { m, k, n, activation: 'relu' };
        const got = await run(be, p, [a, b]), want = await run(ref, p, [a, b]);
        for (let i = 0; i < got.length; i++) {
          if (Number.isNaN(want[i]) !== Number.isNaN(got[i]) || (!Number.isNaN(want[i]) && !Number.isFinite(want[i]) && got[i] !== want[i])) {
            assert.unreachable(`m=${m} k=${k} n=${n} index ${i}: got ${got[i]}, expected ${want[i]}`);
          }
        }
      }
    });
  }
}

test(`${RUNTIME}: info.cpu.relaxedSimd says whether the relaxed build runs, and it runs where it validates`, () => {
  assert.is(info.cpu.relaxedSimd, relaxed);
  if (RUNTIME !== 'node') assert.ok(relaxed, `${RUNTIME} is expected to validate relaxed SIMD`);
});

test.run();
