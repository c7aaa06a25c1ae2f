/**
 * Autograd: every gradient rule against central differences on 'ref' in its f64 mode
 * (src/autograd/gradcheck.ts), at shapes with size-1, broadcast, empty and prime dims; a
 * representative subset of rules on 'cpu' and 'gpu' against the same rules on 'ref'; then the
 * tape's semantics: accumulation, errors, grad mode, detach, ties, lifetimes (no leak with or
 * without backward), in-place detection, f16 through casts, and checkpoint.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { gradcheck, type GradcheckInput } from '../src/autograd/gradcheck.ts';
import { apply } from '../src/apply.ts';
import type { Backend, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { wasmModule } from '../src/runtime.ts';
import { REQUIRE_GPU, RUNTIME, info, mismatch, randomData, throwsTyped } from './harness.ts';

const numel = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
let seed = 1;
/** Random inputs in [-2, 2], mapped by `f` (e.g. to keep log's argument positive). */
const inp = (shape: number[], f: (v: number) => number = (v) => v): GradcheckInput => ({ data: randomData(numel(shape), seed++).map(f), shape });
const pos = (v: number) => Math.abs(v) + 0.2;
/** Away from 0 (relu, abs, division): |v| >= 0.1. */
const away = (v: number) => (v < 0 ? v - 0.1 : v + 0.1);

async function check(name: string, f: (...x: T.Tensor[]) => T.Tensor, inputs: GradcheckInput[]) {
  const r = await gradcheck(f, inputs);
  if (r.failure) assert.unreachable(`${name}: ${r.failure}`);
}


// ---- every rule against central differences (f64 on 'ref') ----

test(`${RUNTIME}: gradcheck: unary elementwise ops`, async () => {
  const shapes = [[], [1], [7], [2, 3]];
  for (const s of shapes) {
    await check('neg', T.neg, [inp(s)]);
    await check('abs', T.abs, [inp(s, away)]);
    await check('relu', T.relu, [inp(s, away)]);
    await check('exp', T.exp, [inp(s)]);
    await check('log', T.log, [inp(s, pos)]);
    await check('sqrt', T.sqrt, [inp(s, pos)]);
    await check('rsqrt', T.rsqrt, [inp(s, pos)]);
    await check('tanh', T.tanh, [inp(s)]);
    await check('sigmoid', T.sigmoid, [inp(s)]);
    await check('gelu', T.gelu, [inp(s, (v) => v * 2)]);
    await check('silu', T.silu, [inp(s, (v) => v * 2)]);
  }
});

test(`${RUNTIME}: gradcheck: binary ops with broadcasting (gradients summed over broadcast dims)`, async () => {
  const pairs: [number[], number[]][] = [[[5], [5]], [[3, 4], [4]], [[2, 1, 3], [1, 5, 1]], [[], [3]], [[1], [7]], [[3, 1], [3, 2]], [[2, 3], []]];
  for (const [a, b] of pairs) {
    await check(`add ${a} ${b}`, T.add, [inp(a), inp(b)]);
    await check(`sub ${a} ${b}`, T.sub, [inp(a), inp(b)]);
    await check(`mul ${a} ${b}`, T.mul, [inp(a), inp(b)]);
    await check(`div ${a} ${b}`, T.div, [inp(a), inp(b, away)]);
    // Distinct values (ties are tested below): b shifted by 0.05 off a's grid.
    await check(`maximum ${a} ${b}`, T.maximum, [inp(a), inp(b, (v) => v + 0.05)]);
    await check(`minimum ${a} ${b}`, T.minimum, [inp(a), inp(b, (v) => v + 0.05)]);
    await check(`pow ${a} ${b}`, T.pow, [inp(a, pos), inp(b)]);
  }
  // Only one side requires grad.
  await check('mul, a only', T.mul, [inp([3, 4]), { ...inp([4]), requiresGrad: false }]);
  await check('div, b only', T.div, [{ ...inp([3, 4]), requiresGrad: false }, inp([4], away)]);
});

test(`${RUNTIME}: gradcheck: where, with cond and operands broadcast`, async () => {
  const cond = (shape: number[]): GradcheckInput => ({ ...inp(shape, (v) => (v > 0 ? 1 : 0)), dtype: 'bool' });
  await check('where', T.where, [cond([2, 3]), inp([2, 3]), inp([2, 3])]);
  await check('where broadcast', T.where, [cond([3, 1]), inp([1, 4]), inp([])]);
});

test(`${RUNTIME}: gradcheck: matmul (transposes, batches with broadcast, 1-D operands) and linear`, async () => {
  const cases: [number[], number[], T.MatmulOptions][] = [
    [[3, 4], [4, 5], {}], [[4, 3], [4, 5], { transposeA: true }], [[3, 4], [5, 4], { transposeB: true }],
    [[4, 3], [5, 4], { transposeA: true, transposeB: true }], [[1, 1], [1, 1], {}],
    [[2, 1, 3, 4], [5, 4, 2], {}], [[2, 3, 4], [4, 5], {}], [[2, 4, 3], [4, 5], { transposeA: true }],
    [[2, 3, 4], [5, 4], { transposeB: true }], [[3, 4], [2, 4, 5], {}],
    [[4], [4, 5], {}], [[3, 4], [4], {}], [[4], [4], {}], [[4], [2, 4, 3], {}], [[2, 3, 4], [4], {}],
  ];
  for (const [a, b, o] of cases) await check(`matmul ${a} @ ${b} ${JSON.stringify(o)}`, (x, y) => T.matmul(x, y, o), [inp(a), inp(b)]);
  await check('linear + bias', (x, w, b) => T.linear(x, w, b), [inp([5, 3]), inp([4, 3]), inp([4])]);
  await check('linear 3-D + relu', (x, w, b) => T.linear(x, w, b, { activation: 'relu' }), [inp([2, 3, 3]), inp([4, 3]), inp([4], (v) => v + 0.05)]);
  await check('linear no bias + relu', (x, w) => T.linear(x, w, null, { activation: 'relu' }), [inp([5, 3]), inp([4, 3])]);
  await check('linear 1-D', (x, w, b) => T.linear(x, w, b), [inp([3]), inp([2, 3]), inp([2])]);
  await check('linear, weight only', (x, w, b) => T.linear(x, w, b), [{ ...inp([5, 3]), requiresGrad: false }, inp([4, 3]), { ...inp([4]), requiresGrad: false }]);
});

test(`${RUNTIME}: gradcheck: sum / mean / max / min along axes and over everything`, async () => {
  for (const op of ['sum', 'mean', 'max', 'min'] as const) {
    const f = T[op];
    await check(`${op} all`, (x) => f(x), [inp([3, 5])]);
    await check(`${op} all keepDims`, (x) => f(x, undefined, { keepDims: true }), [inp([2, 3])]);
    await check(`${op} axis 0`, (x) => f(x, 0), [inp([3, 5])]);
    await check(`${op} axis -1 keepDims`, (x) => f(x, -1, { keepDims: true }), [inp([2, 3, 4])]);
    await check(`${op} size-1 axis`, (x) => f(x, 1), [inp([3, 1, 2])]);
    await check(`${op} axes [0, 2]`, (x) => f(x, [0, 2]), [inp([2, 3, 4])]);
    await check(`${op} axes [1, 2] keepDims`, (x) => f(x, [1, 2], { keepDims: true }), [inp([2, 3, 4])]);
  }
  await check('sum of an empty axis', (x) => T.sum(x, 1), [inp([3, 0])]);
});

test(`${RUNTIME}: gradcheck: softmax / logSoftmax along any axis, layerNorm, crossEntropy`, async () => {
  for (const f of [T.softmax, T.logSoftmax]) {
    await check(`${f.name} last`, (x) => f(x), [inp([3, 5])]);
    await check(`${f.name} axis 0`, (x) => f(x, 0), [inp([4, 3])]);
    await check(`${f.name} 1-D`, (x) => f(x), [inp([7])]);
    await check(`${f.name} one class`, (x) => f(x), [inp([3, 1])]);
  }
  await check('layerNorm', (x) => T.layerNorm(x, 5), [inp([3, 5])]);
  await check('layerNorm weight bias', (x, w, b) => T.layerNorm(x, [2, 3], { weight: w, bias: b }), [inp([4, 2, 3]), inp([2, 3]), inp([2, 3])]);
  await check('layerNorm weight', (x, w) => T.layerNorm(x, 4, { weight: w }), [inp([2, 4]), inp([4])]);
  await check('layerNorm bias', (x, b) => T.layerNorm(x, 4, { bias: b, eps: 1e-3 }), [inp([2, 4]), inp([4])]);
  const labels: GradcheckInput = { data: [2, 0, 4, 1], shape: [4], dtype: 'i32' };
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    for (const labelSmoothing of [0, 0.1]) {
      await check(`crossEntropy ${reduction} ${labelSmoothing}`, (x, y) => T.crossEntropy(x, y, { reduction, labelSmoothing }), [inp([4, 5], (v) => 2 * v), labels]);
    }
  }
});

test(`${RUNTIME}: gradcheck: views, concat, indexSelect / embedding`, async () => {
  await check('reshape', (x) => T.reshape(x, [3, -1]), [inp([2, 3, 2])]);
  await check('permute', (x) => T.permute(x, [2, 0, 1]), [inp([2, 3, 4])]);
  await check('transpose', (x) => T.transpose(x), [inp([2, 3])]);
  await check('reshape of a transpose (a copy)', (x) => T.reshape(T.transpose(x), [6]), [inp([2, 3])]);
  await check('contiguous', (x) => T.contiguous(T.permute(x, [1, 0])), [inp([3, 4])]);
  await check('slice', (x) => T.slice(x, [1, -3], [3, 4]), [inp([4, 5])]);
  await check('slice, one axis', (x) => T.slice(x, [1]), [inp([3, 2])]);
  await check('narrow', (x) => T.narrow(x, 1, 1, 2), [inp([2, 4, 3])]);
  await check('concat', (a, b, c) => T.concat([a, b, c], 1), [inp([2, 1]), inp([2, 3]), inp([2, 2])]);
  await check('concat same tensor twice', (a) => T.concat([a, a], 0), [inp([2, 3])]);
  const idx = (data: number[], shape: number[]): GradcheckInput => ({ data, shape, dtype: 'i32' });
  await check('indexSelect axis 1', (t, i) => T.indexSelect(t, 1, i), [inp([2, 4, 3]), idx([3, 0, 3], [3])]);
  await check('embedding, repeated indices', (i, w) => T.embedding(i, w), [idx([1, 4, 1, 0, 1, 2], [2, 3]), inp([5, 3])]);
  await check('embedding, no indices', (i, w) => T.embedding(i, w), [idx([], [0]), inp([3, 2])]);
});

test(`${RUNTIME}: gradcheck: composites (an MLP with a loss, softmax attention-like product)`, async () => {
  await check('mlp', (x, w1, b1, w2) => T.crossEntropy(T.matmul(T.relu(T.linear(x, w1, b1)), w2), T.tensor([1, 0, 2], [3], { dtype: 'i32', device: 'ref' })),
    [inp([3, 4]), inp([5, 4]), inp([5], (v) => v + 0.05), inp([5, 3])]);
  await check('attention', (q, k, v) => T.matmul(T.softmax(T.matmul(q, k, { transposeB: true })), v), [inp([2, 3, 4]), inp([2, 5, 4]), inp([2, 5, 2])]);
  await check('x * x (one tensor, two uses)', (x) => T.mul(x, x), [inp([4])]);
});

test(`${RUNTIME}: gradcheck catches a wrong rule (the check can fail)`, async () => {
  // x * stop_gradient(x) has true derivative 2x, backward gives x: the check must report it.
  const bad = await gradcheck((x) => T.mul(x, T.noGrad(() => T.add(x, T.zeros([3], { device: 'ref' })))), [inp([3], away)]);
  assert.ok(bad.failure !== null, 'a gradient that ignores a path must fail the check');
});

// ---- cpu and gpu run the same rules: their gradients against the ref's ----

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];

/** Gradients of sum(w * f(inputs)) on `device` and on 'ref' (f32), compared per input. */
async function gradsAgree(device: T.Device, name: string, f: (...x: T.Tensor[]) => T.Tensor, inputs: GradcheckInput[], rtol = 1e-4) {
  const grads = async (d: T.Device) => {
    const xs = inputs.map((x) => {
      const t = T.tensor(x.dtype === 'i32' ? Int32Array.from(x.data) : Float32Array.from(x.data), x.shape, { device: d, dtype: x.dtype ?? 'f32' });
      t.requiresGrad = (x.dtype ?? 'f32') === 'f32';
      return t;
    });
    T.tidy(() => {
      const y = f(...xs);
      y.backward(T.tensor(randomData(y.size, 99), y.shape, { device: d }));
    });
    const out = await Promise.all(xs.map((x) => (x.grad ? x.grad.data() : null)));
    xs.forEach((x) => x.dispose());
    return out;
  };
  const got = await grads(device), want = await grads('ref');
  want.forEach((w, i) => {
    if (w === null) return assert.is(got[i], null);
    const bad = mismatch(got[i]!, w, null, 1e-4, rtol);
    if (bad) assert.unreachable(`${device} ${name}, input ${i}: ${bad}`);
  });
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: gradients of a representative subset of rules equal the reference's, at tail sizes`, async () => {
    for (const n of [1, 3, 4, 5, 7, 8, 9, 17, 33]) {
      await gradsAgree(device, `mul broadcast ${n}`, T.mul, [inp([3, n]), inp([n])]);
      await gradsAgree(device, `relu ${n}`, T.relu, [inp([n], away)]);
      await gradsAgree(device, `tanh ${n}`, T.tanh, [inp([2, n])]);
      await gradsAgree(device, `div ${n}`, T.div, [inp([n, 1]), inp([n], away)]);
      await gradsAgree(device, `sum axis ${n}`, (x) => T.sum(x, 0), [inp([n, 3])]);
      await gradsAgree(device, `max ${n}`, (x) => T.max(x, -1), [inp([3, n])]);
      await gradsAgree(device, `logSoftmax ${n}`, (x) => T.logSoftmax(x), [inp([2, n])]);
      await gradsAgree(device, `linear relu ${n}`, (x, w, b) => T.linear(x, w, b, { activation: 'relu' }), [inp([n, 5]), inp([3, 5]), inp([3], (v) => v + 0.05)], 1e-3);
      await gradsAgree(device, `batched matmul ${n}`, (a, b) => T.matmul(a, b, { transposeB: true }), [inp([2, n, 4]), inp([1, 3, 4])], 1e-3);
      await gradsAgree(device, `layerNorm ${n}`, (x, w, b) => T.layerNorm(x, n, { weight: w, bias: b }), [inp([3, n]), inp([n]), inp([n])], 1e-3);
      await gradsAgree(device, `crossEntropy ${n}`, (x, y) => T.crossEntropy(x, y, { labelSmoothing: 0.1 }), [inp([3, n]), { data: [0, n - 1, n >> 1], shape: [3], dtype: 'i32' }]);
      await gradsAgree(device, `slice ${n}`, (x) => T.slice(x, [1], [n + 1]), [inp([n + 2, 2])]);
      await gradsAgree(device, `embedding ${n}`, (i, w) => T.embedding(i, w), [{ data: [0, n - 1, 0], shape: [3], dtype: 'i32' }, inp([n, 4])]);
    }
  });
}

// ---- the tape's semantics ----

const ref = (data: number[], shape?: number[], grad = false) => {
  const t = T.tensor(data, shape, { device: 'ref' });
  t.requiresGrad = grad;
  return t;
};

test(`${RUNTIME}: an op applied without attributes records a rule that reads them (the dispatcher's default attrs)`, async () => {
  const x = ref([1, 2, 3, 4], [2, 2], true);
  T.tidy(() => apply('sum', [x]).backward());
  assert.equal([...await x.grad!.data()], [1, 1, 1, 1]);
  x.dispose();
});

test(`${RUNTIME}: backward accumulates into grad; retainGraph allows a second pass; a freed graph refuses one`, async () => {
  const x = ref([1, 2, 3], [3], true);
  const y = T.sum(T.mul(x, x));
  y.backward(undefined, { retainGraph: true });
  assert.equal([...await x.grad!.data()], [2, 4, 6]);
  y.backward();
  throwsTyped(() => y.backward(), T.TandemError, /already freed.*retainGraph/);
  y.dispose();
  assert.equal([...await x.grad!.data()], [4, 8, 12], 'accumulated over both passes');
  x.dispose();
});

test(`${RUNTIME}: backward errors: non-scalar without grad, wrong grad shape, nothing requiring grad`, () => {
  T.tidy(() => {
    const x = ref([1, 2], [2], true);
    const y = T.mul(x, x);
    throwsTyped(() => y.backward(), T.ShapeError, /not a scalar/);
    throwsTyped(() => y.backward(ref([1, 2, 3])), T.ShapeError, /does not match/);
    throwsTyped(() => T.sum(ref([1])).backward(), T.TandemError, /does not require grad/);
  });
});

test(`${RUNTIME}: noGrad, enableGrad, isGradEnabled, setGradEnabled, detach`, async () => {
  const x = ref([1, 2], [2], true);
  assert.ok(T.isGradEnabled());
  T.tidy(() => {
    const y = T.noGrad(() => {
      assert.not.ok(T.isGradEnabled());
      const inner = T.enableGrad(() => T.mul(x, x));
      assert.ok(inner.requiresGrad && !inner.isLeaf, 'enableGrad records inside noGrad');
      return T.mul(x, x);
    });
    assert.not.ok(y.requiresGrad);
    assert.ok(y.isLeaf);
    T.setGradEnabled(false);
    try {
      assert.not.ok(T.exp(x).requiresGrad);
    } finally {
      T.setGradEnabled(true);
    }
    // detach: x * detach(x) has gradient detach(x) only.
    T.sum(T.mul(x, x.detach())).backward();
  });
  assert.equal([...await x.grad!.data()], [1, 2]);
  x.dispose();
});

test(`${RUNTIME}: comparisons, argmax, oneHot and integer casts never require grad`, () => {
  T.tidy(() => {
    const x = ref([1, -2, 3], [3], true);
    for (const t of [T.gt(x, x), T.eq(x, x), T.argmax(x), T.cast(x, 'i32'), T.oneHot(T.argmax(x, 0, { keepDims: true }), 3)]) {
      assert.not.ok(t.requiresGrad, `${t}`);
    }
    assert.ok(T.cast(x, 'f32').requiresGrad);
    // An integer leaf marked requiresGrad collects nothing (and breaks nothing).
    const idx = T.tensor(new Int32Array([2, 0]), [2], { device: 'ref' });
    idx.requiresGrad = true;
    T.sum(T.indexSelect(x, 0, idx)).backward();
    assert.is(idx.grad, null);
    assert.ok(x.grad !== null);
  });
});

test(`${RUNTIME}: tie rules: max/min reductions and maximum/minimum split the gradient equally; relu'(0) = 0`, async () => {
  const x = ref([1, 3, 3, 0], [4], true), a = ref([2, 5], [2], true), b = ref([2, 1], [2], true), r = ref([0, -1, 2], [3], true);
  T.tidy(() => {
    T.max(x).backward();
    T.sum(T.maximum(a, b)).backward();
    T.sum(T.relu(r)).backward();
  });
  assert.equal([...await x.grad!.data()], [0, 0.5, 0.5, 0]);
  assert.equal([...await a.grad!.data()], [0.5, 1]);
  assert.equal([...await b.grad!.data()], [0.5, 0]);
  assert.equal([...await r.grad!.data()], [0, 0, 1]);
  [x, a, b, r].forEach((t) => t.dispose());
});

test(`${RUNTIME}: lifetimes: saved tensors survive user disposal; nothing leaks with or without backward`, async () => {
  const w = T.keep(T.tensor(randomData(12, 5), [4, 3]));
  w.requiresGrad = true;
  const base = T.memoryStats().cpu;
  const step = (backward: boolean) => T.tidy(() => {
    const x = T.tensor(randomData(20, 6), [5, 4]);
    const h = T.relu(T.matmul(x, w));
    const loss = T.mean(T.softmax(h));
    x.dispose(); // the tape holds its own reference to what matmul saved
    h.dispose();
    if (backward) loss.backward();
  });
  step(true);
  const withGrad = T.memoryStats().cpu;
  assert.is(withGrad.liveTensors, base.liveTensors + 1, 'w.grad is the one new live tensor');
  const g1 = await w.grad!.data();
  w.grad!.dispose();
  w.grad = null;
  assert.is(T.memoryStats().cpu.liveTensors, base.liveTensors);
  assert.is(T.memoryStats().cpu.bytesInUse, base.bytesInUse, 'bytes back to the baseline after backward');
  step(false);
  assert.is(T.memoryStats().cpu.liveTensors, base.liveTensors, 'no backward: the graph is freed with its scope');
  assert.is(T.memoryStats().cpu.bytesInUse, base.bytesInUse);
  // An output kept past its scope holds its graph; disposing it frees everything.
  const y = T.tidy(() => T.sum(T.exp(T.matmul(T.ones([2, 4]), w))));
  assert.ok(T.memoryStats().cpu.liveTensors > base.liveTensors + 1, 'y and what its graph saved');
  y.dispose();
  assert.is(T.memoryStats().cpu.liveTensors, base.liveTensors);
  assert.ok(g1.some((v) => v !== 0));
  w.dispose();
});

test(`${RUNTIME}: a leaf's grad is exclusive, contiguous and on the leaf's device`, async () => {
  const a = ref([1, 2, 3], [3], true), b = ref([4, 5, 6], [3], true);
  T.tidy(() => T.sum(T.add(a, b)).backward());
  assert.ok(a.grad!.isContiguous && b.grad!.isContiguous);
  assert.ok(a.grad!.storage('test') !== b.grad!.storage('test'), 'add passes one gradient to both: each leaf gets its own copy');
  assert.is(a.grad!.storage('test').refs, 1);
  a.dispose(); b.dispose();
});

test(`${RUNTIME}: a saved tensor modified in place (version bumped) is refused at backward`, () => {
  const w = ref([1, 2], [2], true);
  T.tidy(() => {
    const y = T.sum(T.mul(w, w));
    w.storage('test').version++; // what an optimizer step does to a parameter it updates in place
    throwsTyped(() => y.backward(), T.TandemError, /modified in place/);
  });
  w.dispose();
});

test(`${RUNTIME}: f16 <-> f32 casts carry gradients (autocast's pattern), f16 leaves get f16 grads`, async () => {
  const w = T.tensor(randomData(12, 8), [4, 3], { dtype: 'f16' });
  w.requiresGrad = true;
  const x = T.tensor(randomData(8, 9), [2, 4]);
  x.requiresGrad = true;
  T.tidy(() => {
    const y = T.cast(T.matmul(T.cast(x, 'f16'), w), 'f32');
    T.sum(y).backward();
  });
  assert.is(w.grad!.dtype, 'f16');
  assert.is(x.grad!.dtype, 'f32');
  // d sum(x w)/dw = x^T 1, d/dx = 1 w^T: compare with the f32 computation on exact f16 values.
  const xs = await x.data(), ws = await w.data();
  const gw = await w.grad!.data(), gx = await x.grad!.data();
  for (let k = 0; k < 4; k++) {
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(gw[k * 3 + j] - (xs[k] + xs[4 + k])) < 2e-2, `gw[${k},${j}]`);
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(gx[i * 4 + k] - (ws[k * 3] + ws[k * 3 + 1] + ws[k * 3 + 2])) < 2e-2, `gx[${i},${k}]`);
  }
  w.dispose(); x.dispose();
});

test(`${RUNTIME}: T.to is differentiable: the gradient returns to the source's device`, async () => {
  const other: T.Device = devices.includes('gpu') ? 'gpu' : 'ref';
  const x = T.tensor([1, 2, 3], [3]);
  x.requiresGrad = true;
  T.tidy(() => T.sum(T.mul(T.to(x, other), T.tensor([4, 5, 6], [3], { device: other }))).backward());
  assert.is(x.grad!.device, 'cpu');
  assert.equal([...await x.grad!.data()], [4, 5, 6]);
  x.dispose();
});

// ---- the scatter-add kernel (gather's gradient) on every engine against the reference ----

test(`${RUNTIME}: scatterAdd kernel: wasm f32x4 and scalar twin, and every device, against the reference`, async () => {
  const module = await wasmModule();
  const engines: [string, Backend][] = [['wasm-simd', new WasmBackend(module)], ['wasm-scalar', new WasmBackend(module, { simd: false })]];
  const refBe = new ReferenceBackend();
  const runOn = async (be: Backend, g: Float32Array, idx: Int32Array, p: KernelParams['scatterAdd']) => {
    const bytes = 4 * p.outer * p.axisLen * p.inner;
    const bufs = [g, idx].map((x) => { const b2 = be.alloc(Math.max(4, x.byteLength)); be.write(b2, x); return b2; });
    const out = be.alloc(Math.max(4, bytes));
    be.run('scatterAdd', bufs, out, p);
    const r = await be.read(out, bytes);
    [...bufs, out].forEach((b2) => be.free(b2));
    return new Float32Array(r.buffer, r.byteOffset, bytes / 4);
  };
  for (const inner of [1, 3, 4, 5, 7, 8, 9, 17]) {
    for (const [outer, axisLen, indices] of [[1, 1, []], [1, 5, [2]], [3, 5, [4, 0, 4, 4, 1, 9, -1]], [2, 1, [0, 0, 0]]] as [number, number, number[]][]) {
      const count = indices.length, p = { outer, axisLen, inner, count };
      const g = randomData(outer * count * inner, inner + count), idx = Int32Array.from(indices);
      const want = await runOn(refBe, g, idx, p);
      for (const [name, be] of engines) {
        const bad = mismatch(await runOn(be, g, idx, p), want, null, 1e-6, 1e-6);
        if (bad) assert.unreachable(`${name} ${JSON.stringify(p)}: ${bad}`);
      }
      for (const device of devices) {
        const d = apply('scatterAdd', [T.tensor(g, [outer, count, inner], { device }), T.tensor(idx, [count], { device, dtype: 'i32' })], { axisLen });
        const bad = mismatch(await d.data(), want, null, 1e-6, 1e-6);
        d.dispose();
        if (bad) assert.unreachable(`${device} ${JSON.stringify(p)}: ${bad}`);
      }
    }
  }
});

test.run();
