/**
 * Views: reshape, permute/transpose, slice, narrow share storage; concat and contiguous copy.
 * Values are checked against plain index arithmetic on every device, views feed kernels, and
 * storage outlives its first owner while a view holds it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { WasmBackend } from '../src/backend/wasm.ts';
import { backendFor, wasmModule } from '../src/runtime.ts';
import { collapseCopy } from '../src/ops/layout.ts';
import { REQUIRE_GPU, RUNTIME, info, threadedCpu } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['ref', 'cpu', 'gpu'] : ['ref', 'cpu'];
const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
const arr = async (t: T.Tensor) => Array.from(await t.data());

for (const device of devices) {
  test(`${RUNTIME}: ${device}: reshape is a view, with -1 inferred`, async () => {
    const t = T.tensor(iota(24), [2, 3, 4], { device });
    const r = T.reshape(t, [4, -1]);
    assert.equal(r.shape, [4, 6]);
    assert.ok(r.isContiguous);
    assert.equal(await arr(r), iota(24));
    assert.equal(T.reshape(t, [24]).shape, [24]);
    assert.equal(T.reshape(T.zeros([0, 3], { device }), [3, 0]).shape, [3, 0]);
    // With 0 elements, -1 could be anything: refused, as PyTorch does.
    assert.throws(() => T.reshape(T.zeros([0, 3], { device }), [3, 0, -1]), /cannot infer -1/);
  });

  test(`${RUNTIME}: ${device}: transpose and permute reorder values; reshape of them copies`, async () => {
    const t = T.tensor(iota(24), [2, 3, 4], { device });
    const p = T.permute(t, [2, 0, 1]);
    assert.equal(p.shape, [4, 2, 3]);
    assert.not.ok(p.isContiguous);
    const want: number[] = [];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) want.push(i * 12 + j * 4 + k);
    assert.equal(await arr(p), want);
    assert.equal(await arr(T.reshape(p, [24])), want);
    const m = T.tensor(iota(6), [2, 3], { device });
    assert.equal(await arr(T.transpose(m)), [0, 3, 1, 4, 2, 5]);
    assert.equal(await arr(T.transpose(T.transpose(m))), iota(6));
  });

  test(`${RUNTIME}: ${device}: slice and narrow, negative and clamped bounds`, async () => {
    const t = T.tensor(iota(20), [4, 5], { device });
    assert.equal(await arr(T.slice(t, [1, 2], [3, 5])), [7, 8, 9, 12, 13, 14]);
    assert.equal(await arr(T.slice(t, [-1])), [15, 16, 17, 18, 19]);
    assert.equal(await arr(T.slice(t, [0, -2], [99, 99])), [3, 4, 8, 9, 13, 14, 18, 19]);
    assert.equal(T.slice(t, [3], [1]).shape, [0, 5]);
    assert.equal(await arr(T.narrow(t, 1, 1, 2)), [1, 2, 6, 7, 11, 12, 16, 17]);
    assert.equal(await arr(T.narrow(T.transpose(t), 0, -1, 1)), [4, 9, 14, 19]);
  });

  test(`${RUNTIME}: ${device}: concat along any axis, with views and empty parts`, async () => {
    const a = T.tensor(iota(6), [2, 3], { device }), b = T.tensor([10, 11], [2, 1], { device });
    assert.equal(await arr(T.concat([a, b], 1)), [0, 1, 2, 10, 3, 4, 5, 11]);
    assert.equal(await arr(T.concat([a, T.zeros([0, 3], { device }), a], 0)), [...iota(6), ...iota(6)]);
    assert.equal(await arr(T.cat([T.transpose(a), T.tensor([7, 8], [1, 2], { device })], 0)), [0, 3, 1, 4, 2, 5, 7, 8]);
    assert.equal(await arr(T.concat([a], -1)), iota(6));
  });

  test(`${RUNTIME}: ${device}: views feed kernels (materialised on the fly)`, async () => {
    const a = T.tensor(iota(6), [2, 3], { device });
    const at = T.transpose(a); // [3, 2]
    assert.equal(await arr(T.matmul(at, a)), [9, 12, 15, 12, 17, 22, 15, 22, 29]);
    // [[1, 2], [4, 5]] + [[4, 5]] (broadcast)
    assert.equal(await arr(T.add(T.slice(a, [0, 1]), T.slice(a, [1, 1]))), [5, 7, 8, 10]);
    assert.equal(await arr(T.sum(at, 0)), [3, 12]);
  });

  test(`${RUNTIME}: ${device}: a view keeps storage alive after its base is disposed`, async () => {
    const a = T.tensor(iota(6), [2, 3], { device });
    const v = T.transpose(a);
    a.dispose();
    assert.ok(a.disposed);
    assert.throws(() => T.transpose(a), (e: unknown) => e instanceof T.DisposedError);
    assert.equal(await arr(v), [0, 3, 1, 4, 2, 5]);
    v.dispose();
    assert.throws(() => T.contiguous(v), (e: unknown) => e instanceof T.DisposedError && /contiguous/.test((e as Error).message));
  });
}

test(`${RUNTIME}: views: memory returns to baseline once every view is gone`, async () => {
  const cpu = backendFor('cpu', 'test') as unknown as { bytesInUse: number };
  const base = cpu.bytesInUse;
  const a = T.randn([16, 16], { seed: 1 });
  const views = [T.transpose(a), T.slice(a, [2], [5]), T.reshape(a, [256]), T.narrow(a, 1, 3, 4)];
  const copies = [T.contiguous(views[0]), T.concat([views[1], views[1]])];
  a.dispose();
  assert.ok(cpu.bytesInUse > base);
  for (const t of [...views, ...copies]) t.dispose();
  assert.is(cpu.bytesInUse, base);
});

test(`${RUNTIME}: views: bad layouts are ShapeErrors that name the problem`, () => {
  const t = T.zeros([2, 3]);
  assert.throws(() => T.reshape(t, [4, 2]), /reshape: \[2, 3\] has 6 elements, \[4, 2\] needs 8/);
  assert.throws(() => T.reshape(t, [-1, -1]), /only one dimension can be -1/);
  assert.throws(() => T.reshape(t, [-1, 4]), /cannot infer -1/);
  assert.throws(() => T.permute(t, [0, 0]), /repeats an axis/);
  assert.throws(() => T.permute(t, [0]), /must list all 2 axes/);
  assert.throws(() => T.narrow(t, 1, 2, 2), /narrow: start 2 and length 2 do not fit axis 1 of size 3/);
  assert.throws(() => T.concat([t, T.zeros([2, 4])], 0), /concat: \[2, 4\] does not match \[2, 3\] outside axis 0/);
  assert.throws(() => T.concat([]), /non-empty array/);
  for (const fn of [() => T.reshape(t, [7]), () => T.permute(t, [0, 0]), () => T.narrow(t, 5, 0, 1)]) {
    assert.throws(fn, (e: unknown) => e instanceof T.ShapeError);
  }
});

// The copy kernel at the seam, every item size, against the reference.
const module = await wasmModule();
const copyEngines: [string, { alloc(n: number): unknown; write(b: unknown, d: ArrayBufferView): void; read(b: unknown, n: number): Promise<Uint8Array>; run(k: 'copy', i: unknown[], o: unknown, p: unknown): void; free(b: unknown): void }][] = [
  ['wasm', new WasmBackend(module) as never],
  ...(await threadedCpu().then((b) => (b ? [['wasm-2threads', b] as never] : []))),
  ...(info.gpu ? [['webgpu', backendFor('gpu', 'test')] as never] : []),
];
for (const [name, be] of copyEngines) {
  test(`${RUNTIME}: ${name}: copy kernel, 1/2/4-byte items, strided both sides, odd extents`, async () => {
    const ref = new ReferenceBackend();
    for (const itemBytes of [4, 2, 1] as const) {
      for (const [shape, src, dst] of [
        [[5, 7], [1, 5], [7, 1]], [[3, 4, 5], [20, 1, 4], [20, 5, 1]], [[13], [3], [1]], [[1], [1], [1]], [[2, 1, 3], [3, 9, 1], [3, 3, 1]],
      ] as [number[], number[], number[]][]) {
        const bytesIn = 128 * itemBytes, bytesOut = 128 * itemBytes;
        const input = new Uint8Array(bytesIn).map((_, i) => (i * 37 + 11) & 255);
        const p = { itemBytes, ...collapseCopy(shape, src, dst), srcOffset: 2, dstOffset: 3 };
        const go = async (b: typeof be) => {
          const i = b.alloc(bytesIn), o = b.alloc(bytesOut);
          b.write(i, input);
          b.write(o, new Uint8Array(bytesOut).fill(0xee)); // bytes not addressed must survive
          b.run('copy', [i], o, p);
          const r = await b.read(o, bytesOut);
          b.free(i); b.free(o);
          return r;
        };
        assert.equal(Array.from(await go(be)), Array.from(await go(ref as never)), `${itemBytes}-byte items, shape [${shape}]`);
      }
    }
  });
}

test.run();
