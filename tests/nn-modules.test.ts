/**
 * nn modules through the API on both engines: forward passes against plain-JS references
 * written here from PyTorch's definitions (Linear, LayerNorm, Embedding, activations,
 * multi-head attention with and without the causal mask, the pre-norm Transformer block),
 * PyTorch-style parameter names, seeded init and seeded Dropout (same masks on cpu and gpu,
 * identity in eval), train/eval, to(device) and a model split across engines, state dicts
 * through T.save / T.load with typed errors, the losses (MSE, stable BCE-with-logits), and
 * dispose() returning memory to its baseline.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info, mismatch, randomData } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const nn = T.nn;

// ---- plain-JS references, row-major, f64 ----
type M = Float64Array | Float32Array | number[];
function linearRef(x: M, rows: number, w: M, b: M | null, inF: number, outF: number): Float64Array {
  const y = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) for (let o = 0; o < outF; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < inF; i++) s += x[r * inF + i] * w[o * inF + i];
    y[r * outF + o] = s;
  }
  return y;
}
function layerNormRef(x: M, rows: number, n: number, w: M, b: M, eps = 1e-5): Float64Array {
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    let mu = 0, v = 0;
    for (let i = 0; i < n; i++) mu += x[r * n + i] / n;
    for (let i = 0; i < n; i++) v += (x[r * n + i] - mu) ** 2 / n;
    for (let i = 0; i < n; i++) y[r * n + i] = ((x[r * n + i] - mu) / Math.sqrt(v + eps)) * w[i] + b[i];
  }
  return y;
}
const geluRef = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
async function weights(l: T.nn.Linear): Promise<[Float32Array, Float32Array]> { return [await l.weight.data(), await l.bias!.data()]; }

/** Self-attention of x [b, n, e] with h heads, PyTorch's definition. */
async function mhaRef(m: T.nn.MultiheadAttention, x: M, b: number, n: number, causal: boolean): Promise<Float64Array> {
  const e = m.embedDim, h = m.numHeads, d = e / h;
  const [q, k, v] = await Promise.all([m.qProj, m.kProj, m.vProj].map(async (l) => linearRef(x, b * n, ...(await weights(l)).flatMap((w, i) => (i === 0 ? [w] : [w])) as [M, M], e, e)));
  const ctx = new Float64Array(b * n * e);
  for (let bi = 0; bi < b; bi++) for (let hi = 0; hi < h; hi++) for (let i = 0; i < n; i++) {
    const s = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let c = 0; c < d; c++) dot += q[(bi * n + i) * e + hi * d + c] * k[(bi * n + j) * e + hi * d + c];
      s[j] = causal && j > i ? -Infinity : dot / Math.sqrt(d);
    }
    const mx = Math.max(...s), ex = s.map((z) => Math.exp(z - mx)), tot = ex.reduce((a, z) => a + z, 0);
    for (let c = 0; c < d; c++) {
      let acc = 0;
      for (let j = 0; j < n; j++) acc += (ex[j] / tot) * v[(bi * n + j) * e + hi * d + c];
      ctx[(bi * n + i) * e + hi * d + c] = acc;
    }
  }
  const [wo, bo] = await weights(m.outProj);
  return linearRef(ctx, b * n, wo, bo, e, e);
}

function near(got: Float32Array, want: M, atol: number, rtol: number, what: string): void {
  const bad = mismatch(got, Float32Array.from(want), null, atol, rtol);
  if (bad) assert.unreachable(`${what}: ${bad}`);
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: Linear matches x W^T + b at sizes 1, primes and tails, batched and empty`, async () => {
    for (const [inF, outF, rows] of [[1, 1, 1], [3, 5, 2], [17, 4, 7], [8, 13, 5], [4, 3, 0]]) {
      const lin = new nn.Linear(inF, outF, { seed: inF * 31 + outF, device });
      const x = randomData(rows * inF, rows + inF);
      const y = lin.forward(T.tensor(x, [rows, inF], { device }));
      assert.equal(y.shape, [rows, outF]);
      near(await y.data(), linearRef(x, rows, ...(await weights(lin)).slice(0, 1) as [M], (await weights(lin))[1], inF, outF), 1e-5, 1e-5, `Linear(${inF}, ${outF}) rows ${rows}`);
      const y3 = lin.forward(T.tensor(randomData(2 * 3 * inF, 3), [2, 3, inF], { device }));
      assert.equal(y3.shape, [2, 3, outF]);
      const bound = 1 / Math.sqrt(inF);
      assert.ok((await lin.weight.data()).every((w) => Math.abs(w) <= bound), 'U(-1/sqrt(in), 1/sqrt(in))');
      y.dispose(); y3.dispose(); lin.dispose();
    }
    const noBias = new nn.Linear(3, 2, { bias: false, device });
    assert.equal(noBias.namedParameters().map(([n]) => n), ['weight']);
    const x = randomData(6, 1), out = noBias.forward(T.tensor(x, [2, 3], { device }));
    near(await out.data(), linearRef(x, 2, await noBias.weight.data(), null, 3, 2), 1e-6, 1e-5, 'no bias');
    out.dispose(); noBias.dispose();
  });

  test(`${RUNTIME}: ${device}: activations, LayerNorm and Embedding modules`, async () => {
    const x = randomData(2 * 13, 4).map((v) => v * 3);
    const t = T.tensor(x, [2, 13], { device });
    const acts: [T.nn.Module & { forward(x: T.Tensor): T.Tensor }, (v: number) => number][] = [
      [new nn.ReLU(), (v) => Math.max(v, 0)], [new nn.GELU(), geluRef], [new nn.Tanh(), Math.tanh],
      [new nn.Sigmoid(), (v) => 1 / (1 + Math.exp(-v))], [new nn.SiLU(), (v) => v / (1 + Math.exp(-v))],
    ];
    for (const [m, f] of acts) near(await m.forward(t).data(), Array.from(x, f), 1e-6, 1e-5, m.constructor.name);
    const ln = new nn.LayerNorm(13, { device });
    assert.equal(ln.namedParameters().map(([n, p]) => `${n}:${p.shape}`), ['weight:13', 'bias:13']);
    near(await ln.forward(t).data(), layerNormRef(x, 2, 13, new Array(13).fill(1), new Array(13).fill(0)), 1e-5, 1e-5, 'LayerNorm');
    const emb = new nn.Embedding(7, 5, { seed: 3, device });
    const table = await emb.weight.data();
    const idx = Int32Array.of(6, 0, 3, 3);
    const rows = await emb.forward(T.tensor(idx, [2, 2], { device })).data();
    assert.equal(Array.from(rows), Array.from(idx).flatMap((i) => Array.from(table.subarray(i * 5, i * 5 + 5))));
    const again = new nn.Embedding(7, 5, { seed: 3 });
    assert.equal(Array.from(await again.weight.data()), Array.from(table), 'same seed, same table');
  });

  for (const causal of [false, true]) {
    test(`${RUNTIME}: ${device}: MultiheadAttention${causal ? ' (causal)' : ''} matches softmax(QK^T / sqrt(d)) V, projected`, async () => {
      for (const [b, n, e, h] of [[1, 1, 4, 1], [2, 5, 8, 2], [1, 7, 12, 3]]) {
        const m = new nn.MultiheadAttention(e, h, { causal, seed: n * 7 + e, device });
        const x = randomData(b * n * e, n + e);
        const y = T.tidy(() => m.forward(T.tensor(x, [b, n, e], { device })));
        assert.equal(y.shape, [b, n, e]);
        near(await y.data(), await mhaRef(m, x, b, n, causal), 1e-5, 1e-4, `b=${b} n=${n} e=${e} h=${h}`);
        y.dispose();
        m.dispose();
      }
    });
  }

  test(`${RUNTIME}: ${device}: TransformerBlock is x + attn(ln1(x)), then + mlp(ln2(x)), and names its parameters like PyTorch`, async () => {
    const [b, n, e, h] = [2, 4, 8, 2];
    const blk = new nn.TransformerBlock(e, h, { causal: true, seed: 5, device, mlpRatio: 2 });
    assert.equal(blk.namedParameters().map(([k]) => k), [
      'ln1.weight', 'ln1.bias', 'attn.qProj.weight', 'attn.qProj.bias', 'attn.kProj.weight', 'attn.kProj.bias',
      'attn.vProj.weight', 'attn.vProj.bias', 'attn.outProj.weight', 'attn.outProj.bias', 'ln2.weight', 'ln2.bias',
      'mlp.0.weight', 'mlp.0.bias', 'mlp.2.weight', 'mlp.2.bias',
    ]);
    const x = randomData(b * n * e, 9);
    const y = T.tidy(() => blk.forward(T.tensor(x, [b, n, e], { device })));
    const ones = new Array(e).fill(1), zeros = new Array(e).fill(0);
    const a = await mhaRef(blk.attn, layerNormRef(x, b * n, e, ones, zeros), b, n, true);
    const x1 = Array.from(x, (v, i) => v + a[i]);
    const [w1, b1] = await weights(blk.mlp.layers[0] as T.nn.Linear), [w2, b2] = await weights(blk.mlp.layers[2] as T.nn.Linear);
    const hdn = linearRef(layerNormRef(x1, b * n, e, ones, zeros), b * n, w1, b1, e, 2 * e).map(geluRef);
    const out = linearRef(hdn, b * n, w2, b2, 2 * e, e).map((v, i) => v + x1[i]);
    near(await y.data(), out, 1e-5, 1e-4, 'block');
    y.dispose();
    blk.dispose();
  });

  test(`${RUNTIME}: ${device}: losses: MSE and binary cross-entropy from logits (finite for large logits)`, async () => {
    const n = 11, x = randomData(n, 1).map((v, i) => (i === 3 ? 120 : i === 4 ? -120 : v * 5)), y = randomData(n, 2).map((v) => (v + 2) / 4);
    const tx = T.tensor(x, [n], { device }), ty = T.tensor(y, [n], { device });
    const mse = Array.from(x, (v, i) => (v - y[i]) ** 2);
    const bce = Array.from(x, (v, i) => Math.max(v, 0) - v * y[i] + Math.log1p(Math.exp(-Math.abs(v))));
    near(await nn.mseLoss(tx, ty, { reduction: 'none' }).data(), mse, 1e-5, 1e-6, 'mse none');
    near(await nn.mseLoss(tx, ty).data(), [mse.reduce((a, v) => a + v) / n], 1e-5, 1e-6, 'mse mean');
    near(await nn.mseLoss(tx, ty, { reduction: 'sum' }).data(), [mse.reduce((a, v) => a + v)], 1e-4, 1e-6, 'mse sum');
    near(await nn.bceWithLogits(tx, ty, { reduction: 'none' }).data(), bce, 1e-6, 1e-5, 'bce none');
    near(await nn.binaryCrossEntropyWithLogits(tx, ty).data(), [bce.reduce((a, v) => a + v) / n], 1e-6, 1e-5, 'bce mean');
    assert.throws(() => nn.mseLoss(tx, T.tensor([1, 2], [2], { device })), (e: unknown) => e instanceof T.ShapeError);
    assert.throws(() => nn.mseLoss(tx, ty, { reduction: 'avg' as 'mean' }), (e: unknown) => e instanceof T.TandemError);
  });
}

test(`${RUNTIME}: Dropout: seeded masks, the same on cpu and gpu; 1/(1-p) scaling in train(); identity in eval()`, async () => {
  const n = 4099, p = 0.3;
  const masks: Float32Array[] = [];
  for (const device of devices) {
    const d = new nn.Dropout(p, { seed: 7 });
    const x = T.ones([n], { device });
    masks.push(await d.forward(x).data(), await d.forward(x).data());
  }
  assert.ok(masks[0].every((v) => v === 0 || v === Math.fround(1 / 0.7)), 'values are 0 or 1/(1-p)');
  const zeros = masks[0].filter((v) => v === 0).length / n;
  assert.ok(Math.abs(zeros - p) < 0.03, `dropped fraction ${zeros}`);
  assert.not.equal(Array.from(masks[0]), Array.from(masks[1]), 'each call draws a new mask');
  if (masks.length === 4) {
    assert.equal(Array.from(masks[2]), Array.from(masks[0]), 'same seed: same first mask on gpu');
    assert.equal(Array.from(masks[3]), Array.from(masks[1]), 'and the same second one');
  }
  const d = new nn.Dropout(p, { seed: 1 });
  const x = T.randn([5], { seed: 2 });
  assert.is(d.eval().forward(x), x, 'eval(): the input itself');
  assert.is(new nn.Dropout(0).forward(x), x);
  assert.equal(Array.from(await new nn.Dropout(1).forward(x).data()), [0, 0, 0, 0, 0]);
  assert.throws(() => new nn.Dropout(1.5), (e: unknown) => e instanceof T.TandemError);
});

test(`${RUNTIME}: names, train()/eval(), custom modules in a few lines, state dict round trip and typed errors`, async () => {
  class Block extends nn.Module {
    attn = new nn.MultiheadAttention(4, 2, { seed: 1 });
    scale = nn.parameter(T.ones([4]));
    forward(x: T.Tensor) { return T.mul(this.attn.forward(x), this.scale); }
  }
  class Net extends nn.Module {
    layers = [new nn.Linear(4, 4, { seed: 2 }), new Block(), new nn.Dropout(0.5)];
    head = new nn.Linear(4, 2, { seed: 3 });
    forward(x: T.Tensor) { let y = x; for (const l of this.layers) y = (l.forward as (t: T.Tensor) => T.Tensor)(y); return this.head.forward(y); }
  }
  const net = new Net();
  const names = net.namedParameters().map(([k]) => k);
  // Own parameters first, then each child's, in assignment order (PyTorch's order).
  assert.equal(names.slice(0, 4), ['layers.0.weight', 'layers.0.bias', 'layers.1.scale', 'layers.1.attn.qProj.weight']);
  assert.equal(names.slice(-2), ['head.weight', 'head.bias']);
  assert.is(net.parameters().length, names.length);
  assert.ok(net.modules().every((m) => m.training));
  net.eval();
  assert.ok(net.modules().every((m) => !m.training));
  const x = T.randn([1, 3, 4], { seed: 9 });
  const before = await net.forward(x).data();

  const bytes = await T.save(net.stateDict());
  const sd = T.load(bytes);
  const other = new (class extends Net { override head = new nn.Linear(4, 2, { seed: 99 }); })().eval();
  assert.not.equal(Array.from(await other.forward(x).data()), Array.from(before));
  const headW = other.head.weight;
  other.loadStateDict(sd);
  assert.is(other.head.weight, headW, 'loaded in place: the same tensors (optimizers stay valid)');
  assert.equal(Array.from(await other.forward(x).data()), Array.from(before));

  const { 'head.bias': _drop, ...missing } = sd;
  try { other.loadStateDict(missing); assert.unreachable('missing key'); } catch (e) {
    assert.instance(e, T.StateDictError);
    assert.equal((e as T.StateDictError).missing, ['head.bias']);
  }
  try { other.loadStateDict({ ...sd, extra: sd['head.bias'] }); assert.unreachable('unexpected key'); } catch (e) {
    assert.instance(e, T.StateDictError);
    assert.equal((e as T.StateDictError).unexpected, ['extra']);
  }
  const wrongShape = T.zeros([3, 4]), wrongType = T.zeros([2], { dtype: 'f16' });
  assert.throws(() => other.loadStateDict({ ...sd, 'head.weight': wrongShape }), (e: unknown) => e instanceof T.ShapeError);
  assert.throws(() => other.loadStateDict({ ...sd, 'head.bias': wrongType }), (e: unknown) => e instanceof T.DTypeError);
  other.loadStateDict(missing, { strict: false });
  for (const t of [...Object.values(sd), wrongShape, wrongType]) t.dispose();
  for (const m of [net, other]) m.dispose();
});

test(`${RUNTIME}: dispose() returns every parameter; parameters survive tidy`, () => {
  const live = () => T.memoryStats().cpu.liveTensors;
  const base = live();
  const m = T.tidy(() => new nn.Sequential(new nn.Linear(3, 4), new nn.ReLU(), new nn.TransformerBlock(4, 2)));
  assert.is(live(), base + m.parameters().length);
  m.dispose();
  assert.is(live(), base);
});

if (devices.includes('gpu')) {
  test(`${RUNTIME}: to(device) moves parameters; a model split across engines computes what it does on one`, async () => {
    const make = () => new nn.Sequential(new nn.Linear(5, 16, { seed: 1 }), new nn.Tanh(), new nn.Linear(16, 3, { seed: 2 }));
    const x = T.randn([4, 5], { seed: 3 });
    const ref = await make().forward(x).data();
    const gpuModel = make().to('gpu');
    assert.ok(gpuModel.parameters().every((p) => p.device === 'gpu' && p.pinned && p.requiresGrad));
    const yg = gpuModel.forward(x);
    assert.is(yg.device, 'gpu');
    near(await yg.data(), ref, 1e-5, 1e-5, 'all on gpu');
    const split = make();
    (split.layers[2] as T.nn.Module).to('gpu');
    (split.layers[0] as T.nn.Module).to('cpu');
    // The last Linear's inputs are pinned to both engines: the scheduler picks one and copies the other's operands.
    const ys = split.forward(x);
    near(await ys.data(), ref, 1e-5, 1e-5, 'first layer on cpu, last on gpu');
    assert.throws(() => split.to('tpu' as T.Device), (e: unknown) => e instanceof T.DeviceError);
  });
}

test(`${RUNTIME}: Conv2d / MaxPool2d / Flatten: names, PyTorch's init bounds, and the forward of T.conv2d with the module's parameters`, async () => {
  const model = new nn.Sequential(new nn.Conv2d(2, 4, 3, { padding: 1, seed: 1 }), new nn.ReLU(), new nn.MaxPool2d(2), new nn.Flatten(), new nn.Linear(4 * 3 * 2, 5, { seed: 2 }));
  assert.equal(model.namedParameters().map(([n, p]) => `${n} ${p.shape.join('x')}`), ['0.weight 4x2x3x3', '0.bias 4', '4.weight 5x24', '4.bias 5']);
  const bound = 1 / Math.sqrt(2 * 3 * 3);
  const w = await model.parameters()[0].data();
  assert.ok(w.every((v) => Math.abs(v) <= bound) && w.some((v) => Math.abs(v) > bound / 2), 'weights drawn from U(-1/sqrt(fanIn), 1/sqrt(fanIn))');
  const x = T.randn([3, 2, 6, 5], { seed: 3 });
  const [cw, cb, lw, lb] = model.parameters();
  const want = await T.linear(T.reshape(T.maxPool2d(T.relu(T.conv2d(x, cw, cb, { padding: 1 })), 2), [3, -1]), lw, lb).data();
  near(await model.forward(x).data(), want, 0, 0, 'Sequential of conv modules vs the ops');
  const grouped = new nn.Conv2d(4, 6, [3, 1], { groups: 2, bias: false, seed: 4 });
  assert.equal(grouped.parameters().map((p) => p.shape), [[6, 2, 3, 1]]);
  assert.throws(() => new nn.Conv2d(0, 4, 3), (e: unknown) => e instanceof T.TandemError);
  model.dispose(); grouped.dispose(); x.dispose();
});

test.run();
