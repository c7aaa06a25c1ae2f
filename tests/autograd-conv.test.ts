/**
 * Autograd through the window ops: conv2d (bias, fused relu, stride, padding, dilation, groups)
 * and maxPool2d against central differences on 'ref' in its f64 mode, then the same rules on
 * 'cpu' and 'gpu' against 'ref', and a conv -> pool -> linear chain end to end.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { gradcheck, type GradcheckInput } from '../src/autograd/gradcheck.ts';
import { REQUIRE_GPU, RUNTIME, info, mismatch, randomData } from './harness.ts';

const numel = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
let seed = 500;
const inp = (shape: number[]): GradcheckInput => ({ data: randomData(numel(shape), seed++), shape });
/** Distinct values (a shuffled ramp), so max pooling has no near-ties that central differences would straddle. */
const ramp = (shape: number[]): GradcheckInput => {
  const n = numel(shape), r = randomData(n, seed++);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => r[a] - r[b]);
  const data = new Array<number>(n);
  order.forEach((k, i) => { data[k] = (i - n / 2) * 0.05; });
  return { data, shape };
};

async function check(name: string, f: (...x: T.Tensor[]) => T.Tensor, inputs: GradcheckInput[]) {
  const r = await gradcheck(f, inputs);
  if (r.failure) assert.unreachable(`${name}: ${r.failure}`);
}

test(`${RUNTIME}: gradcheck: conv2d (bias, relu, stride, padding, dilation, groups)`, async () => {
  await check('1x1', (x, w) => T.conv2d(x, w), [inp([1, 1, 3, 3]), inp([2, 1, 1, 1])]);
  await check('3x3 pad 1 bias', (x, w, b) => T.conv2d(x, w, b, { padding: 1 }), [inp([2, 3, 5, 4]), inp([4, 3, 3, 3]), inp([4])]);
  await check('stride 2 dilation 2', (x, w) => T.conv2d(x, w, null, { stride: 2, dilation: 2, padding: 2 }), [inp([1, 2, 7, 6]), inp([3, 2, 3, 3])]);
  await check('groups 2, 3x1', (x, w, b) => T.conv2d(x, w, b, { groups: 2, padding: [1, 0] }), [inp([1, 4, 5, 5]), inp([2, 2, 3, 1]), inp([2])]);
  // relu's kink: a large positive bias keeps every pre-activation away from 0.
  await check('fused relu', (x, w, b) => T.conv2d(x, w, b, { activation: 'relu' }), [inp([1, 2, 4, 4]), inp([2, 2, 2, 2]), { data: [9, 9], shape: [2] }]);
});

test(`${RUNTIME}: gradcheck: maxPool2d (overlapping windows, padding)`, async () => {
  await check('2x2', (x) => T.maxPool2d(x, 2), [ramp([2, 3, 4, 5])]);
  await check('3x3 stride 2 pad 1', (x) => T.maxPool2d(x, 3, { stride: 2, padding: 1 }), [ramp([1, 2, 7, 6])]);
});

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];

/** Gradients of sum(w * f(inputs)) on `device` against 'ref', per input. */
async function gradsAgree(device: T.Device, name: string, f: (...x: T.Tensor[]) => T.Tensor, inputs: GradcheckInput[]) {
  const grads = async (d: T.Device) => {
    const xs = inputs.map((x) => { const t = T.tensor(Float32Array.from(x.data), x.shape, { device: d }); t.requiresGrad = true; return t; });
    T.tidy(() => { const y = f(...xs); y.backward(T.tensor(randomData(y.size, 77), y.shape, { device: d })); });
    const out = await Promise.all(xs.map((x) => x.grad!.data()));
    xs.forEach((x) => x.dispose());
    return out;
  };
  const got = await grads(device), want = await grads('ref');
  want.forEach((w, i) => {
    const bad = mismatch(got[i], w, null, 1e-4, 1e-3);
    if (bad) assert.unreachable(`${device} ${name}, input ${i}: ${bad}`);
  });
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: conv2d and maxPool2d gradients equal the reference's`, async () => {
    for (const c of [1, 3, 5]) {
      await gradsAgree(device, `conv C=${c}`, (x, w, b) => T.conv2d(x, w, b, { padding: 1, activation: 'relu' }), [inp([2, c, 6, 5]), inp([4, c, 3, 3]), inp([4])]);
      await gradsAgree(device, `pool C=${c}`, (x) => T.maxPool2d(x, 2), [ramp([2, c, 6, 4])]);
    }
  });
}

test(`${RUNTIME}: a conv -> relu -> pool -> linear chain trains its loss down on the cpu`, async () => {
  const x = T.tensor(randomData(4 * 1 * 8 * 8, 3), [4, 1, 8, 8]);
  const y = T.tensor([0, 1, 2, 1], [4], { dtype: 'i32' });
  const w = T.keep(T.randn([3, 1, 3, 3], { seed: 4 })), fc = T.keep(T.randn([3, 3 * 4 * 4], { seed: 5 }));
  w.requiresGrad = fc.requiresGrad = true;
  const loss = () => T.tidy(() => {
    const h = T.maxPool2d(T.conv2d(x, w, null, { padding: 1, activation: 'relu' }), 2);
    return T.crossEntropy(T.linear(T.reshape(h, [4, -1]), fc), y);
  });
  const first = (await loss().data())[0];
  const opt = new T.optim.SGD([w, fc], { lr: 0.05 });
  for (let i = 0; i < 30; i++) T.tidy(() => { const l = loss(); opt.zeroGrad(); l.backward(); opt.step(); });
  const last = (await loss().data())[0];
  assert.ok(last < first * 0.5, `loss ${first} -> ${last}`);
  opt.dispose(); w.dispose(); fc.dispose(); x.dispose(); y.dispose();
});

test(`${RUNTIME}: conv2d under autocast computes in f32 (no f16 conv path) and its gradients reach the f32 weights`, async () => {
  const x = T.tensor(randomData(2 * 2 * 5 * 5, 8), [2, 2, 5, 5]);
  const w = T.keep(T.randn([3, 2, 3, 3], { seed: 9 }));
  w.requiresGrad = true;
  const plain = await T.conv2d(x, w, null, { padding: 1 }).data();
  const y = T.autocast({ dtype: 'f16' }, () => T.conv2d(x, w, null, { padding: 1 }));
  assert.is(y.dtype, 'f32');
  assert.equal([...await y.data()], [...plain]);
  T.tidy(() => T.sum(y).backward());
  assert.equal(w.grad!.shape, [3, 2, 3, 3]);
  y.dispose(); x.dispose(); w.grad!.dispose(); w.dispose();
});

test.run();
