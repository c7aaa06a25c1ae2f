/**
 * Optimizers through the API, grads set by hand (the contract autograd fills in): SGD with
 * every option, Adam and AdamW over several steps on both engines, against the update
 * equations of PyTorch's documentation written out here in f64 with each stored tensor
 * rounded to f32. Also: params without grads are skipped, lr changes between steps take
 * effect, state survives tidy and is freed by dispose(), state dicts round-trip through
 * T.save/T.load, clipGradNorm against a plain-JS global norm, and the LR schedules against
 * values from PyTorch's definitions.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const fr = Math.fround;
/** Param sizes: 1, primes and every tail of 4 (and a 2-D one). */
const SHAPES = [[1], [2], [3], [4], [5], [7], [4, 5], [17], [33]];
const STEPS = 5;

interface Ref { p: number[]; s: number[][]; step: number }
type Update = (r: Ref, g: number[], lr: number) => void;

/** torch.optim.SGD's documented algorithm. */
const sgdRef = (mu: number, tau: number, nesterov: boolean, wd: number): Update => (r, g, lr) => {
  r.step++;
  if (mu !== 0) r.s[0] ??= [];
  for (let i = 0; i < r.p.length; i++) {
    let d = g[i];
    if (wd !== 0) d += wd * r.p[i];
    if (mu !== 0) {
      r.s[0][i] = fr(r.step > 1 ? mu * r.s[0][i] + (1 - tau) * d : d);
      d = nesterov ? d + mu * r.s[0][i] : r.s[0][i];
    }
    r.p[i] = fr(r.p[i] - lr * d);
  }
};
/** torch.optim.Adam / AdamW's documented algorithms. */
const adamRef = (b1: number, b2: number, eps: number, wd: number, decoupled: boolean): Update => (r, g, lr) => {
  const t = ++r.step;
  r.s[0] ??= new Array(r.p.length).fill(0);
  r.s[1] ??= new Array(r.p.length).fill(0);
  const [m, v] = r.s;
  for (let i = 0; i < r.p.length; i++) {
    let d = g[i];
    if (decoupled) r.p[i] = fr(r.p[i] * (1 - lr * wd));
    else if (wd !== 0) d += wd * r.p[i];
    m[i] = fr(b1 * m[i] + (1 - b1) * d);
    v[i] = fr(b2 * v[i] + (1 - b2) * d * d);
    r.p[i] = fr(r.p[i] - (lr * m[i]) / (1 - b1 ** t) / (Math.sqrt(v[i] / (1 - b2 ** t)) + eps));
  }
};

const CASES: [string, (ps: T.Tensor[]) => T.optim.Optimizer, Update][] = [
  ['SGD plain', (ps) => new T.optim.SGD(ps, { lr: 0.1 }), sgdRef(0, 0, false, 0)],
  ['SGD weight decay', (ps) => new T.optim.SGD(ps, { lr: 0.1, weightDecay: 0.05 }), sgdRef(0, 0, false, 0.05)],
  ['SGD momentum + dampening', (ps) => new T.optim.SGD(ps, { lr: 0.05, momentum: 0.9, dampening: 0.3, weightDecay: 0.01 }), sgdRef(0.9, 0.3, false, 0.01)],
  ['SGD nesterov', (ps) => new T.optim.SGD(ps, { lr: 0.02, momentum: 0.8, nesterov: true, weightDecay: 1e-3 }), sgdRef(0.8, 0, true, 1e-3)],
  ['Adam', (ps) => new T.optim.Adam(ps, { lr: 1e-2 }), adamRef(0.9, 0.999, 1e-8, 0, false)],
  ['Adam L2', (ps) => new T.optim.Adam(ps, { lr: 1e-2, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1 }), adamRef(0.8, 0.99, 1e-6, 0.1, false)],
  ['AdamW', (ps) => new T.optim.AdamW(ps, { lr: 1e-2, weightDecay: 0.1 }), adamRef(0.9, 0.999, 1e-8, 0.1, true)],
  ['AdamW default decay', (ps) => new T.optim.AdamW(ps, { lr: 3e-2 }), adamRef(0.9, 0.999, 1e-8, 0.01, true)],
];

function close(got: Float32Array, want: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 3e-6 + 3e-6 * Math.abs(want[i]))) assert.unreachable(`${what}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

const grad = (n: number, step: number, k: number) => randomData(n, 97 * step + 13 * k + n);

for (const device of devices) {
  for (const [name, make, update] of CASES) {
    test(`${RUNTIME}: ${device}: ${name} over ${STEPS} steps matches PyTorch's equations (lr changed at step 3, one param without grad)`, async () => {
      const init = SHAPES.map((s, k) => randomData(s.reduce((a, b) => a * b, 1), 7 * k + 1));
      const ps = SHAPES.map((s, k) => T.nn.parameter(T.tensor(init[k], s, { device })));
      const refs: Ref[] = init.map((v) => ({ p: Array.from(v), s: [], step: 0 }));
      const opt = make(ps);
      for (let step = 1; step <= STEPS; step++) {
        if (step === 3) opt.lr *= 0.5;
        T.tidy(() => {
          ps.forEach((p, k) => {
            if (k === 2 && step % 2 === 0) return; // no grad this step: skipped, and its step count does not advance
            const g = grad(p.size, step, k);
            p.grad = T.tensor(g, p.shape, { device }); // made in tidy: disposed when it ends, after the update was issued
            update(refs[k], Array.from(g), opt.lr);
          });
          opt.step();
          opt.zeroGrad();
        });
      }
      for (const [k, p] of ps.entries()) close(await p.data(), refs[k].p, `${name} param ${k} [${p.shape}]`);
      // State: live buffers named state.{i}.{buffer}, matching the reference's.
      const sd = opt.stateDict();
      for (const [k, r] of refs.entries()) {
        assert.is((await sd[`state.${k}.step`].data<'i32'>())[0], r.step, `param ${k} step count`);
        for (const [j, s] of r.s.entries()) {
          const key = Object.keys(sd).filter((n) => n.startsWith(`state.${k}.`) && !n.endsWith('.step'))[j];
          close(await sd[key].data(), s, key);
        }
      }
      for (const [n, t] of Object.entries(sd)) if (n.endsWith('.step')) t.dispose();
      opt.dispose();
      for (const p of ps) p.dispose();
    });
  }
}

test(`${RUNTIME}: optimizer state round-trips through T.save / T.load and continues identically`, async () => {
  const init = randomData(11, 5);
  const mk = () => T.nn.parameter(T.tensor(init, [11]));
  const [a, b] = [mk(), mk()];
  const oa = new T.optim.AdamW([a], { lr: 0.05 }), ob = new T.optim.AdamW([b], { lr: 0.05 });
  const stepWith = (p: T.Tensor, o: T.optim.Optimizer, s: number) => { p.grad = T.tensor(grad(11, s, 0), [11]); o.step(); o.zeroGrad(); };
  for (let s = 1; s <= 3; s++) stepWith(a, oa, s);
  const bytes = await T.save(oa.stateDict());
  const loaded = T.load(bytes);
  // b's params copied from a, then a's optimizer state: from here both must move identically.
  b.dispose();
  const b2 = T.nn.parameter(T.tensor(await a.data(), [11]));
  const ob2 = new T.optim.AdamW([b2], { lr: 0.05 });
  await ob2.loadStateDict(loaded);
  for (let s = 4; s <= 6; s++) { stepWith(a, oa, s); stepWith(b2, ob2, s); }
  assert.equal(Array.from(await b2.data()), Array.from(await a.data()));
  try {
    await ob2.loadStateDict({ ...loaded, 'state.9.exp_avg': loaded['state.0.exp_avg'] });
    assert.unreachable('an unexpected key must be refused');
  } catch (e) {
    assert.instance(e, T.TandemError);
  }
  for (const t of Object.values(loaded)) t.dispose();
  for (const o of [oa, ob, ob2]) o.dispose();
  for (const p of [a, b2]) p.dispose();
});

test(`${RUNTIME}: optimizer state is kept out of tidy and freed by dispose(); bad input is a typed error`, async () => {
  const before = T.memoryStats().cpu.liveTensors;
  const p = T.nn.parameter(T.tensor([1, 2, 3]));
  const opt = T.tidy(() => {
    const o = new T.optim.Adam([p]);
    p.grad = T.tensor([1, 1, 1]);
    o.step();
    return o;
  });
  assert.is(T.memoryStats().cpu.liveTensors, before + 3, 'param + exp_avg + exp_avg_sq (the grad went with the scope)');
  assert.throws(() => opt.step(), (e: unknown) => e instanceof T.DisposedError, 'the grad went with the scope');
  p.grad = null;
  opt.step(); // no grad: nothing to do
  p.grad = T.tensor([1, 2]);
  assert.throws(() => opt.step(), (e: unknown) => e instanceof T.ShapeError);
  p.grad.dispose();
  p.grad = T.tensor([1, 2, 3], [3], { dtype: 'f16' });
  assert.throws(() => opt.step(), (e: unknown) => e instanceof T.DTypeError);
  opt.zeroGrad();
  assert.is(p.grad, null);
  opt.dispose();
  p.dispose();
  assert.is(T.memoryStats().cpu.liveTensors, before);
  assert.throws(() => new T.optim.SGD([T.tensor([1], [1], { dtype: 'f16' })]), (e: unknown) => e instanceof T.DTypeError);
  assert.throws(() => new T.optim.SGD([], { lr: 1 }), (e: unknown) => e instanceof T.TandemError);
  assert.throws(() => new T.optim.SGD([T.tensor([1])], { lr: -1 }), (e: unknown) => e instanceof T.TandemError);
  assert.throws(() => new T.optim.SGD([T.tensor([1])], { nesterov: true }), (e: unknown) => e instanceof T.TandemError);
  assert.throws(() => new T.optim.Adam([T.tensor([1])], { betas: [1, 0.9] }), (e: unknown) => e instanceof T.TandemError);
});

if (devices.includes('gpu')) {
  test(`${RUNTIME}: one optimizer over params on both engines updates each on its own device`, async () => {
    const pc = T.nn.parameter(T.tensor([1, 2, 3], [3], { device: 'cpu' })), pg = T.nn.parameter(T.tensor([4, 5], [2], { device: 'gpu' }));
    const opt = new T.optim.SGD([pc, pg], { lr: 0.5, momentum: 0.9 });
    for (let s = 0; s < 2; s++) {
      pc.grad = T.tensor([1, 1, 1], [3], { device: 'cpu' });
      pg.grad = T.tensor([2, 2], [2], { device: 'cpu' }); // a grad on the other engine is copied over
      opt.step();
      opt.zeroGrad();
    }
    // Step 1: buf = g, p -= 0.5 g; step 2: buf = 0.9 g + g, p -= 0.5 * 1.9 g: total 1.45 g.
    assert.equal(Array.from(await pc.data()), [1, 2, 3].map((v) => fr(fr(v - 0.5) - fr(0.5 * fr(1.9)))));
    assert.equal(Array.from(await pg.data()), [4, 5].map((v) => fr(fr(v - 1) - fr(0.5 * fr(3.8)))));
    assert.is(pg.device, 'gpu');
    opt.dispose(); pc.dispose(); pg.dispose();
  });
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: clipGradNorm scales every grad by maxNorm / (norm + 1e-6) only when the global norm exceeds maxNorm`, async () => {
    for (const maxNorm of [0.5, 1e6]) {
      const shapes = [[1], [5], [4, 4], [17]];
      const gs = shapes.map((s, k) => randomData(s.reduce((a, b) => a * b, 1), k + 3));
      const ps = shapes.map((s, k) => { const p = T.nn.parameter(T.zeros(s, { device: k % 2 === 1 && devices.includes('gpu') ? 'gpu' : device })); p.grad = T.keep(T.tensor(gs[k], s, { device: p.device })); return p; });
      const norm = Math.sqrt(gs.reduce((a, g) => a + g.reduce((x, v) => x + v * v, 0), 0));
      const coef = Math.min(1, maxNorm / (norm + 1e-6));
      const got = T.optim.clipGradNorm(ps, maxNorm);
      assert.ok(Math.abs((await got.data())[0] - norm) <= 1e-5 * norm, `norm ${(await got.data())[0]} vs ${norm}`);
      for (const [k, p] of ps.entries()) close(await p.grad!.data(), Array.from(gs[k], (v) => v * coef), `maxNorm ${maxNorm} grad ${k}`);
      got.dispose();
      for (const p of ps) { p.grad!.dispose(); p.dispose(); }
    }
  });
}

test(`${RUNTIME}: LR schedules follow PyTorch's definitions`, () => {
  const opt = () => new T.optim.SGD([T.nn.parameter(T.tensor([0]))], { lr: 1 });
  const run = (s: T.optim.LRScheduler, n: number) => {
    const out = [s.optimizer.lr];
    for (let i = 0; i < n; i++) { s.step(); out.push(s.getLastLr()); }
    s.optimizer.params[0].dispose();
    return out.map((v) => Number(v.toFixed(6)));
  };
  assert.equal(run(new T.optim.StepLR(opt(), { stepSize: 2, gamma: 0.5 }), 5), [1, 1, 0.5, 0.5, 0.25, 0.25]);
  // cos(pi t / 4): 1, 0.853553, 0.5, 0.146447, 0, then held at etaMin.
  assert.equal(run(new T.optim.CosineAnnealingLR(opt(), { tMax: 4 }), 5), [1, 0.853553, 0.5, 0.146447, 0, 0]);
  assert.equal(run(new T.optim.CosineAnnealingLR(opt(), { tMax: 2, etaMin: 0.1 }), 2), [1, 0.55, 0.1]);
  assert.equal(run(new T.optim.LinearLR(opt(), { startFactor: 0.25, totalIters: 3 }), 4), [0.25, 0.5, 0.75, 1, 1]);
  const o = opt();
  const warm = new T.optim.SequentialLR(o, [new T.optim.LinearLR(o, { startFactor: 0.5, totalIters: 2 }), new T.optim.CosineAnnealingLR(o, { tMax: 2 })], [2]);
  assert.equal(run(warm, 5), [0.5, 0.75, 1, 0.5, 0, 0]);
  assert.throws(() => new T.optim.StepLR(opt(), { stepSize: 0 }), (e: unknown) => e instanceof T.TandemError);
});

test.run();
