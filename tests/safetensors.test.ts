/**
 * safetensors: round trips of every dtype on every device, a file assembled byte by byte from
 * the format's specification (read, and written identically), and malformed files refused.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['ref', 'cpu', 'gpu'] : ['ref', 'cpu'];

/** u64 LE length | header text padded with spaces to 8 bytes | data: the specification's layout. */
function assemble(header: string, data: number[]): Uint8Array {
  const text = new TextEncoder().encode(header);
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  let n = padded;
  for (let i = 0; i < 8; i++) { out[i] = n & 0xff; n = Math.floor(n / 256); }
  out.fill(0x20, 8, 8 + padded);
  out.set(text, 8);
  out.set(data, 8 + padded);
  return out;
}

// F32 [2] = [1.5, -2], I32 [1] = [-3], F16 [1] = [1] (0x3c00), BOOL [2] = [1, 0], U8 [] = 200: every value written out as bytes.
const SPEC_HEADER = '{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
  + '"i":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},"h":{"dtype":"F16","shape":[1],"data_offsets":[12,14]},'
  + '"m":{"dtype":"BOOL","shape":[2],"data_offsets":[14,16]},"u":{"dtype":"U8","shape":[],"data_offsets":[16,17]}}';
const SPEC_DATA = [0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x00, 0xc0, 0xfd, 0xff, 0xff, 0xff, 0x00, 0x3c, 0x01, 0x00, 200];

test(`${RUNTIME}: safetensors: a file built from the specification loads, and save writes the same bytes`, async () => {
  const file = assemble(SPEC_HEADER, SPEC_DATA);
  const sd = T.load(file);
  assert.equal(Object.keys(sd), ['w', 'i', 'h', 'm', 'u']);
  assert.equal(Array.from(await sd.w.data()), [1.5, -2]);
  assert.equal(Array.from(await sd.i.data<'i32'>()), [-3]);
  assert.is(sd.h.dtype, 'f16');
  assert.equal(Array.from(await sd.h.data<'f16'>()), [1]);
  assert.equal(Array.from(await sd.m.data<'bool'>()), [1, 0]);
  assert.equal(sd.u.shape, []);
  assert.equal(Array.from(await sd.u.data<'u8'>()), [200]);
  assert.equal(T.loadMetadata(file), { format: 'pt' });
  const again = await T.save(sd, { metadata: { format: 'pt' } });
  assert.equal(Array.from(again), Array.from(file));
  for (const t of Object.values(sd)) t.dispose();
});

for (const device of devices) {
  test(`${RUNTIME}: ${device}: safetensors round trip of every dtype, views, empty and special values`, async () => {
    const f = T.tensor(new Float32Array([0, -0, 1e-40, NaN, Infinity, -Infinity, 3.25, -7]), [2, 4], { device });
    const sd: T.StateDict = {
      'layer.0.weight': f,
      't': T.transpose(f, [1, 0]), // a strided view is saved row-major
      'half': T.tensor(new Float32Array([1, 65504, 2 ** -24, -0.5]), [4], { dtype: 'f16', device }),
      'idx': T.tensor(new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0]), [3], { device }),
      'bytes': T.tensor(new Uint8Array([0, 255, 7]), [3, 1], { device }),
      'mask': T.tensor([true, false, true], [3], { device }),
      'empty': T.zeros([0, 5], { device }),
    };
    const bytes = await T.save(sd);
    const back = T.load(bytes, { device });
    assert.equal(Object.keys(back), Object.keys(sd));
    for (const [name, t] of Object.entries(sd)) {
      assert.is(back[name].device, device);
      assert.is(back[name].dtype, t.dtype, name);
      assert.equal(back[name].shape, t.shape, name);
      const want = Array.from(await t.data<T.DType>()), got = Array.from(await back[name].data<T.DType>());
      assert.equal(got.map(String), want.map(String), name); // String: NaN and -0 compare as themselves
    }
    // Bits, not just values: the f32 NaN and -0 and the f16 halves come back unchanged.
    const again = await T.save(back);
    assert.equal(Array.from(again), Array.from(bytes));
    for (const t of [...Object.values(sd), ...Object.values(back)]) t.dispose();
  });
}

test(`${RUNTIME}: safetensors: malformed files are FormatErrors naming the problem, and nothing leaks`, () => {
  const live = T.memoryStats().cpu.liveTensors;
  const bad = (file: Uint8Array, kind: new (...a: never[]) => Error, re: RegExp) =>
    assert.throws(() => T.load(file), (e: unknown) => e instanceof kind && re.test((e as Error).message), re.source);
  const entry = (name: string, dtype: string, shape: number[], b: number, e: number) => `"${name}":{"dtype":"${dtype}","shape":[${shape}],"data_offsets":[${b},${e}]}`;
  bad(new Uint8Array(5), T.FormatError, /too short/);
  bad(assemble(`{${entry('a', 'F32', [1], 0, 4)}}`, [0, 0, 0]), T.FormatError, /outside the 3-byte data buffer/);
  const huge = assemble('{}', []);
  huge[5] = 1; // a header length of 2^40
  bad(huge, T.FormatError, /header claims/);
  bad(assemble(`{${entry('a', 'F32', [2], 0, 4)}}`, [0, 0, 0, 0]), T.FormatError, /needs 8 bytes, its data_offsets span 4/);
  bad(assemble(`{${entry('a', 'F32', [1], 4, 8)}}`, new Array(8).fill(0)), T.FormatError, /starts at byte 4 .*\(a hole\)/);
  bad(assemble(`{${entry('a', 'F32', [1], 0, 4)},${entry('b', 'U8', [2], 2, 4)}}`, [0, 0, 0, 0]), T.FormatError, /starts at byte 2 .*\(an overlap\)/);
  bad(assemble(`{${entry('a', 'U8', [1], 0, 1)}}`, [1, 2]), T.FormatError, /cover 1 bytes of a 2-byte data buffer/);
  bad(assemble(`{${entry('a', 'F64', [1], 0, 8)}}`, new Array(8).fill(0)), T.DTypeError, /"a" has dtype F64/);
  bad(assemble(`{${entry('a', 'U8', [1], 0, 1)},${entry('m', 'BOOL', [2], 1, 3)}}`, [9, 1, 2]), T.FormatError, /"m" is BOOL but byte 1 holds 2/);
  bad(assemble(`{${entry('a', 'F32', [-1], 0, 4)}}`, [0, 0, 0, 0]), T.FormatError, /"a": .*invalid dimension -1/);
  bad(assemble('{"a": [1, 2', []), T.FormatError, /not UTF-8 JSON/);
  bad(assemble('[]', []), T.FormatError, /does not start with/);
  assert.is(T.memoryStats().cpu.liveTensors, live, 'a refused file leaves no tensors behind');
});

if (devices.includes('gpu')) {
  test(`${RUNTIME}: safetensors: save waits for a pending tensor (a copy still coming back from the gpu)`, async () => {
    const x = Float32Array.from({ length: 300 }, (_, i) => i * 0.5 - 7);
    const g = T.tensor(x, [3, 100], { device: 'gpu' });
    const c = T.to(T.relu(g), 'cpu'); // returned at once; its bytes land with the readback
    const back = T.load(await T.save({ c }));
    assert.equal(Array.from(await back.c.data()), Array.from(x).map((v) => Math.max(0, v)));
    for (const t of [g, c, back.c]) t.dispose();
  });
}

test(`${RUNTIME}: safetensors: save refuses what it cannot write`, async () => {
  const t = T.zeros([2]);
  t.dispose();
  try {
    await T.save({ w: t });
    assert.unreachable();
  } catch (e) {
    assert.instance(e, T.DisposedError);
    assert.match((e as Error).message, /save:/);
  }
  const u = T.zeros([1]);
  await T.save({ __metadata__: u }).then(() => assert.unreachable(), (e: Error) => assert.match(e.message, /reserved for metadata/));
  u.dispose();
});

test.run();
