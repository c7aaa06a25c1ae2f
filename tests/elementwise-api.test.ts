/**
 * The public elementwise API (T.neg ... T.where) on each device: PyTorch meanings on small
 * inputs, result shapes and dtypes under broadcasting, and typed errors for wrong dtypes,
 * and shapes that do not broadcast.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['ref', 'cpu', 'gpu'] : ['ref', 'cpu'];
const arr = async (t: T.Tensor) => Array.from((await t.data<never>()) as ArrayLike<number>);

function near(got: number[], want: number[], tol: number, what: string): void {
  assert.is(got.length, want.length, `${what}: length`);
  got.forEach((g, i) => {
    const w = want[i];
    if (!(Object.is(g, w) || Math.abs(g - w) <= tol * Math.max(1, Math.abs(w)))) assert.unreachable(`${what}[${i}] = ${g}, expected ${w}`);
  });
}

const is = (type: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof type && re.test((e as Error).message);

for (const device of devices) {
  // The GPU's transcendental functions are not correctly rounded (tests/elementwise.test.ts).
  const tol = device === 'gpu' ? 1e-5 : 1e-6;

  test(`${RUNTIME}: ${device}: unary ops compute what their PyTorch names say`, async () => {
    const xs = [-3, -0.5, 0, 0.25, 2];
    const x = T.tensor(xs, [5], { device });
    const pos = T.tensor([0.25, 1, 4, 9, 100], [5], { device });
    const sig = (v: number) => 1 / (1 + Math.exp(-v));
    near(await arr(T.neg(x)), xs.map((v) => -v), 0, 'neg');
    near(await arr(T.abs(x)), xs.map(Math.abs), 0, 'abs');
    near(await arr(T.exp(x)), xs.map(Math.exp), tol, 'exp');
    near(await arr(T.log(pos)), [0.25, 1, 4, 9, 100].map(Math.log), tol, 'log');
    near(await arr(T.sqrt(pos)), [0.5, 1, 2, 3, 10], tol, 'sqrt');
    near(await arr(T.rsqrt(pos)), [2, 1, 0.5, 1 / 3, 0.1], tol, 'rsqrt');
    near(await arr(T.tanh(x)), xs.map(Math.tanh), tol, 'tanh');
    near(await arr(T.sigmoid(x)), xs.map(sig), tol, 'sigmoid');
    near(await arr(T.silu(x)), xs.map((v) => v * sig(v)), tol, 'silu');
    // PyTorch's gelu(x, approximate='tanh') written as its docs give it.
    const gelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    near(await arr(T.gelu(x)), xs.map(gelu), tol, 'gelu');
    assert.equal(T.exp(T.zeros([2, 0, 3], { device })).shape, [2, 0, 3]);
  });

  test(`${RUNTIME}: ${device}: binary ops broadcast and compute what their names say`, async () => {
    const a = T.tensor([1, -2, 3, -4, 5, -6], [2, 3], { device });
    const row = T.tensor([2, 4, -1], [3], { device });
    const col = T.tensor([3, 0.5], [2, 1], { device });
    assert.equal(await arr(T.sub(a, row)), [-1, -6, 4, -6, 1, -5]);
    near(await arr(T.div(a, col)), [1 / 3, -2 / 3, 1, -8, 10, -12], tol, 'div');
    assert.equal(await arr(T.maximum(a, row)), [2, 4, 3, 2, 5, -1]);
    assert.equal(await arr(T.minimum(a, row)), [1, -2, -1, -4, 4, -6]);
    const p = T.pow(T.tensor([2, 9, -2, -3], [2, 2], { device }), T.tensor([3, 0.5], [2], { device }));
    const got = await arr(p);
    near(got.slice(0, 3), [8, 3, -8], tol, 'pow');
    if (device !== 'gpu') assert.ok(Number.isNaN(got[3]), 'pow(-3, 0.5) = NaN on the CPU');
    near(await arr(T.pow(T.tensor([-2, 5], [2], { device }), T.tensor([3, 0], [2], { device }))), [-8, 1], tol, 'pow sign rule');
    assert.equal(T.sub(T.zeros([4, 1], { device }), T.zeros([3], { device })).shape, [4, 3]);
  });

  test(`${RUNTIME}: ${device}: comparisons give bool tensors, with NaN and broadcasting`, async () => {
    // NaN is a CPU contract (WGSL may assume none); on the gpu element 2 is 3 instead.
    const gpu = device === 'gpu', g = (onGpu: number, other: number) => (gpu ? onGpu : other);
    const a = T.tensor([1, 2, gpu ? 3 : NaN, 4, -0, 6], [2, 3], { device });
    const b = T.tensor([2, 2, 0], [3], { device });
    const lt = T.lt(a, b);
    assert.is(lt.dtype, 'bool');
    assert.equal(lt.shape, [2, 3]);
    assert.equal(await arr(lt), [1, 0, 0, 0, 1, 0]);
    assert.equal(await arr(T.le(a, b)), [1, 1, 0, 0, 1, 0]);
    assert.equal(await arr(T.gt(a, b)), [0, 0, g(1, 0), 1, 0, 1]);
    assert.equal(await arr(T.ge(a, b)), [0, 1, g(1, 0), 1, 0, 1]);
    assert.equal(await arr(T.eq(a, T.tensor([0], [1], { device }))), [0, 0, 0, 0, 1, 0]);
    assert.equal(await arr(T.ne(a, a)), [0, 0, g(0, 1), 0, 0, 0]);
  });

  test(`${RUNTIME}: ${device}: where picks from a or b and broadcasts all three`, async () => {
    const x = T.tensor([-1, 2, -3, 4, -5, 6], [2, 3], { device });
    const zero = T.zeros([], { device });
    const relu = T.where(T.gt(x, zero), x, zero);
    assert.is(relu.dtype, 'f32');
    assert.equal(await arr(relu), [0, 2, 0, 4, 0, 6]);
    const cond = T.tensor([true, false], [2, 1], { device });
    const w = T.where(cond, T.tensor([1, 2, 3], [3], { device }), T.tensor([-1], [1, 1], { device }));
    assert.equal(w.shape, [2, 3]);
    assert.equal(await arr(w), [1, 2, 3, -1, -1, -1]);
  });
}

test(`${RUNTIME}: elementwise ops refuse wrong dtypes and shapes with typed errors`, () => {
  const f = T.zeros([2, 3]), i = T.zeros([2, 3], { dtype: 'i32' }), b = T.tensor([true, false, true]);
  assert.throws(() => T.exp(i), is(T.DTypeError, /exp: dtype i32 is not supported \(supported: f32, f16\)/));
  assert.throws(() => T.pow(T.zeros([2, 3], { dtype: 'f16' }), f), is(T.DTypeError, /pow: inputs mix dtypes f16 and f32/));
  assert.throws(() => T.pow(f, i), is(T.DTypeError, /pow: dtype i32/));
  assert.throws(() => T.lt(b, b), is(T.DTypeError, /lt: dtype bool is not supported \(supported: f32\)/));
  assert.throws(() => T.where(f, f, f), is(T.DTypeError, /where: dtype f32 is not supported for argument 0 \(supported: bool\)/));
  assert.throws(() => T.where(b, i, f), is(T.DTypeError, /where: dtype i32 is not supported for argument 1 \(supported: f32\)/));
  assert.throws(() => T.sub(f, T.zeros([4])), is(T.ShapeError, /sub: shapes \[2, 3\] and \[4\] cannot be broadcast/));
  assert.throws(() => T.ge(f, T.zeros([2, 2])), is(T.ShapeError, /ge: shapes \[2, 3\] and \[2, 2\]/));
  assert.throws(() => T.where(T.tensor([true, false]), f, f), is(T.ShapeError, /where: shapes \[2\], \[2, 3\], \[2, 3\] cannot be broadcast/));
  assert.throws(() => T.maximum(f, null as never), is(T.TandemError, /maximum: argument 1 is not a Tensor/));
});

test(`${RUNTIME}: cpu: the new ops free what they allocate`, async () => {
  const { backendFor } = await import('../src/runtime.ts');
  const cpu = backendFor('cpu', 'test') as unknown as { bytesInUse: number };
  const base = cpu.bytesInUse;
  for (let k = 0; k < 5; k++) {
    const x = T.randn([33, 17], { seed: k });
    const ax = T.abs(x), nx = T.neg(x);
    const ts = [ax, nx, T.gelu(x), T.pow(ax, x), T.lt(x, nx), T.cast(x, 'f16')];
    ts.push(T.where(ts[4], x, ts[2]));
    await ts[6].data();
    for (const t of [x, ...ts]) t.dispose();
  }
  assert.is(cpu.bytesInUse, base);
});

test.run();
