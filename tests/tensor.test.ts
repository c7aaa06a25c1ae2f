/**
 * The public tensor API on each device: creation, op semantics (shapes, axes, keepDims),
 * moving between devices, and the lifecycle (dispose, `using`, double dispose).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { REQUIRE_GPU, RUNTIME, info } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const arr = async (t: T.Tensor) => Array.from(await t.data());

test(`${RUNTIME}: init reports what it found`, () => {
  assert.is(info.cpu.simd, true);
  assert.is(info.cpu.threads, 1);
  if (REQUIRE_GPU) {
    assert.ok(info.gpu, 'a WebGPU adapter');
    assert.type(info.gpu!.adapter, 'string');
    assert.type(info.gpu!.fallback, 'boolean');
    assert.ok(Array.isArray(info.gpu!.features));
  }
});

for (const device of devices) {
  test(`${RUNTIME}: ${device}: creation, fill values and metadata`, async () => {
    const t = T.tensor([1, 2, 3, 4, 5, 6], [2, 3], { device });
    assert.equal(t.shape, [2, 3]);
    assert.is(t.dtype, 'f32');
    assert.is(t.device, device);
    assert.is(t.size, 6);
    assert.equal(await arr(t), [1, 2, 3, 4, 5, 6]);
    assert.equal(await arr(T.zeros([2, 2], { device })), [0, 0, 0, 0]);
    assert.equal(await arr(T.ones([3], { device })), [1, 1, 1]);
    assert.equal(await arr(T.tensor(new Float64Array([0.5, 1.5]), undefined, { device })), [0.5, 1.5]);
    assert.equal(T.zeros([0, 4], { device }).size, 0);
    assert.equal(await arr(T.zeros([0, 4], { device })), []);
  });

  test(`${RUNTIME}: ${device}: randn is seeded, identical across devices, roughly standard`, async () => {
    const x = await T.randn([4096], { seed: 7, device }).data();
    const y = await T.randn([4096], { seed: 7, device: 'ref' }).data();
    assert.equal(Array.from(x), Array.from(y));
    const z = await T.randn([4096], { seed: 8, device }).data();
    assert.not.equal(Array.from(x.slice(0, 8)), Array.from(z.slice(0, 8)));
    const mean = x.reduce((s, v) => s + v, 0) / x.length;
    const variance = x.reduce((s, v) => s + (v - mean) ** 2, 0) / x.length;
    assert.ok(Math.abs(mean) < 0.06 && Math.abs(variance - 1) < 0.08, `mean ${mean}, variance ${variance}`);
  });

  test(`${RUNTIME}: ${device}: ops compute what their names say`, async () => {
    const a = T.tensor([1, -2, 3, -4, 5, -6], [2, 3], { device });
    const row = T.tensor([10, 20, 30], [3], { device });
    const s = T.tensor([2], [], { device });
    assert.equal(await arr(T.add(a, row)), [11, 18, 33, 6, 25, 24]);
    assert.equal(await arr(T.mul(s, a)), [2, -4, 6, -8, 10, -12]);
    assert.equal(await arr(T.relu(a)), [1, 0, 3, 0, 5, 0]);
    assert.equal((await T.sum(a).data())[0], -3);
    assert.equal(T.sum(a).shape, []);
    assert.equal(await arr(T.sum(a, 0)), [-3, 3, -3]);
    assert.equal(await arr(T.sum(a, -1)), [2, -5]);
    assert.equal(T.sum(a, 1, { keepDims: true }).shape, [2, 1]);
    assert.equal(T.sum(a, undefined, { keepDims: true }).shape, [1, 1]);
    const b = T.tensor([1, 0, 0, 1, 1, 1], [3, 2], { device });
    const c = T.matmul(a, b);
    assert.equal(c.shape, [2, 2]);
    assert.equal(await arr(c), [4, 1, -10, -1]);
    assert.equal(await arr(T.sum(T.zeros([3, 0], { device }), 1)), [0, 0, 0]);
    assert.equal(await arr(T.matmul(T.zeros([2, 0], { device }), T.zeros([0, 3], { device }))), [0, 0, 0, 0, 0, 0]);
  });

  test(`${RUNTIME}: ${device}: to() copies across devices and leaves the source alone`, async () => {
    const a = T.tensor([1, 2, 3], [3], { device });
    const other: T.Device = device === 'cpu' ? (info.gpu ? 'gpu' : 'ref') : 'cpu';
    const b = await a.to(other);
    assert.is(b.device, other);
    assert.equal(b.shape, [3]);
    assert.equal(await arr(b), [1, 2, 3]);
    assert.equal(await arr(a), [1, 2, 3]);
  });

  test(`${RUNTIME}: ${device}: dispose, double dispose, using, and use after dispose`, async () => {
    const a = T.ones([4], { device });
    a.dispose();
    a.dispose();
    assert.ok(a.disposed);
    assert.throws(() => T.relu(a), (e: unknown) => e instanceof T.DisposedError && /relu/.test((e as Error).message));
    try {
      await a.data();
      assert.unreachable('data() of a disposed tensor');
    } catch (e) {
      assert.instance(e, T.DisposedError);
      assert.match((e as Error).message, /data/);
    }
    let escaped: T.Tensor;
    {
      using b = T.ones([2], { device });
      escaped = b;
      assert.not.ok(b.disposed);
    }
    assert.ok(escaped.disposed);
  });
}

test(`${RUNTIME}: cpu: freed memory is reused, so bytes in use return to the baseline`, async () => {
  const { backendFor } = await import('../src/runtime.ts');
  const cpu = backendFor('cpu', 'test') as unknown as { bytesInUse: number };
  const base = cpu.bytesInUse;
  for (let i = 0; i < 20; i++) {
    const x = T.randn([64, 64], { seed: i });
    const y = T.matmul(x, x);
    const r = T.relu(y);
    const z = T.sum(r, 0);
    await z.data();
    for (const t of [x, y, r, z]) t.dispose();
  }
  assert.is(cpu.bytesInUse, base);
});

test.run();
