/**
 * f16 compute through the public API: every float op on f16 tensors on cpu and gpu against the
 * reference (which computes in f64/f32 and rounds to f16 once), at sizes with 0, 1, primes and
 * odd numbers of halves, on views with odd offsets, with NaN / Inf / subnormal halves; mixed
 * f16/f32 inputs refused with a DTypeError; and the WGSL generator's three storages
 * (f32, packed f16, native f16), Deno never getting `enable f16`.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { f16BitsToF32, f32ToF16Bits } from '../src/f16.ts';
import type { Backend, KernelParams } from '../src/backend/backend.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import type { WebGPUBackend } from '../src/backend/webgpu.ts';
import { type MatmulVariant, matmulProgram } from '../src/backend/wgsl-matmul.ts';
import { type GridLimits, PROGRAMS } from '../src/backend/wgsl-programs.ts';
import { nativeF16 } from '../src/backend/wgsl-half.ts';
import { backendFor } from '../src/runtime.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const SIZES = [0, 1, 2, 3, 7, 31, 257, 1031];
const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 6e-8, -3e-5, 65504, -65504, 1, -2, 0.5, 2 ** -14, 1e-7];

const values = async (t: T.Tensor) => Array.from((await t.data()) as Float32Array);
const half = (data: ArrayLike<number>, shape: number[], device: T.Device) => T.tensor(Array.from(data), shape, { dtype: 'f16', device });

/** Distance in f16 ulps (0 for two NaNs; +0 and -0 are 1 apart, as their bits are). */
function ulps(a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b) ? 0 : Infinity;
  const ord = (x: number) => { const h = f32ToF16Bits(x); return h & 0x8000 ? -(h & 0x7fff) : h; };
  return Math.abs(ord(a) - ord(b));
}

/** f16 results within `maxUlps` of the reference's, elementwise. */
async function closeUlps(got: T.Tensor, want: T.Tensor, maxUlps: number, what: string): Promise<void> {
  assert.is(got.dtype, 'f16', `${what}: dtype`);
  assert.equal(got.shape, want.shape, `${what}: shape`);
  const g = await values(got), w = await values(want);
  g.forEach((x, i) => {
    if (ulps(x, w[i]) > maxUlps) assert.unreachable(`${what}[${i}] = ${x}, reference ${w[i]} (${ulps(x, w[i])} ulps)`);
  });
}

// Elementwise: 1 f16 ulp (the gpu's transcendentals are not correctly rounded in f32, which
// may tip a rounding to the neighbouring half); the reference's own rounding is exact.
const UNARY = ['neg', 'abs', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'gelu', 'silu', 'relu'] as const;
const BINARY = ['add', 'sub', 'mul', 'div', 'maximum', 'minimum', 'pow'] as const;

for (const device of devices) {
  test(`${RUNTIME}: ${device}: f16 unary ops match the reference within 1 ulp (sizes 0, 1, primes, odd tails)`, async () => {
    for (const op of UNARY) {
      for (const n of SIZES) {
        // log, sqrt, rsqrt on positive inputs: WGSL leaves them indeterminate below 0.
        const data = randomData(n, n + 3).map((v) => (op === 'log' || op === 'sqrt' || op === 'rsqrt' ? Math.abs(v) * 3 + 0.01 : v * 3));
        const got = T[op](half(data, [n], device)), want = T[op](half(data, [n], 'ref'));
        await closeUlps(got, want, 1, `${op} n=${n}`);
      }
    }
  });

  test(`${RUNTIME}: ${device}: f16 binary ops broadcast and match the reference within 1 ulp`, async () => {
    const shapes: [number[], number[]][] = [[[0], [0]], [[1], [1]], [[7], [7]], [[3, 31], [31]], [[5, 1], [1, 7]], [[257], []], [[2, 3, 5], [3, 1]]];
    for (const op of BINARY) {
      for (const [sa, sb] of shapes) {
        const a = randomData(sa.reduce((x, y) => x * y, 1), 5), b = randomData(sb.reduce((x, y) => x * y, 1), 9).map((v) => (op === 'div' ? v + 3 : v));
        const absA = op === 'pow' ? a.map(Math.abs) : a;
        const got = T[op](half(absA, sa, device), half(b, sb, device)), want = T[op](half(absA, sa, 'ref'), half(b, sb, 'ref'));
        await closeUlps(got, want, 1, `${op} ${JSON.stringify([sa, sb])}`);
      }
    }
  });

  test(`${RUNTIME}: ${device}: f16 NaN, infinities, subnormals and overflow follow the reference`, async () => {
    // WGSL lets implementations assume no NaN or infinity (tests/elementwise.test.ts), so the gpu
    // sees the finite specials only; its rounding to Inf, subnormals and 0 happens on the bits.
    const special = device === 'gpu' ? SPECIAL.filter(Number.isFinite) : SPECIAL;
    const n = special.length;
    const x = (d: T.Device) => half(special, [n], d);
    for (const op of ['neg', 'abs', 'exp', 'sqrt', 'relu'] as const) await closeUlps(T[op](x(device)), T[op](x('ref')), 0, `${op} specials`);
    // 65504 + 65504 overflows to Inf; subnormal * subnormal underflows to 0.
    for (const op of ['add', 'mul', 'maximum'] as const) await closeUlps(T[op](x(device), x(device)), T[op](x('ref'), x('ref')), 0, `${op} specials`);
    const pairs = half([6e-8, 65504, 1e-4, 3], [4], device), ref = half([6e-8, 65504, 1e-4, 3], [4], 'ref');
    await closeUlps(T.mul(pairs, pairs), T.mul(ref, ref), 0, 'mul: underflow to 0 / overflow to Inf / subnormal result');
    for (const op of ['sum', 'max', 'min'] as const) await closeUlps(T[op](x(device)), T[op](x('ref')), 0, `${op} specials`);
    if (device !== 'gpu') await closeUlps(T.softmax(half([1, Infinity, 2], [3], device)), T.softmax(half([1, Infinity, 2], [3], 'ref')), 0, 'softmax with Inf');
  });

  test(`${RUNTIME}: ${device}: f16 ops on views with odd offsets and strides`, async () => {
    for (const n of [1, 6, 31]) {
      const big = randomData(2 * n + 3, n);
      const view = (d: T.Device) => T.narrow(half(big, [2 * n + 3], d), 0, 1, n); // starts at an odd half
      await closeUlps(T.exp(view(device)), T.exp(view('ref')), 1, `exp narrow n=${n}`);
      await closeUlps(T.add(view(device), view(device)), T.add(view('ref'), view('ref')), 0, `add narrow n=${n}`);
    }
    const grid = randomData(5 * 7, 2);
    const sl = (d: T.Device) => T.slice(half(grid, [5, 7], d), [1, 1], [4, 6]); // [3, 5] at odd offsets
    await closeUlps(T.mul(sl(device), T.transpose(T.slice(half(grid, [7, 5], device), [1, 0], [6, 3]))), T.mul(sl('ref'), T.transpose(T.slice(half(grid, [7, 5], 'ref'), [1, 0], [6, 3]))), 0, 'mul of a slice by a transposed slice');
    await closeUlps(T.sum(sl(device), 1), T.sum(sl('ref'), 1), 1, 'sum of a slice');
  });

  test(`${RUNTIME}: ${device}: f16 sum, mean, max, min along every axis; softmax and logSoftmax`, async () => {
    const shapes = [[1, 1], [3, 7], [2, 257], [31, 5], [4, 0]];
    for (const shape of shapes) {
      const data = randomData(shape[0] * shape[1], shape[1] + 1);
      for (const axis of [undefined, 0, 1]) {
        for (const op of ['sum', 'mean', 'max', 'min'] as const) {
          const extent = axis === undefined ? shape[0] * shape[1] : shape[axis];
          if (extent === 0 && (op === 'max' || op === 'min')) continue;
          // Sums accumulate in f32 on the devices and f64 in the reference: one ulp of the result.
          await closeUlps(T[op](half(data, shape, device), axis), T[op](half(data, shape, 'ref'), axis), 1, `${op} ${JSON.stringify(shape)} axis ${axis}`);
        }
      }
      for (const axis of [-1, 0]) {
        await closeUlps(T.softmax(half(data, shape, device), axis), T.softmax(half(data, shape, 'ref'), axis), 1, `softmax ${JSON.stringify(shape)} axis ${axis}`);
        await closeUlps(T.logSoftmax(half(data, shape, device), axis), T.logSoftmax(half(data, shape, 'ref'), axis), 1, `logSoftmax ${JSON.stringify(shape)} axis ${axis}`);
      }
    }
  });

  test(`${RUNTIME}: ${device}: f16 matmul and linear (bias, activations) within a k-dependent bound`, async () => {
    // [m, k, n]: dot products, gemv both ways, k = 0, odd n (rows at odd halves), rb tiles with tails.
    const cases = [[1, 1, 1], [1, 7, 5], [5, 7, 1], [3, 0, 5], [7, 13, 9], [33, 17, 65], [70, 31, 67]];
    for (const [m, k, n] of cases) {
      const a = randomData(m * k, m + k), b = randomData(k * n, k + n);
      await closeMatmul(T.matmul(half(a, [m, k], device), half(b, [k, n], device)), a, b, null, m, k, n, 'none', `matmul ${m}x${k}x${n}`);
    }
    for (const activation of ['none', 'relu'] as const) {
      const [m, k, n] = [9, 11, 7];
      const x = randomData(m * k, 1), w = randomData(n * k, 2), bias = randomData(n, 3);
      const wt = new Float32Array(k * n).map((_, i) => w[(i % n) * k + Math.floor(i / n)]); // w^T as [k, n]
      const got = T.linear(half(x, [m, k], device), half(w, [n, k], device), half(bias, [n], device), { activation });
      await closeMatmul(got, x, wt, bias, m, k, n, activation, `linear ${activation}`);
    }
    // Batched with a broadcast operand.
    const a = randomData(2 * 3 * 5, 4), b = randomData(5 * 3, 6);
    const got = T.matmul(half(a, [2, 3, 5], device), half(b, [5, 3], device));
    const want = T.matmul(half(a, [2, 3, 5], 'ref'), half(b, [5, 3], 'ref'));
    await closeUlps(got, want, 1, 'batched matmul');
  });

  test(`${RUNTIME}: ${device}: mixed f16 / f32 inputs are refused with a DTypeError`, () => {
    const h = T.zeros([2, 2], { dtype: 'f16', device }), f = T.zeros([2, 2], { device });
    const mixes = /inputs mix dtypes (f16 and f32|f32 and f16).*cast one first/;
    const is = (e: unknown) => e instanceof T.DTypeError && mixes.test((e as Error).message);
    assert.throws(() => T.add(h, f), is);
    assert.throws(() => T.maximum(f, h), is);
    assert.throws(() => T.matmul(h, f), is);
    assert.throws(() => T.linear(h, h, T.zeros([2], { device })), is);
    // The dtype rules still name what is supported.
    assert.throws(() => T.argmax(h), (e: unknown) => e instanceof T.DTypeError && /argmax: dtype f16 is not supported \(supported: f32\)/.test((e as Error).message));
  });
}

/**
 * The f16 product against an f64 product of the same (f16-rounded) inputs: the device's error
 * is its f32 accumulation, at most ~k * 2^-24 of sum |a||b|, plus one f16 rounding of the result
 * (2^-11 relative) and a subnormal step.
 */
async function closeMatmul(got: T.Tensor, a: Float32Array, b: Float32Array, bias: Float32Array | null, m: number, k: number, n: number, act: 'none' | 'relu', what: string): Promise<void> {
  // The inputs as stored in f16.
  const ah = await values(T.tensor(Array.from(a), [a.length], { dtype: 'f16', device: 'ref' })), bh = await values(T.tensor(Array.from(b), [b.length], { dtype: 'f16', device: 'ref' }));
  const biasH = bias ? await values(T.tensor(Array.from(bias), [n], { dtype: 'f16', device: 'ref' })) : null;
  const f = act === 'relu' ? (v: number) => Math.max(v, 0) : (v: number) => v;
  const g = await values(got);
  assert.is(got.dtype, 'f16', `${what}: dtype`);
  assert.is(g.length, m * n, `${what}: size`);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = biasH ? biasH[j] : 0, bound = biasH ? Math.abs(biasH[j]) : 0;
      for (let p = 0; p < k; p++) { s += ah[i * k + p] * bh[p * n + j]; bound += Math.abs(ah[i * k + p] * bh[p * n + j]); }
      const want = f(s);
      const tol = 2 ** -10 * Math.abs(want) + 1.2 * (k + 2) * 2 ** -23 * bound + 2 ** -24;
      const x = g[i * n + j];
      if (!(Math.abs(x - want) <= tol)) assert.unreachable(`${what}[${i}, ${j}] = ${x}, expected ${want} (tolerance ${tol})`);
    }
  }
}

test(`${RUNTIME}: wgsl generator: f32, packed f16 and native f16 storage, each its own key`, () => {
  const packed: GridLimits = { maxWorkgroupsPerDim: 65535 }, native: GridLimits = { maxWorkgroupsPerDim: 65535, nativeF16: true };
  const programs = {
    unary: (l: GridLimits) => PROGRAMS.unary({ op: 'exp', size: 5, dtype: 'f16' }, l),
    binary: (l: GridLimits) => PROGRAMS.binary({ op: 'add', shape: [5], aStrides: [1], bStrides: [1], dtype: 'f16' }, l),
    reduce: (l: GridLimits) => PROGRAMS.reduce({ op: 'sum', outer: 3, reduce: 5, inner: 1, dtype: 'f16' }, l),
    softmax: (l: GridLimits) => PROGRAMS.softmax({ rows: 3, n: 5, log: false, dtype: 'f16' }, l),
    matmul: (l: GridLimits) => PROGRAMS.matmul({ m: 9, k: 5, n: 7, bias: true, dtype: 'f16' }, l),
    gemv: (l: GridLimits) => PROGRAMS.matmul({ m: 1, k: 5, n: 7, dtype: 'f16' }, l),
  };
  for (const [name, make] of Object.entries(programs)) {
    const p = make(packed), q = make(native);
    assert.ok(!p.code.includes('enable f16'), `${name}: packed code must not enable f16`);
    assert.ok(/array<u32>/.test(p.code) && /array<atomic<u32>>/.test(p.code), `${name}: packed reads u32 words and writes atomic words`);
    assert.ok(/unpack2x16float/.test(p.code) && /toHalf\(/.test(p.code) && !/pack2x16float\(/.test(p.code.replaceAll("unpack2x16float(", "")), `${name}: packed code reads with unpack2x16float, rounds on the bits`);
    assert.ok(q.code.startsWith('enable f16;'), `${name}: native code starts with enable f16`);
    assert.ok(/array<f16>/.test(q.code) && !/atomic/.test(q.code), `${name}: native code binds array<f16>`);
    assert.is.not(JSON.stringify(p.key), JSON.stringify(q.key), `${name}: storages have distinct keys`);
    assert.ok(p.key.storage === 'f16-packed' && q.key.storage === 'f16-native', `${name}: the key names the storage`);
  }
  // f32 programs are unchanged by the device's f16 ability.
  const f32a = PROGRAMS.unary({ op: 'exp', size: 5 }, packed), f32b = PROGRAMS.unary({ op: 'exp', size: 5 }, native);
  assert.is(f32a.code, f32b.code);
  assert.ok(/array<f32>/.test(f32a.code) && !/enable f16|array<u32>|atomic<|toHalf/.test(f32a.code), 'f32 code binds f32 arrays, no halves or atomics');
  // f16 elementwise runs one word (two halves) per invocation.
  assert.is(programs.unary(packed).entry, 'pairs');
  assert.equal(PROGRAMS.unary({ op: 'exp', size: 1031, dtype: 'f16' }, packed).grid, [3, 1, 1]);
});

test(`${RUNTIME}: native f16 only with shader-f16 and never in Deno`, () => {
  const has = (f: string[]) => ({ has: (x: string) => f.includes(x) });
  assert.is(nativeF16(has(['shader-f16']), false), true);
  assert.is(nativeF16(has(['shader-f16']), true), false, 'Deno rejects enable f16');
  assert.is(nativeF16(has([]), false), false);
  if (info.gpu) {
    const gpu = backendFor('gpu', 'test') as unknown as { limits: { nativeF16?: boolean }; device: GPUDevice };
    assert.is(gpu.limits.nativeF16, gpu.device.features.has('shader-f16') && RUNTIME !== 'deno');
    if (RUNTIME === 'deno') assert.is.not(gpu.limits.nativeF16, true);
  }
});

// ---- the matmul rungs by name at the seam: the API runs small products on the naive rung while
// rb compiles, so each rung is dispatched here directly, without its fallback. ----
const gpuBe = info.gpu ? (backendFor('gpu', 'test') as unknown as WebGPUBackend) : null;
const refBe = new ReferenceBackend();

/** Run a matmul kernel on f16 inputs given as f32 values; the result's f16 values as f32. */
async function mm16(be: Backend, p: KernelParams['matmul'], inputs: Float32Array[], rung?: MatmulVariant): Promise<Float32Array> {
  const size = (p.batchShape ?? []).reduce((x, y) => x * y, 1) * p.m * p.n;
  const bufs = inputs.map((x) => { const b = be.alloc(Math.max(4, x.length * 2)); be.write(b, Uint16Array.from(x, f32ToF16Bits)); return b; });
  const out = be.alloc(Math.max(4, size * 2));
  if (size > 0) {
    if (rung) {
      const { fallback: _, ...prog } = matmulProgram(p, (be as unknown as WebGPUBackend).limits, rung);
      (be as unknown as WebGPUBackend).dispatch(prog, bufs as never, out as never);
    } else be.run('matmul', bufs, out, p);
  }
  const bytes = await be.read(out, size * 2);
  for (const b of [...bufs, out]) be.free(b);
  return Float32Array.from(new Uint16Array(bytes.buffer, bytes.byteOffset, size), f16BitsToF32);
}

if (gpuBe) {
  for (const rung of ['naive', 'tiled', 'rb', 'gemv'] as MatmulVariant[]) {
    test(`${RUNTIME}: gpu matmul ${rung} on packed f16: tails, odd n, transposes, batches, bias + relu`, async () => {
      const ms = rung === 'gemv' ? [1] : [1, 5, 67], ns = rung === 'gemv' ? [1, 3, 66] : [1, 3, 9, 66];
      const cases: KernelParams['matmul'][] = [];
      for (const m of ms) for (const n of ns) for (const k of [0, 7, 33]) {
        for (const [tA, tB] of [[false, false], [true, true]]) {
          cases.push({ m, k, n, transposeA: tA, transposeB: tB, dtype: 'f16' });
          if (rung === 'gemv') cases.push({ m: n, k, n: m, transposeA: tA, transposeB: tB, dtype: 'f16' });
        }
      }
      cases.push({ m: rung === 'gemv' ? 1 : 13, k: 9, n: 7, batchShape: [3], aBatchStrides: [rung === 'gemv' ? 9 : 117], bBatchStrides: [0], bias: true, activation: 'relu', dtype: 'f16' });
      for (const p of cases) {
        const sizes = [(p.batchShape?.[0] ?? 1) * p.m * p.k, p.k * p.n, ...(p.bias ? [p.n] : [])];
        const inputs = sizes.map((s, i) => Float32Array.from(randomData(s, p.m * 100 + p.n * 10 + p.k + i), (v) => f16BitsToF32(f32ToF16Bits(v))));
        const got = await mm16(gpuBe, p, inputs, rung), want = await mm16(refBe, p, inputs);
        // Bound: the f32 reference on |inputs| (no activation); error: f32 accumulation + one f16 rounding.
        const abs = inputs.map((x) => x.map(Math.abs));
        const bufs = abs.map((x) => { const b = refBe.alloc(x.length * 4); refBe.write(b, x); return b; });
        const bo = refBe.alloc(Math.max(4, got.length * 4));
        if (got.length) refBe.run('matmul', bufs, bo, { ...p, dtype: undefined, activation: 'none' });
        const bound = new Float32Array(bo.buffer, 0, got.length);
        assert.is(got.length, want.length);
        const bad = got.findIndex((g, i) => !(Object.is(g, want[i]) || Math.abs(g - want[i]) <= 2 ** -10 * Math.abs(want[i]) + 2 * (p.k + 1) * 2 ** -23 * bound[i] + 2 ** -24));
        if (bad >= 0) assert.unreachable(`${rung} ${JSON.stringify(p)}[${bad}]: got ${got[bad]}, reference ${want[bad]}`);
      }
    });
  }
}

test.run();
