/** Reductions through the API: PyTorch's meaning for values, NaN, empty axes and dtypes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['ref', 'cpu', 'gpu'] : ['ref', 'cpu'];
const arr = async (t: T.Tensor) => Array.from(await t.data<T.DType>());

for (const device of devices) {
  test(`${RUNTIME}: ${device}: mean, max, min along axes, keepDims`, async () => {
    const x = T.tensor([3, -1, 4, 1, -5, 9], [2, 3], { device });
    const m = await arr(T.mean(x, 1)); // sum / n, as PyTorch: exact on the cpu, ~2.5 ulp in WGSL
    assert.is(m[0], 2);
    assert.ok(device === 'gpu' ? Math.abs(m[1] - 5 / 3) < 1e-6 : m[1] === Math.fround(5 / 3), `mean ${m[1]}`);
    assert.equal(await arr(T.max(x, 0)), [3, -1, 9]);
    assert.equal(await arr(T.min(x, -1)), [-1, -5]);
    assert.equal(await arr(T.max(x)), [9]);
    assert.equal(T.max(x, 1, { keepDims: true }).shape, [2, 1]);
    assert.equal(await arr(T.mean(T.zeros([2, 0], { device }), 1)).then((v) => v.map(Number.isNaN)), [true, true]);
  });

  test(`${RUNTIME}: ${device}: argmax/argmin give i32, first occurrence, NaN as the extreme`, async () => {
    const x = T.tensor([1, 7, 7, 0, NaN, 2, 5, 5, -1], [3, 3], { device });
    const am = T.argmax(x, 1);
    assert.is(am.dtype, 'i32');
    assert.equal(await arr(am), [1, 1, 0]);
    assert.equal(await arr(T.argmin(x, 1)), [0, 1, 2]);
    assert.equal(await arr(T.argmax(x, 0)), [2, 1, 0]);
    assert.equal(await arr(T.argmax(x)), [4]);
    // WGSL's max/min may drop NaN (implementations may assume none): a CPU contract only.
    if (device !== 'gpu') {
      assert.ok(Number.isNaN((await T.max(x, 1).data())[1]), 'max propagates NaN');
      assert.ok(Number.isNaN((await T.min(x).data())[0]), 'min propagates NaN');
    }
  });
}

test(`${RUNTIME}: reductions: empty axes and wrong dtypes are typed errors`, () => {
  assert.throws(() => T.max(T.zeros([3, 0]), 1), (e: unknown) => e instanceof T.ShapeError && /max: cannot reduce an empty axis \(shape \[3, 0\]\)/.test((e as Error).message));
  assert.throws(() => T.argmax(T.zeros([0])), (e: unknown) => e instanceof T.ShapeError);
  assert.throws(() => T.mean(T.tensor(new Int32Array([1]))), (e: unknown) => e instanceof T.DTypeError);
  assert.throws(() => T.min(T.zeros([2]), 1), (e: unknown) => e instanceof T.ShapeError && /axis 1 is out of range/.test((e as Error).message));
});

/** f64 reference of a reduction over `axes` of a row-major array, keepDims shape. */
function refReduce(x: Float32Array, shape: number[], axes: number[], op: 'sum' | 'mean' | 'max' | 'min'): { shape: number[]; values: number[] } {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const out = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const size = out.reduce((p, d) => p * d, 1);
  const acc = new Array<number>(size).fill(op === 'max' ? -Infinity : op === 'min' ? Infinity : 0);
  const idx = new Array<number>(shape.length).fill(0);
  for (let f = 0; f < x.length; f++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) o = o * out[d] + (ax.includes(d) ? 0 : idx[d]);
    acc[o] = op === 'max' ? Math.max(acc[o], x[f]) : op === 'min' ? Math.min(acc[o], x[f]) : acc[o] + x[f];
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
  const count = ax.reduce((p, a) => p * shape[a], 1);
  return { shape: out, values: op === 'mean' ? acc.map((v) => v / count) : acc };
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: sum/mean/max/min over a list of axes, against an f64 reference`, async () => {
    const shape = [3, 4, 5, 2];
    const xs = Float32Array.from({ length: 120 }, (_, i) => Math.sin(i * 12.9898) * 4);
    const x = T.tensor(xs, shape, { device });
    const cases: number[][] = [[0, 2], [1, 2], [0, 1, 2, 3], [-1, 0], [3], [1, 3], [2, 1]];
    for (const axes of cases) {
      for (const op of ['sum', 'mean', 'max', 'min'] as const) {
        const want = refReduce(xs, shape, axes, op);
        for (const keepDims of [true, false]) {
          const got = T[op](x, axes, { keepDims });
          const norm = axes.map((a) => (a < 0 ? a + 4 : a));
          assert.equal(got.shape, keepDims ? want.shape : shape.filter((_, i) => !norm.includes(i)), `${op} [${axes}] keepDims ${keepDims}`);
          const v = await got.data();
          want.values.forEach((w, i) => assert.ok(Math.abs(v[i] - w) <= 1e-5 * (1 + Math.abs(w)), `${op} [${axes}] at ${i}: ${v[i]} vs ${w}`));
          got.dispose();
        }
      }
    }
    // A strided view (no copy made by the caller) and an empty dimension.
    const xt = T.transpose(x, [2, 0, 3, 1]);
    const s = await T.sum(xt, [1, 3]).data();
    const want = refReduce(xs, shape, [0, 1], 'sum').values; // xt's axes 1, 3 are x's 0, 1; the result is [5, 2] either way
    const order = [0, 1, 2, 3, 4].flatMap((k) => [0, 1].map((l) => want[k * 2 + l]));
    order.forEach((w, i) => assert.ok(Math.abs(s[i] - w) <= 1e-5 * (1 + Math.abs(w)), `strided sum at ${i}`));
    const e = T.sum(T.zeros([2, 0, 3], { device }), [0, 1]);
    assert.equal(e.shape, [3]);
    assert.equal(Array.from(await e.data()), [0, 0, 0]);
  });
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: long single-row reductions (chunked on the cpu) against an f64 reference`, async () => {
    for (const [reduce, inner] of [[200003, 1], [30011, 7], [32768, 1], [32769, 1], [4681, 7]]) {
      const xs = Float32Array.from({ length: reduce * inner }, (_, i) => Math.sin(i * 0.7071) * 3 + 0.25);
      const x = T.tensor(xs, [reduce, inner], { device });
      for (const op of ['sum', 'mean', 'max', 'min'] as const) {
        const want = refReduce(xs, [reduce, inner], [0], op).values;
        const got = await T[op](x, 0).data();
        // f32 sums of ~2e5 terms: the error grows with the length, so the bound is on the sum of |x|.
        const scale = op === 'sum' ? 1e-6 * reduce * 3.25 : op === 'mean' ? 1e-6 * 3.25 : 0;
        want.forEach((w, i) => assert.ok(Math.abs(got[i] - w) <= scale + 1e-6 * Math.abs(w), `${op} [${reduce}, ${inner}] at ${i}: ${got[i]} vs ${w}`));
      }
      x.dispose();
    }
  });
}

test(`${RUNTIME}: reductions over a list of axes: bad lists are typed errors, nothing leaks`, () => {
  const x = T.zeros([2, 3, 4]);
  const live = T.memoryStats().cpu.liveTensors;
  assert.throws(() => T.sum(x, [0, 0]), (e: unknown) => e instanceof T.ShapeError && /axis 0 appears more than once/.test((e as Error).message));
  assert.throws(() => T.sum(x, [0, -3]), (e: unknown) => e instanceof T.ShapeError && /more than once/.test((e as Error).message));
  assert.throws(() => T.mean(x, []), (e: unknown) => e instanceof T.ShapeError && /empty axis list/.test((e as Error).message));
  assert.throws(() => T.max(x, [1, 3]), (e: unknown) => e instanceof T.ShapeError && /axis 3 is out of range/.test((e as Error).message));
  const empty = T.zeros([2, 0, 3]);
  assert.throws(() => T.max(empty, [0, 1]), (e: unknown) => e instanceof T.ShapeError && /cannot reduce an empty axis/.test((e as Error).message));
  empty.dispose();
  assert.throws(() => T.argmax(x, [0, 1] as unknown as number), (e: unknown) => e instanceof T.ShapeError && /takes one axis/.test((e as Error).message));
  const y = T.sum(x, [0, 2]);
  assert.is(T.memoryStats().cpu.liveTensors, live + 1, 'only the result stays alive');
  y.dispose();
  x.dispose();
  assert.throws(() => T.sum(x, [0, 1]), (e: unknown) => e instanceof T.DisposedError && /sum:/.test((e as Error).message));
});

test.run();
