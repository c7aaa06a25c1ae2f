/** Dtypes: storage round trips on every device, f16 rounding, and values a dtype cannot hold. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { f16BitsToF32, f32ToF16Bits } from '../src/f16.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['ref', 'cpu', 'gpu'] : ['ref', 'cpu'];

for (const device of devices) {
  test(`${RUNTIME}: ${device}: every dtype round-trips through storage, odd lengths included`, async () => {
    const i = T.tensor(new Int32Array([-(2 ** 31), -1, 0, 7, 2 ** 31 - 1]), undefined, { device });
    assert.is(i.dtype, 'i32');
    assert.equal(Array.from(await i.data<'i32'>()), [-(2 ** 31), -1, 0, 7, 2 ** 31 - 1]);
    const u = T.tensor([0, 1, 254, 255, 3], [5], { dtype: 'u8', device });
    assert.equal(Array.from(await u.data<'u8'>()), [0, 1, 254, 255, 3]);
    const b = T.tensor([true, false, true], undefined, { device });
    assert.is(b.dtype, 'bool');
    assert.equal(Array.from(await b.data<'bool'>()), [1, 0, 1]);
    const h = T.tensor([1, -2.5, 65504, 1e-8, 70000, 0.1, -0], [7], { dtype: 'f16', device });
    assert.equal(Array.from(await h.data<'f16'>()), [1, -2.5, 65504, 0, Infinity, f16BitsToF32(0x2e66), -0]);
    const z = T.zeros([3], { dtype: 'i32', device });
    assert.equal(Array.from(await z.data<'i32'>()), [0, 0, 0]);
    const moved = await u.to('cpu');
    assert.is(moved.dtype, 'u8');
    assert.equal(Array.from(await moved.data<'u8'>()), [0, 1, 254, 255, 3]);
  });
}

test(`${RUNTIME}: f16: round to nearest even, subnormals, NaN and infinities kept`, () => {
  assert.is(f32ToF16Bits(1), 0x3c00);
  assert.is(f32ToF16Bits(1 + 2 ** -11), 0x3c00);           // tie -> even (down)
  assert.is(f32ToF16Bits(1 + 3 * 2 ** -11), 0x3c02);       // tie -> even (up)
  assert.is(f32ToF16Bits(65519), 0x7bff);                  // largest that rounds down to 65504
  assert.is(f32ToF16Bits(65520), 0x7c00);                  // rounds to infinity
  assert.is(f32ToF16Bits(2 ** -24), 0x0001);               // smallest subnormal
  assert.is(f32ToF16Bits(2 ** -25), 0x0000);               // tie -> even (zero)
  assert.is(f32ToF16Bits(3 * 2 ** -25), 0x0002);           // tie -> even (up)
  assert.is(f32ToF16Bits(-Infinity), 0xfc00);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  for (let h = 0; h < 0x7c00; h += 37) assert.is(f32ToF16Bits(f16BitsToF32(h)), h, `bits ${h}`);
});

test(`${RUNTIME}: dtypes: values a dtype cannot hold are refused, not wrapped`, () => {
  assert.throws(() => T.tensor([1.5], [1], { dtype: 'i32' }), /data\[0\] = 1\.5 is not a valid i32/);
  assert.throws(() => T.tensor([2 ** 31], [1], { dtype: 'i32' }), /is not a valid i32/);
  assert.throws(() => T.tensor([256], [1], { dtype: 'u8' }), /data\[0\] = 256 is not a valid u8 \(integers 0\.\.255\)/);
  assert.throws(() => T.randn([2], { dtype: 'i32' }), (e: unknown) => e instanceof T.DTypeError);
});

test(`${RUNTIME}: dtypes: an op refuses a dtype it has no kernel for`, () => {
  const i = T.tensor(new Int32Array([1, 2]));
  assert.throws(() => T.relu(i), (e: unknown) => e instanceof T.DTypeError && /relu: dtype i32 is not supported \(supported: f32, f16\)/.test((e as Error).message));
});

test.run();
