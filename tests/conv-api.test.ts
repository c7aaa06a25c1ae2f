/**
 * T.conv2d and T.maxPool2d through the API on every device against plain-JS f64 references
 * written here (direct convolution, direct pooling): PyTorch's defaults and arguments, N = 0,
 * NaN and -inf, f16 inputs, typed errors; and the gradient functions the autograd rules call
 * (conv2dBackward, maxPool2dBackward) against central differences of those f64 references,
 * so a rule built on them is known right.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { conv2dAttrs, conv2dBackward, maxPool2dBackward, pool2dAttrs } from '../src/ops/conv.ts';
import { REQUIRE_GPU, RUNTIME, info, mismatch, randomData } from './harness.ts';

const DEVICES: T.Device[] = ['ref', 'cpu', ...(info.gpu ? ['gpu' as const] : [])];

test(`${RUNTIME}: conv-api: an adapter exists for the gpu`, () => {
  if (REQUIRE_GPU) assert.ok(info.gpu, 'init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
});

interface Conv { n: number; c: number; h: number; w: number; o: number; kh: number; kw: number; s: [number, number]; p: [number, number]; d: [number, number]; g: number }
const outSize = (n: number, k: number, s: number, p: number, d: number) => Math.floor((n + 2 * p - d * (k - 1) - 1) / s) + 1;

/** f64 direct convolution (x, w as plain arrays); returns y and its shape. */
function convRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, q: Conv): { y: Float64Array; shape: number[] } {
  const oh = outSize(q.h, q.kh, q.s[0], q.p[0], q.d[0]), ow = outSize(q.w, q.kw, q.s[1], q.p[1], q.d[1]);
  const cg = q.c / q.g, og = q.o / q.g, y = new Float64Array(q.n * q.o * oh * ow);
  for (let n = 0; n < q.n; n++) for (let o = 0; o < q.o; o++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let s = b ? b[o] : 0;
    for (let ci = 0; ci < cg; ci++) for (let ki = 0; ki < q.kh; ki++) for (let kj = 0; kj < q.kw; kj++) {
      const iy = i * q.s[0] - q.p[0] + ki * q.d[0], ix = j * q.s[1] - q.p[1] + kj * q.d[1];
      if (iy >= 0 && iy < q.h && ix >= 0 && ix < q.w) s += x[((n * q.c + Math.floor(o / og) * cg + ci) * q.h + iy) * q.w + ix] * w[((o * cg + ci) * q.kh + ki) * q.kw + kj];
    }
    y[((n * q.o + o) * oh + i) * ow + j] = s;
  }
  return { y, shape: [q.n, q.o, oh, ow] };
}

/** f64 max pooling, first max, NaN wins, padding ignored. */
function poolRef(x: ArrayLike<number>, [n, c, h, w]: number[], k: [number, number], s: [number, number], p: [number, number], d: [number, number]): { y: Float64Array; shape: number[] } {
  const oh = outSize(h, k[0], s[0], p[0], d[0]), ow = outSize(w, k[1], s[1], p[1], d[1]);
  const y = new Float64Array(n * c * oh * ow);
  for (let pl = 0; pl < n * c; pl++) for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
    let best = -Infinity, seen = false;
    for (let ki = 0; ki < k[0]; ki++) for (let kj = 0; kj < k[1]; kj++) {
      const iy = i * s[0] - p[0] + ki * d[0], ix = j * s[1] - p[1] + kj * d[1];
      if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
      const v = x[(pl * h + iy) * w + ix];
      if (!seen || v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; seen = true; }
    }
    y[(pl * oh + i) * ow + j] = best;
  }
  return { y, shape: [n, c, oh, ow] };
}

function near(got: Float32Array, want: ArrayLike<number>, atol: number, what: string): void {
  const bad = mismatch(got, Float32Array.from(want), null, atol, 1e-4);
  if (bad) assert.unreachable(`${what}: ${bad}`);
}

const SHAPES: Conv[] = [
  { n: 0, c: 2, h: 5, w: 5, o: 3, kh: 3, kw: 3, s: [1, 1], p: [1, 1], d: [1, 1], g: 1 },
  { n: 1, c: 1, h: 1, w: 1, o: 1, kh: 1, kw: 1, s: [1, 1], p: [0, 0], d: [1, 1], g: 1 },
  { n: 2, c: 3, h: 7, w: 6, o: 4, kh: 3, kw: 3, s: [2, 2], p: [1, 1], d: [1, 1], g: 1 },
  { n: 3, c: 4, h: 9, w: 11, o: 6, kh: 5, kw: 3, s: [1, 2], p: [2, 0], d: [2, 1], g: 2 },
];

for (const device of DEVICES) {
  test(`${RUNTIME}: ${device}: T.conv2d with PyTorch's arguments matches the f64 direct convolution`, async () => {
    for (const q of SHAPES) {
      const xs = randomData(q.n * q.c * q.h * q.w, 1), ws = randomData(q.o * (q.c / q.g) * q.kh * q.kw, 2), bs = randomData(q.o, 3);
      const x = T.tensor(xs, [q.n, q.c, q.h, q.w], { device }), w = T.tensor(ws, [q.o, q.c / q.g, q.kh, q.kw], { device }), b = T.tensor(bs, [q.o], { device });
      const ref = convRef(xs, ws, bs, q);
      const y = T.conv2d(x, w, b, { stride: q.s, padding: q.p, dilation: q.d, groups: q.g });
      assert.equal(y.shape, ref.shape);
      near(await y.data(), ref.y, 1e-4, `conv2d ${JSON.stringify(q)}`);
      const r = T.conv2d(x, w, b, { stride: q.s, padding: q.p, dilation: q.d, groups: q.g, activation: 'relu' });
      near(await r.data(), ref.y.map((v) => Math.max(v, 0)), 1e-4, `conv2d+relu ${JSON.stringify(q)}`);
      const nb = T.conv2d(x, w, null, { stride: q.s, padding: q.p, dilation: q.d, groups: q.g });
      near(await nb.data(), convRef(xs, ws, null, q).y, 1e-4, `conv2d without bias ${JSON.stringify(q)}`);
      for (const t of [x, w, b, y, r, nb]) t.dispose();
    }
    // Numbers for stride, padding and dilation mean [n, n].
    const xs = randomData(2 * 2 * 8 * 8, 4), ws = randomData(3 * 2 * 9, 5);
    const y = T.conv2d(T.tensor(xs, [2, 2, 8, 8], { device }), T.tensor(ws, [3, 2, 3, 3], { device }), undefined, { stride: 2, padding: 1, dilation: 2 });
    near(await y.data(), convRef(xs, ws, null, { n: 2, c: 2, h: 8, w: 8, o: 3, kh: 3, kw: 3, s: [2, 2], p: [1, 1], d: [2, 2], g: 1 }).y, 1e-4, 'scalar arguments');
  });

  test(`${RUNTIME}: ${device}: T.maxPool2d: stride defaults to the kernel, -inf padding, NaN propagates, ties`, async () => {
    const xs = randomData(2 * 3 * 7 * 9, 6).map((v) => Math.round(v * 2) / 2 - 3); // all <= 0 mostly: padding must not win
    xs[5] = NaN;
    const x = T.tensor(xs, [2, 3, 7, 9], { device });
    const cases: [number | [number, number], T.MaxPool2dOptions, [number, number], [number, number], [number, number], [number, number]][] = [
      [2, {}, [2, 2], [2, 2], [0, 0], [1, 1]],
      [3, { stride: 1, padding: 1 }, [3, 3], [1, 1], [1, 1], [1, 1]],
      [[3, 2], { stride: [2, 1], padding: [1, 1], dilation: [2, 1] }, [3, 2], [2, 1], [1, 1], [2, 1]],
    ];
    for (const [k, opts, kk, s, p, d] of cases) {
      const y = T.maxPool2d(x, k, opts), ref = poolRef(xs, [2, 3, 7, 9], kk, s, p, d);
      assert.equal(y.shape, ref.shape);
      near(await y.data(), ref.y, 0, `maxPool2d ${JSON.stringify([k, opts])}`);
      y.dispose();
    }
    x.dispose();
  });

  test(`${RUNTIME}: ${device}: f16 inputs convolve in f32 and round once; mixed dtypes are refused`, async () => {
    const xs = randomData(2 * 3 * 6 * 6, 7), ws = randomData(4 * 3 * 9, 8);
    const x = T.tensor(xs, [2, 3, 6, 6], { device, dtype: 'f16' }), w = T.tensor(ws, [4, 3, 3, 3], { device, dtype: 'f16' });
    const y = T.conv2d(x, w, null, { padding: 1 });
    assert.is(y.dtype, 'f16');
    const xw = await T.cast(x, 'f32').data(), ww = await T.cast(w, 'f32').data();
    const want = Float32Array.from(convRef(xw, ww, null, { n: 2, c: 3, h: 6, w: 6, o: 4, kh: 3, kw: 3, s: [1, 1], p: [1, 1], d: [1, 1], g: 1 }).y);
    const got = await T.cast(y, 'f32').data();
    const bad = mismatch(got, want, null, 1e-3, 2 ** -10);
    if (bad) assert.unreachable(`f16 conv2d: ${bad}`);
    const p = T.maxPool2d(x, 2);
    assert.is(p.dtype, 'f16');
    assert.throws(() => T.conv2d(x, T.tensor(ws, [4, 3, 3, 3], { device })), (e: unknown) => e instanceof T.DTypeError);
  });

  test(`${RUNTIME}: ${device}: conv2dBackward equals central differences of the f64 convolution`, async () => {
    for (const q of [SHAPES[2], SHAPES[3], { n: 2, c: 2, h: 5, w: 4, o: 2, kh: 2, kw: 3, s: [2, 1], p: [1, 2], d: [1, 1], g: 1 } as Conv]) {
      const xs = Array.from(randomData(q.n * q.c * q.h * q.w, 11)), ws = Array.from(randomData(q.o * (q.c / q.g) * q.kh * q.kw, 12)), bs = Array.from(randomData(q.o, 13));
      const { y: y0, shape } = convRef(xs, ws, bs, q);
      const r = randomData(y0.length, 14); // L = sum(r * y), so dL/dy = r
      const loss = (xv: number[], wv: number[], bv: number[]) => convRef(xv, wv, bv, q).y.reduce((a, v, i) => a + v * r[i], 0);
      const h = 1e-3;
      const numeric = (v: number[], at: (u: number[]) => number) => v.map((_, i) => {
        const up = v.slice(), dn = v.slice();
        up[i] += h; dn[i] -= h;
        return (at(up) - at(dn)) / (2 * h);
      });
      const x = T.tensor(xs, [q.n, q.c, q.h, q.w], { device }), w = T.tensor(ws, [q.o, q.c / q.g, q.kh, q.kw], { device });
      const dy = T.tensor(r, shape, { device });
      const g = conv2dBackward(x, w, dy, conv2dAttrs({ stride: q.s, padding: q.p, dilation: q.d, groups: q.g }), { dx: true, dw: true, db: true });
      const what = JSON.stringify(q);
      near(await g.dx!.data(), numeric(xs, (u) => loss(u, ws, bs)), 1e-4, `dx ${what}`);
      near(await g.dw!.data(), numeric(ws, (u) => loss(xs, u, bs)), 1e-4, `dw ${what}`);
      near(await g.db!.data(), numeric(bs, (u) => loss(xs, ws, u)), 1e-4, `db ${what}`);
      const only = conv2dBackward(x, w, dy, conv2dAttrs({ stride: q.s, padding: q.p, dilation: q.d, groups: q.g }), { dw: true });
      assert.equal(Object.keys(only), ['dw']);
    }
    // No images: every gradient is empty or zero.
    const g0 = conv2dBackward(T.zeros([0, 2, 4, 4], { device }), T.ones([3, 2, 3, 3], { device }), T.zeros([0, 3, 2, 2], { device }), conv2dAttrs(), { dx: true, dw: true, db: true });
    assert.equal(g0.dx!.shape, [0, 2, 4, 4]);
    assert.equal(Array.from(await g0.dw!.data()), new Array(54).fill(0));
    assert.equal(Array.from(await g0.db!.data()), [0, 0, 0]);
  });

  test(`${RUNTIME}: ${device}: maxPool2dBackward equals central differences, and ties go to the first max`, async () => {
    const shape = [2, 2, 6, 7];
    // Distinct values (a permutation, spread out) so a small step never changes a window's argmax.
    const size = 2 * 2 * 6 * 7, xs = Array.from({ length: size }, (_, i) => ((i * 37) % size) / 8 - 5);
    for (const [k, s, p, d] of [[[2, 2], [2, 2], [0, 0], [1, 1]], [[3, 3], [1, 2], [1, 1], [1, 1]], [[3, 2], [2, 1], [1, 0], [2, 1]]] as [number, number][][]) {
      const { y, shape: ys } = poolRef(xs, shape, k as [number, number], s as [number, number], p as [number, number], d as [number, number]);
      const r = randomData(y.length, 15);
      const loss = (u: number[]) => poolRef(u, shape, k as [number, number], s as [number, number], p as [number, number], d as [number, number]).y.reduce((a, v, i) => a + v * r[i], 0);
      const h = 1e-3;
      const numeric = xs.map((_, i) => { const up = xs.slice(), dn = xs.slice(); up[i] += h; dn[i] -= h; return (loss(up) - loss(dn)) / (2 * h); });
      const dx = maxPool2dBackward(T.tensor(xs, shape, { device }), T.tensor(r, ys, { device }), pool2dAttrs(k as [number, number], { stride: s as [number, number], padding: p as [number, number], dilation: d as [number, number] }));
      near(await dx.data(), numeric, 1e-4, `maxPool2dBackward ${JSON.stringify([k, s, p, d])}`);
    }
    // A window of equal values: its gradient goes to the first element only (overlapping windows sum).
    const dx = maxPool2dBackward(T.ones([1, 1, 2, 3], { device }), T.tensor([1, 10], [1, 1, 1, 2], { device }), pool2dAttrs(2, { stride: 1 }));
    assert.equal(Array.from(await dx.data()), [1, 10, 0, 0, 0, 0]);
  });

  test(`${RUNTIME}: ${device}: typed errors for bad shapes, arguments and dtypes`, () => {
    const x = T.zeros([1, 3, 5, 5], { device }), w = T.zeros([2, 3, 3, 3], { device });
    const is = (E: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof E && re.test((e as Error).message);
    assert.throws(() => T.conv2d(x, T.zeros([2, 4, 3, 3], { device })), is(T.ShapeError, /3 channels.*expects 4/));
    assert.throws(() => T.conv2d(x, T.zeros([2, 3, 7, 3], { device })), is(T.ShapeError, /height window.*larger than the padded input/));
    assert.equal(T.conv2d(x, T.zeros([2, 3, 7, 3], { device }), null, { padding: 1 }).shape, [1, 2, 1, 5]);
    assert.throws(() => T.conv2d(T.zeros([3, 5, 5], { device }), w), is(T.ShapeError, /must be 4-D/));
    assert.throws(() => T.conv2d(x, T.zeros([2, 27], { device })), is(T.ShapeError, /must be 4-D/));
    assert.throws(() => T.conv2d(x, w, T.zeros([3], { device })), is(T.ShapeError, /bias must have shape \[2\]/));
    assert.throws(() => T.conv2d(x, w, null, { stride: 0 }), is(T.TandemError, /stride must be an integer >= 1/));
    assert.throws(() => T.conv2d(x, w, null, { padding: -1 }), is(T.TandemError, /padding must be an integer >= 0/));
    assert.throws(() => T.conv2d(x, w, null, { dilation: [1, 0] }), is(T.TandemError, /dilation/));
    assert.throws(() => T.conv2d(x, T.zeros([2, 1, 3, 3], { device }), null, { groups: 2 }), is(T.ShapeError, /groups \(2\) must divide/));
    assert.throws(() => T.conv2d(T.zeros([1, 3, 5, 5], { device, dtype: 'i32' }), w), is(T.DTypeError, /i32/));
    assert.throws(() => T.maxPool2d(x, 3, { padding: 2 }), is(T.ShapeError, /at most half/));
    assert.throws(() => T.maxPool2d(x, 6), is(T.ShapeError, /larger than the padded input/));
    assert.throws(() => T.maxPool2d(x, 0), is(T.TandemError, /kernelSize/));
    assert.throws(() => T.maxPool2d(T.zeros([5, 5], { device }), 2), is(T.ShapeError, /4-D/));
    assert.throws(() => maxPool2dBackward(x, T.zeros([1, 3, 3, 3], { device }), pool2dAttrs(2)), is(T.ShapeError, /dy must have shape \[1, 3, 2, 2\]/));
  });
}

for (const device of DEVICES.filter((d): d is 'cpu' | 'gpu' => d !== 'ref')) {
  test(`${RUNTIME}: ${device}: conv2d, its gradients and pooling free every temporary (bytes in use back to the baseline)`, async () => {
    const stats = () => T.memoryStats()[device]!;
    const xs = randomData(3 * 4 * 9 * 9, 31), ws = randomData(6 * 2 * 9, 32);
    const step = () => T.tidy(() => {
      const x = T.tensor(xs, [3, 4, 9, 9], { device }), w = T.tensor(ws, [6, 2, 3, 3], { device }), b = T.ones([6], { device });
      const y = T.conv2d(x, w, b, { padding: 1, groups: 2, activation: 'relu' });
      const g = conv2dBackward(x, w, y, conv2dAttrs({ padding: 1, groups: 2 }), { dx: true, dw: true, db: true });
      const p = T.maxPool2d(y, 2);
      return [T.sum(g.dx!), T.sum(g.dw!), T.sum(g.db!), T.sum(maxPool2dBackward(y, p, pool2dAttrs(2)))];
    });
    for (const t of step()) { await t.data(); t.dispose(); } // warm-up: pools and slabs fill
    const base = stats();
    for (let i = 0; i < 3; i++) {
      for (const t of step()) { await t.data(); t.dispose(); }
      assert.is(stats().bytesInUse, base.bytesInUse, `iteration ${i}`);
      assert.is(stats().liveTensors, base.liveTensors, `iteration ${i}`);
    }
  });
}

test.run();
