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

test.run();
