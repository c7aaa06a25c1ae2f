/**
 * Comparisons (f32 x f32 -> bool bytes) and where(cond, a, b) at the seam, on the Wasm f32x4
 * kernels and their scalar twins, and the WGSL kernels (bool bytes packed four to a word), bit
 * for bit against the reference: every tail of 4 and 16 lanes, NumPy broadcasts (three
 * operands for where), signed zeros, and on the CPU NaN and infinities.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../src/backend/backend.ts';
import { broadcastAll, broadcastShapes, collapseBroadcast, collapseOperands } from '../src/ops/broadcast.ts';
import { COMPARE, type CompareOp } from '../src/ops/elementwise-spec.ts';
import { RUNTIME, randomData } from './harness.ts';
import { SIZES, asF32, cpuEngines, gpu, ref, run } from './seam.ts';

const numel = (s: number[]) => s.reduce((x, y) => x * y, 1);

/**
 * Values with many exact ties between a and b, plus NaN, infinities and both zeros; `finite`
 * keeps only the zeros (WGSL lets a compiler assume no NaN or infinity: a CPU contract).
 */
function operands(n: number, seed: number, finite = false): [Float32Array, Float32Array] {
  const specials = finite ? [0, -0, 1] : [NaN, Infinity, -Infinity, 0, -0, 1];
  const a = randomData(n, seed).map((v) => Math.round(v * 2) / 2);
  const b = randomData(n, seed + 1).map((v) => Math.round(v * 2) / 2);
  for (let i = 0; i < n; i += 7) a[i] = specials[(i / 7) % specials.length];
  for (let i = 3; i < n; i += 11) b[i] = specials[(i / 11 + 2) % specials.length];
  if (finite) for (const x of [a, b]) x.forEach((v, i) => { if (!Number.isFinite(v)) x[i] = 0; }); // (i / 11) above is fractional: undefined -> NaN
  return [a, b];
}

const pairs: [number[], number[]][] = [
  [[5, 7], [5, 7]], [[5, 7], []], [[], [5, 7]], [[5, 7], [7]], [[7], [5, 7]], [[5, 1], [5, 7]], [[5, 1], [1, 7]],
  [[3, 1, 6], [4, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[0, 3], [3]], [[3, 0], [1]], [[1], [1]], [[3, 33], [33]],
  [[2, 1, 3, 1, 2, 1, 2, 3], [3, 1, 2, 4, 1, 3]],
];

const triples: [number[], number[], number[]][] = [
  [[37], [37], [37]], [[37], [], []], [[], [37], [37]], [[4, 9], [9], [4, 1]], [[4, 1], [1, 9], [9]],
  [[2, 3, 17], [3, 1], [17]], [[5, 1, 1], [1, 6, 1], [1, 1, 7]], [[0, 3], [3], [1]], [[1], [1], [1]],
  [[2, 1, 3], [2, 5, 1], []], [[33], [2, 33], [2, 1]],
];

const engines: [string, Backend][] = [...cpuEngines, ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];
for (const [name, be] of engines) {
  const finite = name === 'webgpu';
  for (const op of Object.keys(COMPARE) as CompareOp[]) {
    test(`${RUNTIME}: ${name}: ${op}, every tail length and broadcasts, bit for bit`, async () => {
      const check = async (shape: number[], aShape: number[], bShape: number[], seed: number) => {
        const [a] = operands(numel(aShape), seed, finite), [, b] = operands(numel(bShape), seed + 5, finite);
        const p = { op, ...collapseBroadcast(shape, aShape, bShape) };
        const n = numel(shape);
        const got = (await run(be, 'compare', [a, b], n, p)).out;
        const want = (await run(ref, 'compare', [a, b], n, p)).out;
        for (let i = 0; i < n; i++) {
          if (got[i] !== want[i]) return `index ${i}: got ${got[i]}, expected ${want[i]}`;
        }
        return null;
      };
      for (const n of [...SIZES, 48, 49, 63, 65]) {
        const bad = await check([n], [n], [n], n);
        if (bad) assert.unreachable(`n=${n}: ${bad}`);
      }
      for (const [as, bs] of pairs) {
        const bad = await check(broadcastShapes(as, bs, op), as, bs, 9);
        if (bad) assert.unreachable(`[${as}] ${op} [${bs}]: ${bad}`);
      }
    });
  }

  if (!finite) test(`${RUNTIME}: ${name}: comparisons with NaN and signed zeros follow IEEE`, async () => {
    const a = new Float32Array([NaN, NaN, 1, -0, 0, -Infinity, Infinity, 2, 3]);
    const b = new Float32Array([NaN, 1, NaN, 0, -0, -Infinity, 1, 3, 2]);
    const want: Record<CompareOp, number[]> = {
      eq: [0, 0, 0, 1, 1, 1, 0, 0, 0],
      ne: [1, 1, 1, 0, 0, 0, 1, 1, 1],
      lt: [0, 0, 0, 0, 0, 0, 0, 1, 0],
      le: [0, 0, 0, 1, 1, 1, 0, 1, 0],
      gt: [0, 0, 0, 0, 0, 0, 1, 0, 1],
      ge: [0, 0, 0, 1, 1, 1, 1, 0, 1],
    };
    for (const op of Object.keys(COMPARE) as CompareOp[]) {
      const got = (await run(be, 'compare', [a, b], a.length, { op, shape: [a.length], aStrides: [1], bStrides: [1] })).out;
      assert.equal(Array.from(got), want[op], op);
    }
  });

  test(`${RUNTIME}: ${name}: where, every tail length and three-way broadcasts, bit for bit`, async () => {
    const check = async (cs: number[], as: number[], bs: number[], seed: number) => {
      const shape = broadcastAll([cs, as, bs], 'where');
      const { shape: loops, strides: [condStrides, aStrides, bStrides] } = collapseOperands(shape, [cs, as, bs]);
      // Any nonzero byte is true; bool tensors only hold 0 and 1, but the kernel must not care.
      const cond = Uint8Array.from(randomData(numel(cs), seed), (v) => (v > 0.5 ? 1 : v > 0 ? 0 : v > -1 ? 255 : 0));
      const [a, b] = operands(Math.max(numel(as), numel(bs)), seed + 1, finite);
      const x = a.subarray(0, numel(as)), y = b.subarray(0, numel(bs));
      const p = { shape: loops, condStrides, aStrides, bStrides };
      const n = numel(shape);
      const got = asF32((await run(be, 'where', [cond, x, y], n * 4, p)).out);
      const want = asF32((await run(ref, 'where', [cond, x, y], n * 4, p)).out);
      for (let i = 0; i < n; i++) {
        if (!Object.is(got[i], want[i])) return `index ${i}: got ${got[i]}, expected ${want[i]}`;
      }
      return null;
    };
    for (const n of SIZES) {
      const bad = await check([n], [n], [n], n);
      if (bad) assert.unreachable(`n=${n}: ${bad}`);
    }
    for (const [cs, as, bs] of triples) {
      const bad = await check(cs, as, bs, 4);
      if (bad) assert.unreachable(`where([${cs}], [${as}], [${bs}]): ${bad}`);
    }
  });
}

test(`${RUNTIME}: broadcast: three operands broadcast together and collapse`, () => {
  assert.equal(broadcastAll([[4, 1], [1, 9], [9]], 'where'), [4, 9]);
  assert.equal(broadcastAll([[], [2, 3], [3]], 'where'), [2, 3]);
  assert.equal(collapseOperands([4, 9], [[4, 9], [4, 9], [4, 9]]), { shape: [36], strides: [[1], [1], [1]] });
  assert.equal(collapseOperands([4, 9], [[4, 1], [9], []]), { shape: [4, 9], strides: [[1, 0], [0, 1], [0, 0]] });
  assert.throws(() => broadcastAll([[2, 3], [3], [4]], 'where'), /where: shapes \[2, 3\], \[3\], \[4\] cannot be broadcast/);
});

test.run();
