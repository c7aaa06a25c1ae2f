/**
 * End to end with autograd: modules + loss + backward() + optimizer. An MLP learns a small
 * separable problem with each optimizer; the loop (tidy, autocast, GradScaler) runs
 * as written; an overflow injected through the input skips the step (params unchanged) and
 * halves the scale, clean steps grow it after growthInterval; gradients under autocast match
 * the f32 gradients within f16 tolerance; and Linear/attention gradients match the same
 * model's gradients on the 'ref' backend.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const nn = T.nn;

/** 64 points in 2-D, label 1 where x0 + 2 x1 > 0.2 (linearly separable), as [x, y] on `device`. */
function problem(device: T.Device): [T.Tensor, T.Tensor, Int32Array] {
  const n = 64, x = randomData(2 * n, 42);
  const labels = Int32Array.from({ length: n }, (_, i) => (x[2 * i] + 2 * x[2 * i + 1] > 0.2 ? 1 : 0));
  return [T.tensor(x, [n, 2], { device }), T.tensor(labels, [n], { device }), labels];
}
const mlp = (device: T.Device) => new nn.Sequential(new nn.Linear(2, 16, { seed: 1 }), new nn.Tanh(), new nn.Linear(16, 2, { seed: 2 })).to(device);

const OPTIMIZERS: [string, (ps: T.Tensor[]) => T.optim.Optimizer][] = [
  ['SGD + Nesterov momentum', (ps) => new T.optim.SGD(ps, { lr: 0.2, momentum: 0.9, nesterov: true })],
  ['Adam', (ps) => new T.optim.Adam(ps, { lr: 0.05 })],
  ['AdamW', (ps) => new T.optim.AdamW(ps, { lr: 0.05, weightDecay: 0.01 })],
];

for (const device of devices) {
  for (const [name, make] of OPTIMIZERS) {
    // SwiftShader runs a step in ~0.2 s: one optimizer, fewer steps at a larger lr on the gpu.
    if (device === 'gpu' && name !== 'AdamW') continue;
    const steps = device === 'gpu' ? 20 : 60;
    test(`${RUNTIME}: ${device}: an MLP learns a separable problem with ${name} in ${steps} steps`, async () => {
      const [x, y, labels] = problem(device);
      const model = mlp(device);
      const opt = make(model.parameters());
      if (device === 'gpu') opt.lr *= 2;
      const losses: number[] = [];
      for (let step = 0; step < steps; step++) {
        const loss = T.tidy(() => {
          opt.zeroGrad();
          const l = nn.crossEntropy(model.forward(x), y);
          l.backward();
          opt.step();
          return T.keep(l.detach());
        });
        if (step === 0 || step === steps - 1) losses.push((await loss.data())[0]);
        loss.dispose();
      }
      const pred = await T.tidy(() => T.argmax(model.eval().forward(x), 1)).data<'i32'>();
      const acc = pred.filter((p, i) => p === labels[i]).length / labels.length;
      assert.ok(losses[losses.length - 1] < 0.5 * losses[0], `loss ${losses.map((l) => l.toFixed(3)).join(' -> ')}`);
      assert.ok(acc >= 0.9, `accuracy ${acc}`);
      opt.dispose(); model.dispose(); x.dispose(); y.dispose();
    });
  }

  test(`${RUNTIME}: ${device}: the issue's loop: autocast + GradScaler; an inf input skips the step and halves the scale, clean steps grow it`, async () => {
    const [x, y] = problem(device);
    const bad = T.tensor(new Float32Array(128).fill(Infinity), [64, 2], { device });
    const model = mlp(device);
    const opt = new T.optim.AdamW(model.parameters(), { lr: 1e-2, weightDecay: 0.01 });
    const scaler = new T.amp.GradScaler({ growthInterval: 2 });
    const snapshot = async () => Promise.all(model.parameters().map(async (p) => Array.from(await p.data())));
    const run = (input: T.Tensor) => T.tidy(() => {
      const loss = T.autocast({ dtype: 'f16' }, () => nn.crossEntropy(model.forward(input), y));
      assert.is(loss.dtype, 'f32');
      opt.zeroGrad();
      scaler.scale(loss).backward();
      for (const p of model.parameters()) assert.ok(p.grad !== null && p.grad.dtype === 'f32' && p.grad.device === p.device, 'f32 grads on the params\' device');
      scaler.step(opt);
      scaler.update();
    });
    run(x);
    assert.is(await scaler.sync(), 65536);
    const before = await snapshot();
    run(bad);
    assert.equal(await snapshot(), before, 'overflow: params unchanged');
    assert.is(await scaler.sync(), 32768, 'overflow: scale halved');
    run(x);
    assert.not.equal(await snapshot(), before, 'a clean step moves the params');
    assert.is(await scaler.sync(), 32768);
    run(x);
    assert.is(await scaler.sync(), 65536, 'two clean steps in a row: scale doubled');
    const sd = opt.stateDict();
    assert.equal(Array.from(await sd['state.0.step'].data<'i32'>()), [3], 'the skipped step did not count');
    for (const [k, t] of Object.entries(sd)) if (k.endsWith('.step')) t.dispose();
    opt.dispose(); model.dispose(); x.dispose(); y.dispose(); bad.dispose();
  });

  test(`${RUNTIME}: ${device}: gradients under autocast match f32 gradients within f16 tolerance`, async () => {
    // The loop test's model and data: its pipelines are compiled already (SwiftShader compiles slowly).
    const model = mlp(device);
    const [x, y] = problem(device);
    const grads = async (half: boolean) => {
      T.tidy(() => {
        for (const p of model.parameters()) { p.grad?.dispose(); p.grad = null; }
        const loss = T.autocast({ enabled: half }, () => nn.crossEntropy(model.forward(x), y));
        loss.backward();
      });
      return Promise.all(model.parameters().map(async (p) => p.grad!.data()));
    };
    const full = await grads(false), half = await grads(true);
    full.forEach((g, k) => {
      const scale = Math.max(...g.map(Math.abs));
      g.forEach((v, i) => assert.ok(Math.abs(half[k][i] - v) <= 2e-2 * scale + 1e-4, `param ${k}[${i}]: ${half[k][i]} vs ${v}`));
    });
    model.dispose(); x.dispose(); y.dispose();
  });

  test(`${RUNTIME}: ${device}: attention and block gradients match the 'ref' backend's`, async () => {
    const build = (d: T.Device) => new nn.Sequential(new nn.TransformerBlock(8, 2, { causal: true, seed: 11, mlpRatio: 2 }), new nn.Linear(8, 3, { seed: 12 })).to(d);
    const xs = randomData(2 * 5 * 8, 3);
    const gradsOn = async (d: T.Device) => {
      const m = build(d);
      T.tidy(() => nn.mseLoss(m.forward(T.tensor(xs, [2, 5, 8], { device: d })), T.zeros([2, 5, 3], { device: d })).backward());
      const out = await Promise.all(m.namedParameters().map(async ([k, p]) => [k, await p.grad!.data()] as const));
      m.dispose();
      return out;
    };
    const want = await gradsOn('ref'), got = await gradsOn(device);
    for (const [k, g] of got.entries()) {
      const [name, w] = want[k];
      const scale = Math.max(1e-3, ...w.map(Math.abs));
      g[1].forEach((v, i) => assert.ok(Math.abs(v - w[i]) <= 1e-4 * scale, `${name}[${i}]: ${v} vs ${w[i]}`));
    }
  });
}

test.run();
