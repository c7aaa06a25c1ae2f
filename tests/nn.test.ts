/**
 * softmax / log-softmax, layer norm, cross-entropy, gather and one-hot: the Wasm kernels (f32x4
 * and scalar twins) against the reference at every tail length, then PyTorch's meaning through
 * the API, and typed errors for bad labels and indices (on the gpu, raised by the next read;
 * the WGSL kernels at the seam are in tests/gpu-kernels.test.ts).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { wasmModule } from '../src/runtime.ts';
import { REQUIRE_GPU, RUNTIME, info, mismatch, randomData, threadedCpu } from './harness.ts';

const ref = new ReferenceBackend();
const module = await wasmModule();
const threaded = await threadedCpu();
const engines: [string, Backend][] = [['wasm-simd', new WasmBackend(module)], ['wasm-scalar', new WasmBackend(module, { simd: false })]];
if (threaded) engines.push(['wasm-simd-2threads', threaded]);

async function run<K extends KernelName>(be: Backend, kernel: K, inputs: ArrayBufferView[], outBytes: number, p: KernelParams[K]) {
  const bufs = inputs.map((x) => { const b = be.alloc(x.byteLength); be.write(b, x); return b; });
  const out = be.alloc(outBytes);
  try {
    be.run(kernel, bufs, out, p);
    const bytes = await be.read(out, outBytes);
    return new Float32Array(bytes.buffer, bytes.byteOffset, outBytes / 4);
  } finally {
    for (const b of [...bufs, out]) be.free(b);
  }
}

const tails = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 100, 1000];

for (const [name, be] of engines) {
  test(`${RUNTIME}: ${name}: softmax and log-softmax rows, every tail, large logits`, async () => {
    for (const n of tails) {
      for (const log of [false, true]) {
        const x = randomData(3 * n, n).map((v, i) => (i % 7 === 0 ? v * 40 + 500 : v * 8));
        const p = { rows: 3, n, log };
        const got = await run(be, 'softmax', [x], 12 * n, p), want = await run(ref, 'softmax', [x], 12 * n, p);
        const bad = mismatch(got, want, null, log ? 4e-5 * Math.log2(n + 1) : 1e-7, 4e-6);
        if (bad) assert.unreachable(`n=${n} log=${log}: ${bad}`);
      }
    }
  });

  test(`${RUNTIME}: ${name}: softmax keeps a few ulps down to 2^-126 and flushes smaller probabilities to 0`, async () => {
    // Rows of [0, x1 .. x16] with x spread over [-90, 0]: the row sum is 1 + (tiny), so each
    // output is e^x / sum. Error budget in units of 2^-24 relative: exp 1 ulp (up to 2), the
    // rounded sum, its reciprocal and the product (1 each): 5.
    const n = 17, rows = 400, x = new Float32Array(rows * n);
    for (let i = 0; i < x.length; i++) x[i] = i % n === 0 ? 0 : Math.fround(-90 * ((i * 2654435761) % 1000003) / 1000003);
    const got = await run(be, 'softmax', [x], 4 * x.length, { rows, n, log: false });
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += Math.exp(x[r * n + j]);
      for (let j = 1; j < n; j++) {
        const i = r * n + j, want = Math.exp(x[i]) / s;
        if (want < 2 ** -126) assert.is(got[i], 0, `x = ${x[i]}: a subnormal probability is flushed to 0`);
        else assert.ok(Math.abs(got[i] - want) <= 5 * 2 ** -24 * want, `x = ${x[i]}: got ${got[i]}, expected ${want}`);
      }
    }
  });

  test(`${RUNTIME}: ${name}: a NaN anywhere in a row makes that softmax row all NaN, as in PyTorch`, async () => {
    for (const n of [3, 8, 13, 40]) {
      for (const at of [0, n - 1, n >> 1]) {
        const x = randomData(2 * n, n);
        x[at] = NaN;
        const got = await run(be, 'softmax', [x], 8 * n, { rows: 2, n, log: false });
        assert.ok(got.subarray(0, n).every(Number.isNaN), `n=${n}, NaN at ${at}: row 0 all NaN`);
        assert.ok(got.subarray(n).every((v) => !Number.isNaN(v)), `n=${n}: row 1 untouched`);
      }
    }
  });

  test(`${RUNTIME}: ${name}: layer norm rows with and without weight and bias, every tail`, async () => {
    for (const n of tails) {
      for (const [weight, bias] of [[false, false], [true, true], [true, false], [false, true]]) {
        const x = randomData(2 * n, n + 1).map((v) => v * 3 + 1), g = randomData(n, 5), b = randomData(n, 6);
        const p = { rows: 2, n, eps: 1e-5, weight, bias };
        const ins = [x, ...(weight ? [g] : []), ...(bias ? [b] : [])];
        const got = await run(be, 'layerNorm', ins, 8 * n, p), want = await run(ref, 'layerNorm', ins, 8 * n, p);
        const bad = mismatch(got, want, null, 2e-5, 2e-5);
        if (bad) assert.unreachable(`n=${n} weight=${weight} bias=${bias}: ${bad}`);
      }
    }
  });

  test(`${RUNTIME}: ${name}: cross-entropy per row, with smoothing, and a bad label is an IndexError`, async () => {
    for (const c of tails) {
      for (const smoothing of [0, 0.1]) {
        const x = randomData(5 * c, c).map((v) => v * 6);
        const labels = new Int32Array([0, c - 1, Math.floor(c / 2), 0, c - 1]);
        const p = { rows: 5, classes: c, smoothing };
        const got = await run(be, 'crossEntropy', [x, labels], 20, p), want = await run(ref, 'crossEntropy', [x, labels], 20, p);
        const bad = mismatch(got, want, null, 2e-5, 2e-5);
        if (bad) assert.unreachable(`c=${c} smoothing=${smoothing}: ${bad}`);
      }
    }
    for (const c of [3, 9, 40]) {
      for (const at of [0, c - 1]) {
        const x = randomData(2 * c, c);
        x[at] = NaN; // in row 0, away from its label when at > 0
        const got = await run(be, 'crossEntropy', [x, new Int32Array([Math.floor(c / 2), 1])], 8, { rows: 2, classes: c, smoothing: 0 });
        assert.ok(Number.isNaN(got[0]) && !Number.isNaN(got[1]), `c=${c}, NaN at ${at}: row 0 loss NaN, row 1 finite`);
      }
    }
    try {
      await run(be, 'crossEntropy', [new Float32Array(6), new Int32Array([1, 3])], 8, { rows: 2, classes: 3, smoothing: 0 });
      assert.unreachable('label 3 of 3 classes');
    } catch (e) {
      assert.instance(e, T.IndexError);
      assert.match((e as Error).message, /crossEntropy: label 3 at index 1 is outside \[0, 3\)/);
    }
  });
}

test(`${RUNTIME}: cpu: softmax along any axis sums to 1 and matches the reference`, async () => {
  const x = T.randn([3, 4, 5], { seed: 3 });
  const xr = T.randn([3, 4, 5], { seed: 3, device: 'ref' });
  for (const axis of [0, 1, 2, -1, -3]) {
    const s = T.softmax(x, axis), sr = T.softmax(xr, axis);
    assert.equal(s.shape, [3, 4, 5]);
    const bad = mismatch(await s.data(), await sr.data(), null, 1e-7, 4e-6);
    if (bad) assert.unreachable(`axis ${axis}: ${bad}`);
    const total = await T.sum(s, axis).data();
    for (const v of total) assert.ok(Math.abs(v - 1) < 1e-6, `sums to ${v}`);
    const ls = await T.logSoftmax(x, axis).data(), sd = await s.data();
    ls.forEach((v, i) => assert.ok(Math.abs(Math.exp(v) - sd[i]) < 1e-6));
  }
  assert.equal(Array.from(await T.softmax(T.tensor([5], [])).data()), [1]);
  assert.equal(T.softmax(T.zeros([2, 0])).shape, [2, 0]);
});

test(`${RUNTIME}: cpu: layerNorm over trailing dims equals (x - mean) / std`, async () => {
  const x = T.tensor([1, 2, 3, 4, 10, 20, 30, 40], [2, 4]);
  const y = await T.layerNorm(x, 4, { eps: 0 }).data();
  const z = (v: number[]) => { const m = v.reduce((a, b) => a + b) / 4; const sd = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / 4); return v.map((u) => (u - m) / sd); };
  const want = [...z([1, 2, 3, 4]), ...z([10, 20, 30, 40])];
  y.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-5, `${v} vs ${want[i]}`));
  const w = T.tensor([1, 2, 3, 4]), b = T.tensor([0, 0, 0, 1]);
  const yw = await T.layerNorm(x, [4], { weight: w, bias: b, eps: 0 }).data();
  yw.forEach((v, i) => assert.ok(Math.abs(v - (want[i] * (1 + (i % 4)) + (i % 4 === 3 ? 1 : 0))) < 1e-5));
  assert.throws(() => T.layerNorm(x, [3]), (e: unknown) => e instanceof T.ShapeError && /normalized shape \[3\] is not the trailing shape of \[2, 4\]/.test((e as Error).message));
  assert.throws(() => T.layerNorm(x, 4, { weight: T.ones([3]) }), /weight and bias must have shape \[4\]/);
});

test(`${RUNTIME}: cpu: crossEntropy reductions agree with -log softmax at the label`, async () => {
  const logits = T.tensor([2, 1, 0.1, 0.5, 2.5, 0.3], [2, 3]);
  const labels = T.tensor(new Int32Array([0, 1]));
  const p = await T.softmax(logits).data();
  const nll = [-Math.log(p[0]), -Math.log(p[4])];
  const none = await T.crossEntropy(logits, labels, { reduction: 'none' }).data();
  none.forEach((v, i) => assert.ok(Math.abs(v - nll[i]) < 1e-6));
  assert.ok(Math.abs((await T.crossEntropy(logits, labels).data())[0] - (nll[0] + nll[1]) / 2) < 1e-6);
  assert.ok(Math.abs((await T.crossEntropy(logits, labels, { reduction: 'sum' }).data())[0] - (nll[0] + nll[1])) < 1e-6);
  assert.throws(() => T.crossEntropy(logits, T.tensor([0, 1])), (e: unknown) => e instanceof T.DTypeError && /argument 1/.test((e as Error).message));
  assert.throws(() => T.crossEntropy(logits, T.tensor(new Int32Array([0, 5]))), (e: unknown) => e instanceof T.IndexError && /label 5 at index 1/.test((e as Error).message));
  assert.throws(() => T.crossEntropy(logits, T.tensor(new Int32Array([0]))), (e: unknown) => e instanceof T.ShapeError);
});

for (const device of ['ref', 'cpu'] as const) {
  test(`${RUNTIME}: ${device}: indexSelect, embedding and oneHot for every item size`, async () => {
    const table = T.tensor(Array.from({ length: 12 }, (_, i) => i), [4, 3], { device });
    const idx = T.tensor(new Int32Array([3, 0, 3]), undefined, { device });
    assert.equal(Array.from(await T.embedding(idx, table).data()), [9, 10, 11, 0, 1, 2, 9, 10, 11]);
    assert.equal(Array.from(await T.indexSelect(table, 1, T.tensor(new Int32Array([2, 0]), undefined, { device })).data()), [2, 0, 5, 3, 8, 6, 11, 9]);
    const ids2d = T.tensor(new Int32Array([1, 2, 0, 1]), [2, 2], { device });
    assert.equal(T.embedding(ids2d, table).shape, [2, 2, 3]);
    const u8 = T.tensor(new Uint8Array([10, 20, 30, 40]), [4], { device });
    assert.equal(Array.from(await T.indexSelect(u8, 0, idx).data<'u8'>()), [40, 10, 40]);
    const h = T.tensor([1, 2, 3, 4], [4], { dtype: 'f16', device });
    assert.equal(Array.from(await T.indexSelect(h, 0, idx).data<'f16'>()), [4, 1, 4]);
    const oh = T.oneHot(T.tensor(new Int32Array([2, 0]), undefined, { device }), 3);
    assert.is(oh.dtype, 'i32');
    assert.equal(Array.from(await oh.data<'i32'>()), [0, 0, 1, 1, 0, 0]);
    assert.equal(Array.from(await T.oneHot(T.tensor(new Int32Array([1]), undefined, { device }), 2, { dtype: 'f32' }).data()), [0, 1]);
    assert.throws(() => T.embedding(T.tensor(new Int32Array([4]), undefined, { device }), table), (e: unknown) => e instanceof T.IndexError && /index 4 at position 0 is outside \[0, 4\)/.test((e as Error).message));
    assert.throws(() => T.oneHot(T.tensor(new Int32Array([-1]), undefined, { device }), 3), (e: unknown) => e instanceof T.IndexError);
    assert.throws(() => T.embedding(T.tensor([1], undefined, { device }), table), (e: unknown) => e instanceof T.DTypeError);
  });
}

if (info.gpu || REQUIRE_GPU) {
  /** Await a tensor's data and expect an IndexError: on the gpu, bad indices surface on read. */
  const rejects = async (t: () => T.Tensor, pattern: RegExp) => {
    try {
      await t().data();
      assert.unreachable('expected an IndexError');
    } catch (e) {
      assert.instance(e, T.IndexError);
      assert.match((e as Error).message, pattern);
    }
  };

  test(`${RUNTIME}: gpu: the nn ops through the API agree with cpu; bad indices throw IndexError from data()`, async () => {
    const x = T.randn([3, 4, 5], { seed: 3 }), xg = T.randn([3, 4, 5], { seed: 3, device: 'gpu' });
    const near = async (got: T.Tensor, want: T.Tensor, what: string) => {
      const bad = mismatch(await got.data(), await want.data(), null, 2e-6, 2e-5);
      if (bad) assert.unreachable(`${what}: ${bad}`);
    };
    for (const axis of [0, 1, -1]) {
      await near(T.softmax(xg, axis), T.softmax(x, axis), `softmax axis ${axis}`);
      await near(T.logSoftmax(xg, axis), T.logSoftmax(x, axis), `logSoftmax axis ${axis}`);
    }
    const w = T.randn([4, 5], { seed: 4 }), b = T.randn([4, 5], { seed: 5 });
    const wg = T.randn([4, 5], { seed: 4, device: 'gpu' }), bg = T.randn([4, 5], { seed: 5, device: 'gpu' });
    await near(T.layerNorm(xg, [4, 5], { weight: wg, bias: bg }), T.layerNorm(x, [4, 5], { weight: w, bias: b }), 'layerNorm');
    const logits = T.reshape(x, [6, 10]), logitsG = T.reshape(xg, [6, 10]);
    const labels = new Int32Array([0, 9, 3, 3, 7, 1]);
    const opts = { labelSmoothing: 0.1 };
    await near(T.crossEntropy(logitsG, T.tensor(labels, undefined, { device: 'gpu' }), opts), T.crossEntropy(logits, T.tensor(labels), opts), 'crossEntropy');
    const idx = new Int32Array([3, 0, 3]);
    for (const dtype of ['f32', 'f16', 'u8'] as const) {
      const vals = Array.from({ length: 12 }, (_, i) => i * 3);
      const table = T.tensor(vals, [4, 3], { dtype }), tableG = T.tensor(vals, [4, 3], { dtype, device: 'gpu' });
      assert.equal(Array.from(await T.embedding(T.tensor(idx, undefined, { device: 'gpu' }), tableG).data()), Array.from(await T.embedding(T.tensor(idx), table).data()), dtype);
    }
    assert.equal(Array.from(await T.oneHot(T.tensor(idx, undefined, { device: 'gpu' }), 5, { dtype: 'f32' }).data()), Array.from(await T.oneHot(T.tensor(idx), 5, { dtype: 'f32' }).data()));
    const tableG = T.zeros([4, 3], { device: 'gpu' });
    await rejects(() => T.embedding(T.tensor(new Int32Array([1, 4]), undefined, { device: 'gpu' }), tableG), /gather: the index at position 1 is outside \[0, 4\)/);
    await rejects(() => T.oneHot(T.tensor(new Int32Array([-1]), undefined, { device: 'gpu' }), 3), /oneHot: the class at index 0 is outside \[0, 3\)/);
    await rejects(() => T.crossEntropy(logitsG, T.tensor(new Int32Array([0, 1, 2, 3, 10, 5]), undefined, { device: 'gpu' })), /crossEntropy: the label at index 4 is outside \[0, 10\)/);
  });
}

test.run();
