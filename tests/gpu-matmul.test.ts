/**
 * Every rung of the WGSL matmul ladder (naive, tiled, register-blocked at its default tile and
 * at the tile a small adapter gets, gemv) against the reference backend, called by name through
 * WebGPUBackend.dispatch: m, n and k from 0, 1, primes and every tail of the 64x64 rb tile and
 * its 32-deep k slice, each transpose combination, batches with broadcast operands, bias and
 * each activation. Then the choice PROGRAMS.matmul makes, and the tile for small adapters.
 * Tolerance: atol + 2k·eps·bound, bound = the reference on |A|, |B|, |bias| (as matmul.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import type { WebGPUBackend } from '../src/backend/webgpu.ts';
import { type MatmulVariant, RB_DEFAULT, type RbTile, type TileLimits, chooseMatmul, matmulProgram, rbTile } from '../src/backend/wgsl-matmul.ts';
import { PROGRAMS } from '../src/backend/wgsl-programs.ts';
import { ACTIVATIONS, type Activation } from '../src/ops/activation.ts';
import { planMatmul } from '../src/ops/matmul-plan.ts';
import { backendFor } from '../src/runtime.ts';
import { F32_EPS, REQUIRE_GPU, RUNTIME, info, mismatch, randomData } from './harness.ts';

type MM = KernelParams['matmul'];
const ref = new ReferenceBackend();
const gpu = info.gpu ? (backendFor('gpu', 'test') as unknown as WebGPUBackend) : null;
/** What a 64-invocation adapter with 4 KiB of workgroup memory gets. */
const SMALL: TileLimits = { maxInvocations: 64, maxSizeX: 64, maxSizeY: 64, maxSharedBytes: 4096 };

interface Rung { name: string; variant: MatmulVariant; rb?: RbTile; vectorOnly?: boolean }
const RUNGS: Rung[] = [
  { name: 'naive', variant: 'naive' },
  { name: 'tiled', variant: 'tiled' },
  { name: 'rb', variant: 'rb' },
  // A different block shape (4x8 per invocation, 16x8 invocations) and the small-adapter tile.
  { name: 'rb 4x8', variant: 'rb', rb: { wx: 8, wy: 16, rm: 4, rn: 8, tk: 16 } },
  { name: 'rb small adapter', variant: 'rb', rb: rbTile(SMALL) },
  { name: 'gemv', variant: 'gemv', vectorOnly: true },
];

const batches = (p: MM) => (p.batchShape ?? []).reduce((x, y) => x * y, 1);
function inputSizes(p: MM): number[] {
  const span = (strides: number[] = []) => (p.batchShape ?? []).reduce((s, d, i) => s + (d - 1) * strides[i], 0);
  return [span(p.aBatchStrides) + p.m * p.k, span(p.bBatchStrides) + p.k * p.n, ...(p.bias ? [p.n] : [])];
}

async function runGpu(be: WebGPUBackend, rung: Rung, p: MM, inputs: Float32Array[]): Promise<Float32Array> {
  const size = batches(p) * p.m * p.n;
  const bufs = inputs.map((x) => { const b = be.alloc(x.length * 4); be.write(b, x); return b; });
  const out = be.alloc(size * 4);
  // Without its fallback, so a small product runs this rung even while its pipeline compiles.
  const { fallback: _, ...prog } = matmulProgram(p, be.limits, rung.variant, rung.rb);
  if (size > 0) be.dispatch(prog, bufs, out);
  const bytes = await be.read(out, size * 4);
  for (const b of [...bufs, out]) be.free(b);
  return new Float32Array(bytes.buffer, bytes.byteOffset, size);
}

async function runRef(p: MM, inputs: Float32Array[]): Promise<Float32Array> {
  const size = batches(p) * p.m * p.n;
  const bufs = inputs.map((x) => { const b = ref.alloc(x.length * 4); ref.write(b, x); return b; });
  const out = ref.alloc(size * 4);
  if (size > 0) ref.run('matmul', bufs, out, p);
  const bytes = await ref.read(out, size * 4);
  return new Float32Array(bytes.buffer, bytes.byteOffset, size);
}

async function check(be: WebGPUBackend, rung: Rung, p: MM, seed: number): Promise<string | null> {
  const inputs = inputSizes(p).map((n, i) => randomData(n, seed * 3 + i + 1));
  const got = await runGpu(be, rung, p, inputs);
  const want = await runRef(p, inputs);
  const bound = await runRef({ ...p, activation: 'none' }, inputs.map((x) => x.map(Math.abs)));
  const bad = mismatch(got, want, bound, 1e-6, 2 * Math.max(p.k, 1) * F32_EPS);
  return bad && `${rung.name}: ${JSON.stringify(p)}: ${bad}`;
}

const T4: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];
const ACTS = Object.keys(ACTIVATIONS) as Activation[];

if (!gpu) {
  test(`${RUNTIME}: gpu matmul ladder: a WebGPU adapter exists`, () => {
    if (REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
  });
} else {
  for (const rung of RUNGS) {
    test(`${RUNTIME}: gpu matmul ${rung.name}: 0, 1, primes and every tile tail, each transpose`, async () => {
      // 67 / 66: one full 64 tile and a tail; 33: one 32-deep k slice and a 1-element tail.
      const ms = rung.vectorOnly ? [1, 2, 5, 17, 67] : [0, 1, 2, 5, 13, 67];
      const ns = rung.vectorOnly ? [1] : [1, 3, 4, 9, 66];
      const ks = [0, 1, 7, 33];
      for (const [tA, tB] of T4) {
        for (const m of ms) for (const n of ns) for (const k of ks) {
          // gemv is for vectors: both orientations, m = 1 (row vector) and n = 1 (column).
          const cases: [number, number][] = rung.vectorOnly ? [[m, n], [n, m]] : [[m, n]];
          for (const [mm, nn] of cases) {
            const bad = await check(gpu, rung, { m: mm, k, n: nn, transposeA: tA, transposeB: tB }, mm * 1000 + nn * 10 + k);
            if (bad) assert.unreachable(bad);
          }
        }
      }
    });

    test(`${RUNTIME}: gpu matmul ${rung.name}: batches with broadcast operands, bias and every activation`, async () => {
      const pairs: [number[], number[], boolean, boolean][] = rung.vectorOnly
        ? [[[2, 1, 1, 5], [2, 3, 5, 6], false, false], [[3, 1, 5, 1], [2, 1, 5], true, true], [[4, 5], [2, 3, 5, 1], false, false], [[3, 1, 70], [3, 9, 70], false, true]]
        : [[[2, 3, 4, 5], [5, 6], false, false], [[3, 1, 5, 4], [2, 6, 5], true, true], [[5, 4], [2, 3, 6, 5], true, true], [[2, 1, 3, 1, 4, 5], [3, 1, 2, 5, 6], false, false], [[2, 67, 33], [33, 9], false, false]];
      for (const activation of ACTS) for (const withBias of [false, true]) {
        for (const [a, b, tA, tB] of pairs) {
          const n = tB ? b[b.length - 2] : b[b.length - 1];
          const { params } = planMatmul(a, b, { transposeA: tA, transposeB: tB, activation }, withBias ? [n] : null);
          const bad = await check(gpu, rung, params, a.length * 7 + b.length);
          if (bad) assert.unreachable(`${JSON.stringify(a)} @ ${JSON.stringify(b)}: ${bad}`);
        }
      }
    });
  }

  test(`${RUNTIME}: gpu matmul rb: several workgroups in x, y and batch, k past several slices`, async () => {
    for (const [m, k, n, tA, tB] of [[130, 100, 131, false, false], [129, 97, 70, true, true], [65, 200, 129, true, false]] as const) {
      const bad = await check(gpu, RUNGS[2], { m, k, n, transposeA: tA, transposeB: tB, bias: true, activation: 'relu' }, m + k + n);
      if (bad) assert.unreachable(bad);
    }
  });
}

test(`${RUNTIME}: PROGRAMS.matmul picks gemv for m = 1 or n = 1, rb otherwise; gemv refuses a matrix`, () => {
  const lim = { maxWorkgroupsPerDim: 65535 };
  const pick = (m: number, n: number) => PROGRAMS.matmul({ m, k: 5, n }, lim).key.variant;
  assert.equal([pick(1, 9), pick(9, 1), pick(1, 1), pick(2, 2), pick(64, 3)], ['gemv', 'gemv', 'gemv', 'rb', 'rb']);
  assert.is(chooseMatmul({ m: 1, k: 0, n: 7 }), 'gemv');
  assert.throws(() => matmulProgram({ m: 2, k: 3, n: 2 }, lim, 'gemv'), /gemv matmul needs m = 1 or n = 1/);
  // One pipeline per rung, tile, bias and activation: the shape is not in the key.
  assert.equal(PROGRAMS.matmul({ m: 7, k: 3, n: 9 }, lim).key, PROGRAMS.matmul({ m: 300, k: 1, n: 2, transposeA: true, batchShape: [3], aBatchStrides: [1], bBatchStrides: [0] }, lim).key);
});

test(`${RUNTIME}: the rb tile fits the adapter: core limits keep the default, small ones shrink it`, () => {
  const core: TileLimits = { maxInvocations: 256, maxSizeX: 256, maxSizeY: 256, maxSharedBytes: 16384 };
  assert.equal(rbTile(core), RB_DEFAULT);
  for (const l of [SMALL, { ...core, maxInvocations: 32 }, { ...core, maxSharedBytes: 2048 }, { ...core, maxSizeX: 4, maxSizeY: 2 }]) {
    const t = rbTile(l);
    assert.ok(t.wx * t.wy <= l.maxInvocations && t.wx <= l.maxSizeX && t.wy <= l.maxSizeY, JSON.stringify([l, t]));
    assert.ok(4 * t.tk * (t.wy * t.rm + t.wx * t.rn) <= l.maxSharedBytes, JSON.stringify([l, t]));
  }
  // The program sizes its grid by the tile it chose.
  const p = matmulProgram({ m: 100, k: 3, n: 70 }, { maxWorkgroupsPerDim: 65535, tile: SMALL }, 'rb');
  const t = rbTile(SMALL);
  assert.equal(p.grid, [Math.ceil(70 / (t.rn * t.wx)), Math.ceil(100 / (t.rm * t.wy)), 1]);
});

test.run();
