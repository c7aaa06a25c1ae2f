/**
 * Casts and image normalisation at the seam, on the Wasm f32x4 kernels, their scalar twins and
 * the WGSL kernels (integer arithmetic on the bits, bytes and halves unpacked from words):
 * f32 -> f16 bit for bit against the host converter (src/f16.ts) around every f16 rounding
 * boundary, f16 -> f32 over all 65536 halves, the integer conversions at their edges, every
 * tail length; then the public T.cast and T.normalizeImage with their typed errors.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import type { Backend } from '../src/backend/backend.ts';
import type { DType } from '../src/dtype.ts';
import { f16BitsToF32, f32ToF16Bits } from '../src/f16.ts';
import { RUNTIME, randomData } from './harness.ts';
import { SIZES, asF32, asI32, asU16, bitPatterns, cpuEngines, gpu, ref, run } from './seam.ts';

/** f32 values on, just below and just above every midpoint between adjacent halves, plus a sweep of all f32. */
function f16Boundaries(): Float32Array {
  const out: number[] = [];
  const f = new Float32Array(1), u = new Uint32Array(f.buffer);
  for (let h = 0; h < 0x7c00; h++) {
    f[0] = (f16BitsToF32(h) + f16BitsToF32(h + 1)) / 2; // exact in f32
    const mid = u[0];
    for (const d of [-1, 0, 1]) { u[0] = mid + d; out.push(f[0], -f[0]); }
  }
  return Float32Array.from([...out, ...bitPatterns(1 << 17, 32771, 17)]);
}

const sameBits = (a: number, b: number) => Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));

const engines: [string, Backend][] = [...cpuEngines, ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];
for (const [name, be] of engines) {
  test(`${RUNTIME}: ${name}: cast f32 -> f16 matches src/f16.ts bit for bit (ties, subnormals, overflow, NaN)`, async () => {
    const x = f16Boundaries();
    const got = asU16((await run(be, 'cast', [x], x.length * 2, { from: 'f32', to: 'f16', size: x.length })).out);
    for (let i = 0; i < x.length; i++) {
      const want = f32ToF16Bits(x[i]);
      if (got[i] !== want) assert.unreachable(`f16(${x[i]}) = 0x${got[i].toString(16)}, expected 0x${want.toString(16)}`);
    }
  });

  test(`${RUNTIME}: ${name}: cast f16 -> f32 over all 65536 halves`, async () => {
    const h = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const got = asF32((await run(be, 'cast', [h], 65536 * 4, { from: 'f16', to: 'f32', size: 65536 })).out);
    for (let i = 0; i < 65536; i++) {
      if (!sameBits(got[i], f16BitsToF32(i))) assert.unreachable(`half 0x${i.toString(16)}: got ${got[i]}, expected ${f16BitsToF32(i)}`);
    }
  });

  test(`${RUNTIME}: ${name}: i32 -> f32 rounds to nearest even; f32 -> i32 truncates and saturates (NaN -> 0)`, async () => {
    const ints = Int32Array.from([0, 1, -1, 2 ** 24, 2 ** 24 + 1, 2 ** 24 + 3, -(2 ** 24) - 1, 2 ** 31 - 1, -(2 ** 31), 123456789, -987654321, 2 ** 25 + 2]);
    const got = asF32((await run(be, 'cast', [ints], ints.length * 4, { from: 'i32', to: 'f32', size: ints.length })).out);
    assert.equal(Array.from(got), Array.from(ints, Math.fround));
    const fl = Float32Array.from([0, -0, 0.9, -0.9, 2.5, -2.5, 1e10, -1e10, NaN, Infinity, -Infinity, 2 ** 31, -(2 ** 31), 2147483520, -2147483904, 16777217]);
    const want = [0, 0, 0, 0, 2, -2, 2 ** 31 - 1, -(2 ** 31), 0, 2 ** 31 - 1, -(2 ** 31), 2 ** 31 - 1, -(2 ** 31), 2147483520, -(2 ** 31), 16777216];
    const gi = asI32((await run(be, 'cast', [fl], fl.length * 4, { from: 'f32', to: 'i32', size: fl.length })).out);
    assert.equal(Array.from(gi), want);
  });

  const pairs: [DType, DType, (n: number) => ArrayBufferView][] = [
    ['f32', 'f16', (n) => randomData(n, n).map((v) => v * 1e3)],
    ['f16', 'f32', (n) => Uint16Array.from(randomData(n, n), (v) => f32ToF16Bits(v * 100))],
    ['i32', 'f32', (n) => Int32Array.from(randomData(n, n), (v) => Math.round(v * 2 ** 29))],
    ['f32', 'i32', (n) => randomData(n, n).map((v) => v * 2 ** 31)],
    ['u8', 'f32', (n) => Uint8Array.from(randomData(n, n), (v) => Math.floor((v + 2) * 63.9))],
    ['bool', 'f32', (n) => Uint8Array.from(randomData(n, n), (v) => (v > 0 ? 1 : 0))],
    ['f32', 'f32', (n) => randomData(n, n)],
    ['u8', 'u8', (n) => Uint8Array.from(randomData(n, n), (v) => Math.floor((v + 2) * 63.9))],
  ];
  const BYTES: Record<DType, number> = { f32: 4, i32: 4, f16: 2, u8: 1, bool: 1 };
  test(`${RUNTIME}: ${name}: every cast, every tail length, bit for bit against the reference`, async () => {
    for (const [from, to, data] of pairs) {
      for (const n of [...SIZES, 48, 49, 63]) {
        const x = data(n), p = { from, to, size: n };
        const got = (await run(be, 'cast', [x], n * BYTES[to], p)).out;
        const want = (await run(ref, 'cast', [x], n * BYTES[to], p)).out;
        for (let i = 0; i < got.length; i++) {
          if (got[i] !== want[i]) assert.unreachable(`${from} -> ${to}, n=${n}: byte ${i} is ${got[i]}, expected ${want[i]}`);
        }
      }
    }
  });

  test(`${RUNTIME}: ${name}: normalizeImage, 1 to 4 channels, every tail of pixels`, async () => {
    for (const channels of [1, 2, 3, 4]) {
      for (const [height, width] of [[0, 5], [1, 1], [1, 3], [2, 5], [3, 7], [4, 4], [5, 13], [1, 17], [16, 16], [7, 31]]) {
        const pixels = height * width;
        const x = Uint8Array.from(randomData(pixels * channels, pixels + channels), (v) => Math.min(255, Math.floor((v + 2) * 64)));
        const r = randomData(8, channels);
        const mean = Array.from({ length: channels }, (_, c) => 0.5 + 0.2 * r[c]), std = Array.from({ length: channels }, (_, c) => 0.25 + 0.05 * r[4 + c]);
        const p = { height, width, channels, mean, std };
        const got = asF32((await run(be, 'normalizeImage', [x], pixels * channels * 4, p)).out);
        const want = asF32((await run(ref, 'normalizeImage', [x], pixels * channels * 4, p)).out);
        for (let c = 0; c < channels; c++) {
          for (let i = 0; i < pixels; i++) {
            // The kernel computes v * scale + bias (f32 scale and bias): a few roundings of
            // terms as large as |v * scale| + |bias|, which the result may cancel down from.
            const v = x[i * channels + c], scale = 1 / (255 * std[c]), bias = mean[c] / std[c];
            const tol = 4 * 2 ** -24 * (v * scale + bias);
            const k = c * pixels + i;
            if (!(Math.abs(got[k] - want[k]) <= tol)) assert.unreachable(`C=${channels} ${height}x${width}: out[${c}, ${i}] = ${got[k]}, expected ${want[k]}`);
          }
        }
      }
    }
  });
}

// ---------- public API ----------

const arr = async (t: T.Tensor) => Array.from(await t.data<never>() as ArrayLike<number>);

for (const device of gpu ? ['cpu', 'ref', 'gpu'] as const : ['cpu', 'ref'] as const) {
  test(`${RUNTIME}: ${device}: T.cast converts and reports the new dtype`, async () => {
    const x = T.tensor([1.5, -2.5, 65504, 70000, 1e-8, NaN], [2, 3], { device });
    const h = T.cast(x, 'f16');
    assert.is(h.dtype, 'f16');
    assert.equal(h.shape, [2, 3]);
    const hv = await arr(h);
    assert.equal(hv.slice(0, 5), [1.5, -2.5, 65504, Infinity, 0]);
    assert.ok(Number.isNaN(hv[5]));
    assert.equal(await arr(T.cast(h, 'f32')), hv);
    assert.equal(await arr(T.cast(T.tensor([2.9, -2.9, NaN, 3e9], [4], { device }), 'i32')), [2, -2, 0, 2 ** 31 - 1]);
    assert.equal(await arr(T.cast(T.tensor(new Int32Array([7, -(2 ** 31)]), undefined, { device }), 'f32')), [7, -(2 ** 31)]);
    assert.equal(await arr(T.cast(T.tensor([true, false, true], undefined, { device }), 'f32')), [1, 0, 1]);
    assert.equal(await arr(T.cast(T.tensor([0, 200, 255], [3], { dtype: 'u8', device }), 'f32')), [0, 200, 255]);
    const same = T.cast(x, 'f32');
    assert.ok(same !== x);
    x.dispose();
    assert.equal((await arr(same)).slice(0, 3), [1.5, -2.5, 65504]);
  });

  test(`${RUNTIME}: ${device}: T.normalizeImage turns HWC u8 into normalised CHW f32`, async () => {
    const img = T.tensor([0, 255, 51, 102, 153, 204], [1, 2, 3], { dtype: 'u8', device });
    const out = T.normalizeImage(img, { mean: [0.5, 0.5, 0.5], std: [0.5, 0.25, 1] });
    assert.equal(out.shape, [3, 1, 2]);
    assert.is(out.dtype, 'f32');
    const want = [(0 / 255 - 0.5) / 0.5, (102 / 255 - 0.5) / 0.5, (255 / 255 - 0.5) / 0.25, (153 / 255 - 0.5) / 0.25, 51 / 255 - 0.5, 204 / 255 - 0.5];
    (await arr(out)).forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `index ${i}: ${v} vs ${want[i]}`));
    const gray = T.normalizeImage(T.tensor(new Uint8Array([10, 20]), [2, 1, 1]), { mean: new Float32Array([0]), std: [1] });
    assert.equal(gray.shape, [1, 2, 1]);
  });
}

test(`${RUNTIME}: cast and normalizeImage refuse bad input with typed errors`, () => {
  const f = T.tensor([1, 2], [2]);
  const img = T.zeros([2, 2, 3], { dtype: 'u8' });
  const is = (type: new (...a: never[]) => Error, re: RegExp) => (e: unknown) => e instanceof type && re.test((e as Error).message);
  assert.throws(() => T.cast(T.tensor([1], [1], { dtype: 'f16' }), 'i32'), is(T.DTypeError, /cast: f16 -> i32 is not supported \(supported: f32 -> f16/));
  assert.throws(() => T.cast(f, 'bool'), is(T.DTypeError, /f32 -> bool is not supported/));
  assert.throws(() => T.cast(f, 'f64' as never), is(T.DTypeError, /cast: unknown dtype "f64"/));
  assert.throws(() => T.cast(f, undefined as never), is(T.DTypeError, /cast: a target dtype is required/));
  assert.throws(() => T.normalizeImage(T.zeros([2, 2, 3]), { mean: [0, 0, 0], std: [1, 1, 1] }), is(T.DTypeError, /normalizeImage: dtype f32 is not supported \(supported: u8\)/));
  assert.throws(() => T.normalizeImage(T.zeros([4, 3], { dtype: 'u8' }), { mean: [0], std: [1] }), is(T.ShapeError, /expects an HWC image \[height, width, channels\], got \[4, 3\]/));
  assert.throws(() => T.normalizeImage(T.zeros([2, 2, 5], { dtype: 'u8' }), { mean: [0], std: [1] }), is(T.ShapeError, /1 to 4 channels/));
  assert.throws(() => T.normalizeImage(img, { mean: [0, 0], std: [1, 1, 1] }), is(T.ShapeError, /mean needs one value per channel \(3\), got 2 values/));
  assert.throws(() => T.normalizeImage(img, { mean: [0, 0, 0] } as never), is(T.ShapeError, /std needs one value per channel \(3\), got undefined/));
  assert.throws(() => T.normalizeImage(img, { mean: [0, 0, 0], std: [1, 0, 1] }), is(T.TandemError, /std\[1\] is 0/));
  assert.throws(() => T.normalizeImage(img, { mean: [0, NaN, 0], std: [1, 1, 1] }), is(T.TandemError, /mean\[1\] = NaN is not a finite number/));
});

test.run();
