/** Bad input gets a typed error that names the problem; nothing crashes. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { RUNTIME, info, throwsTyped } from './harness.ts';


test(`${RUNTIME}: errors: shapes that are not shapes`, () => {
  throwsTyped(() => T.zeros([2, NaN]), T.ShapeError, /zeros: shape \[2, NaN\] has an invalid dimension NaN/);
  throwsTyped(() => T.zeros([Infinity]), T.ShapeError, /invalid dimension Infinity/);
  throwsTyped(() => T.zeros([-1, 2]), T.ShapeError, /invalid dimension -1/);
  throwsTyped(() => T.zeros([1.5]), T.ShapeError, /invalid dimension 1\.5/);
  throwsTyped(() => T.ones('3' as never), T.ShapeError, /shape must be an array/);
  throwsTyped(() => T.zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]), T.ShapeError, /rank 9 exceeds the maximum of 8/);
});

test(`${RUNTIME}: errors: data that does not match its shape`, () => {
  throwsTyped(() => T.tensor([1, 2, 3, 4, 5], [2, 3]), T.ShapeError, /data has 5 elements but shape \[2, 3\] needs 6/);
  throwsTyped(() => T.tensor([1, 'x' as never]), T.TandemError, /data\[1\] is string/);
  throwsTyped(() => T.tensor({} as never), T.TandemError, /typed array or an array/);
});

test(`${RUNTIME}: errors: unknown dtype and device`, () => {
  throwsTyped(() => T.zeros([2], { dtype: 'float64' as never }), T.DTypeError, /unknown dtype "float64"; supported: f32/);
  throwsTyped(() => T.tensor([1], [1], { device: 'tpu' as never }), T.DeviceError, /unknown device "tpu"/);
});

test(`${RUNTIME}: errors: ops on shapes that do not fit`, () => {
  const a = T.zeros([2, 3]), b = T.zeros([4, 5]);
  throwsTyped(() => T.add(a, b), T.ShapeError, /add: shapes \[2, 3\] and \[4, 5\] cannot be broadcast/);
  throwsTyped(() => T.matmul(a, b), T.ShapeError, /matmul: inner dimensions differ: \[2, 3\] @ \[4, 5\]/);
  throwsTyped(() => T.matmul(a, T.zeros([4])), T.ShapeError, /matmul: inner dimensions differ: \[2, 3\] @ \[4\] \(3 vs 4\)/);
  throwsTyped(() => T.matmul(a, T.zeros([])), T.ShapeError, /matmul: operands need at least one dimension/);
  throwsTyped(() => T.sum(a, 2), T.ShapeError, /sum: axis 2 is out of range for rank 2/);
  throwsTyped(() => T.sum(a, -3), T.ShapeError, /axis -3/);
  throwsTyped(() => T.add(a, null as never), T.TandemError, /add: argument 1 is not a Tensor/);
});

test(`${RUNTIME}: errors: mixing devices without to() (ref never mixes; cpu and gpu do unless placement is 'manual', see sched.test.ts)`, () => {
  const a = T.zeros([2], { device: 'cpu' });
  const b = T.zeros([2], { device: 'ref' });
  throwsTyped(() => T.add(a, b), T.DeviceError, /add: inputs are on different devices \(cpu, ref\)/);
});

test(`${RUNTIME}: errors: init options`, async () => {
  try {
    await T.init({ gpu: 'yes' as never });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, T.TandemError);
    assert.match((e as Error).message, /gpu must be 'auto', true or false/);
  }
  try {
    await T.init({ wasm: new Uint8Array(4) as never });
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /options.wasm must be a WebAssembly.Module/);
  }
});

test(`${RUNTIME}: errors: allocations no device can hold are typed, and leave the device usable`, async () => {
  throwsTyped(() => T.zeros([1 << 20, 1 << 11]), T.OutOfMemoryError, /cpu: cannot grow Wasm memory by \d+ bytes/);
  if (info.gpu) throwsTyped(() => T.zeros([1 << 20, 1 << 12], { device: 'gpu' }), T.OutOfMemoryError, /gpu: a buffer of 17179869184 bytes exceeds/);
  for (const device of info.gpu ? ['cpu', 'gpu'] as const : ['cpu'] as const) {
    assert.equal(Array.from(await T.add(T.ones([3], { device }), T.ones([3], { device })).data()), [2, 2, 2]);
  }
});

test.run();
