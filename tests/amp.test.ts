/**
 * Mixed precision through the API. GradScaler with grads set by hand as backward() of a
 * scaled loss would leave them (scale * g): clean steps update the params exactly as the
 * optimizer would with g and grow the scale after growthInterval clean steps; an injected
 * inf or NaN skips the step (params and optimizer step count unchanged), halves the scale and
 * restarts the growth count; on the gpu the decision arrives later and the next scale(loss) is
 * pending until it does. autocast: the op-level dtype policy (f16 matmul/linear, f32
 * reductions/softmax/losses, promotion of mixed inputs), switched off after the region, and
 * an MLP's autocast forward matching its f32 forward within f16 tolerance on both engines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const fr = Math.fround;

for (const device of devices) {
  test(`${RUNTIME}: ${device}: GradScaler steps with unscaled grads, skips on inf/NaN, backs off and grows`, async () => {
    const n = 13, p0 = randomData(n, 1);
    const p = T.nn.parameter(T.tensor(p0, [n], { device }));
    const opt = new T.optim.SGD([p], { lr: 0.1 });
    const scaler = new T.amp.GradScaler({ initScale: 2 ** 10, growthInterval: 3 });
    const want = Array.from(p0);
    // Per step: null = clean, else the index poisoned and its value.
    const plan: ([number, number] | null)[] = [null, null, [12, Infinity], null, null, null, [0, NaN], [5, -Infinity], null];
    const scales: number[] = [];
    for (const [s, bad] of plan.entries()) {
      const scale = await scaler.sync();
      scales.push(scale);
      const g = randomData(n, 10 + s);
      const scaled = g.map((v) => v * scale);
      if (bad) scaled[bad[0]] = bad[1];
      T.tidy(() => {
        opt.zeroGrad();
        p.grad = T.tensor(scaled, [n], { device });
        scaler.step(opt);
        scaler.update();
      });
      const before = Array.from(want);
      if (!bad) for (let i = 0; i < n; i++) want[i] = fr(want[i] - fr(fr(0.1) * g[i])); // scale is a power of 2: unscaling is exact
      const got = Array.from(await p.data());
      if (bad) assert.equal(got, before, `step ${s}: ${bad[1]} at ${bad[0]}: skipped, params unchanged`);
      else got.forEach((v, i) => assert.ok(Math.abs(v - want[i]) <= 1e-6 * Math.max(1, Math.abs(want[i])), `step ${s}: param ${i} = ${v}, expected ${want[i]}`));
      want.splice(0, n, ...got);
    }
    scales.push(await scaler.sync());
    // 2^10; x2 after 3 clean; inf: /2; 3 clean: x2; NaN, -inf: /2, /2; one clean.
    assert.equal(scales, [1024, 1024, 1024, 512, 512, 512, 1024, 512, 256, 256]);
    assert.is(scaler.getScale(), 256);
    opt.dispose();
    p.dispose();
  });

  test(`${RUNTIME}: ${device}: a skipped step does not advance Adam's step count; scale(loss) multiplies by the pending scale`, async () => {
    const p = T.nn.parameter(T.tensor([1, -2, 3], [3], { device }));
    const opt = new T.optim.Adam([p], { lr: 0.1 });
    const scaler = new T.amp.GradScaler();
    assert.is(scaler.getScale(), 65536);
    p.grad = T.tensor([1, NaN, 1], [3], { device });
    scaler.step(opt);
    scaler.update();
    // Issued before the overflow is known on the gpu: the scalar it multiplies by waits for the decision.
    const loss = T.tensor([3], [], { device });
    const scaled = scaler.scale(loss);
    assert.equal(Array.from(await scaled.data()), [3 * 32768]);
    assert.equal(Array.from(await p.data()), [1, -2, 3]);
    p.grad.dispose();
    p.grad = T.tensor([32768, -32768, 0], [3], { device });
    scaler.step(opt);
    scaler.update();
    // Adam's first step moves each param by lr * sign(g) (0 for a zero grad).
    const moved = await p.data();
    [0.9, -1.9, 3].forEach((w, i) => assert.ok(Math.abs(moved[i] - w) <= 1e-6, `param ${i} = ${moved[i]}, expected ${w}`));
    const sd = opt.stateDict();
    assert.equal(Array.from(await sd['state.0.step'].data<'i32'>()), [1]);
    assert.is(await scaler.sync(), 32768);
    for (const t of [loss, scaled, sd['state.0.step'], p.grad]) t.dispose();
    opt.dispose();
    p.dispose();
  });
}

test(`${RUNTIME}: GradScaler: unscale_ before clipping, misuse is a typed error, enabled: false is a pass-through`, async () => {
  const p = T.nn.parameter(T.tensor([0, 0]));
  const opt = new T.optim.SGD([p], { lr: 1 });
  const scaler = new T.amp.GradScaler({ initScale: 4 });
  assert.throws(() => scaler.update(), (e: unknown) => e instanceof T.TandemError);
  p.grad = T.tensor([12, 16]); // unscaled: [3, 4], norm 5
  scaler.unscale_(opt);
  assert.throws(() => scaler.unscale_(opt), (e: unknown) => e instanceof T.TandemError);
  const norm = T.optim.clipGradNorm([p], 1);
  assert.ok(Math.abs((await norm.data())[0] - 5) < 1e-5);
  scaler.step(opt);
  assert.throws(() => scaler.step(opt), (e: unknown) => e instanceof T.TandemError);
  scaler.update();
  const got = await p.data();
  assert.ok(Math.abs(got[0] + 0.6) < 1e-5 && Math.abs(got[1] + 0.8) < 1e-5, `clipped step: ${got}`);
  const off = new T.amp.GradScaler({ enabled: false });
  const l = T.tensor([2]);
  assert.is(off.scale(l), l);
  assert.throws(() => new T.amp.GradScaler({ backoffFactor: 2 }), (e: unknown) => e instanceof T.TandemError);
  for (const t of [norm, l, p.grad!, p]) t.dispose();
});

test(`${RUNTIME}: autocast policy: f16 matmul and linear, f32 softmax/reductions/losses, mixed inputs promoted; off after the region`, () => {
  T.tidy(() => {
    const a = T.randn([4, 6], { seed: 1 }), b = T.randn([6, 3], { seed: 2 }), bias = T.randn([3], { seed: 3 });
    const h = T.tensor([1, 2, 3], [3], { dtype: 'f16' }), f = T.tensor([1, 2, 3]);
    assert.throws(() => T.add(h, f), (e: unknown) => e instanceof T.DTypeError, 'no implicit promotion outside autocast');
    T.autocast({ dtype: 'f16' }, () => {
      assert.is(T.matmul(a, b).dtype, 'f16');
      assert.is(T.linear(a, T.transpose(b), bias).dtype, 'f16');
      assert.is(T.linear(a, T.transpose(b)).dtype, 'f16');
      const logits = T.matmul(a, b);
      assert.is(T.relu(logits).dtype, 'f16', 'elementwise ops keep their dtype');
      assert.is(T.softmax(logits).dtype, 'f32');
      assert.is(T.logSoftmax(logits).dtype, 'f32');
      assert.is(T.sum(logits).dtype, 'f32');
      assert.is(T.mean(logits, 0).dtype, 'f32');
      assert.is(T.add(h, f).dtype, 'f32');
      assert.is(T.nn.crossEntropy(logits, T.tensor(Int32Array.of(0, 1, 2, 0))).dtype, 'f32');
      assert.is(T.nn.mseLoss(h, h).dtype, 'f32');
      assert.is(T.autocast({ enabled: false }, () => T.matmul(a, b)).dtype, 'f32', 'a disabled inner region');
      assert.is(T.matmul(a, b).dtype, 'f16', 'the outer region again');
    });
    assert.is(T.matmul(a, b).dtype, 'f32');
    assert.throws(() => T.autocast({}, () => { throw new Error('boom'); }), /boom/);
    assert.is(T.matmul(a, b).dtype, 'f32', 'off after a throw');
    assert.throws(() => T.autocast({}, () => Promise.resolve(1)), (e: unknown) => e instanceof T.TandemError);
    assert.throws(() => T.autocast({ dtype: 'f32' as 'f16' }, () => 1), (e: unknown) => e instanceof T.TandemError);
  });
});

for (const device of devices) {
  test(`${RUNTIME}: ${device}: an MLP + cross-entropy under autocast matches f32 within f16 tolerance`, async () => {
    const model = new T.nn.Sequential(new T.nn.Linear(37, 64, { seed: 1 }), new T.nn.GELU(), new T.nn.Linear(64, 10, { seed: 2 })).to(device);
    const x = T.randn([9, 37], { seed: 5, device }), y = T.tensor(Int32Array.from({ length: 9 }, (_, i) => i % 10), [9], { device });
    const [full, half, lossFull, lossHalf] = T.tidy(() => {
      const out = model.forward(x);
      const [o16, l16] = T.autocast({ dtype: 'f16' }, () => { const o = model.forward(x); return [o, T.nn.crossEntropy(o, y)]; });
      return [out, o16, T.nn.crossEntropy(out, y), l16];
    });
    assert.is(half.dtype, 'f16');
    assert.is(lossHalf.dtype, 'f32');
    const a = await full.data(), b = await half.data();
    // f16 inputs (rel. error 2^-11 each) over k = 37 and 64 terms of size ~1: errors ~1e-2 at worst.
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-2 + 1e-2 * Math.abs(a[i]), `logit ${i}: ${b[i]} vs ${a[i]}`);
    const [lf] = await lossFull.data(), [lh] = await lossHalf.data();
    assert.ok(Math.abs(lf - lh) <= 1e-2 * Math.abs(lf), `loss ${lh} vs ${lf}`);
    for (const t of [full, half, lossFull, lossHalf, x, y]) t.dispose();
    model.dispose();
  });
}

test.run();
