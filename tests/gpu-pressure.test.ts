/**
 * GPU refusals on a real device. WebGPU reports out-of-memory only through an error scope,
 * after the fact, so the backend holds later calls behind a new large buffer until the device
 * has answered (src/backend/webgpu.ts). Refusals are injected by a device wrapper whose refused
 * buffers are really unusable (destroyed at once: a submit naming one fails, and the test sees
 * it as an uncaptured error and as wrong data). On Dawn + SwiftShader a real refusal is cheap:
 * a 1 GiB buffer is beyond SwiftShader's largest allocation, refused at once, nothing allocated.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { WebGPUBackend } from '../src/backend/webgpu.ts';
import { backendFor } from '../src/runtime.ts';
import { RUNTIME, info } from './harness.ts';

const MiB = 2 ** 20;

/**
 * `device` with createBuffer refusing the next `ctl.refuse` requests of at least 1 MiB; the
 * buffers it made record their destroy() in `ctl.destroyed`.
 */
function refusing(device: GPUDevice) {
  const ctl = { refuse: 0, refused: 0, scopeRefused: false, destroyed: new WeakSet<GPUBuffer>() };
  const wrapped = new Proxy(device, {
    get(target, prop) {
      if (prop === 'createBuffer') {
        return (desc: GPUBufferDescriptor) => {
          const b = target.createBuffer(desc);
          const destroy = b.destroy.bind(b);
          b.destroy = () => { ctl.destroyed.add(b); destroy(); };
          if (ctl.refuse > 0 && desc.size >= MiB) {
            ctl.refuse--; ctl.refused++; ctl.scopeRefused = true;
            b.destroy();
          }
          return b;
        };
      }
      if (prop === 'popErrorScope') {
        return () => {
          const refused = ctl.scopeRefused;
          ctl.scopeRefused = false;
          return target.popErrorScope().then((e) => e ?? (refused ? { message: 'injected: out of memory' } as GPUError : null));
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { device: wrapped, ctl };
}

if (info.gpu) {
  const real = (backendFor('gpu', 'test') as WebGPUBackend).device;
  const { device, ctl } = refusing(real);
  const gpu = new WebGPUBackend(device); // its own pool; never destroyed (the device is shared)
  const uncaptured: string[] = [];
  const listen = (ev: Event) => uncaptured.push((ev as GPUUncapturedErrorEvent).error.message);
  const add = (n: number) => ({ op: 'add' as const, shape: [n], aStrides: [1], bStrides: [1] });
  const N = MiB / 4;
  const ramp = new Float32Array(N).map((_, i) => i % 1000);

  test(`${RUNTIME}: gpu refusal (injected) once: the cache is emptied, a new buffer swapped in before any use, the work is right`, async () => {
    real.addEventListener('uncapturederror', listen);
    try {
      const idle = gpu.alloc(4 * MiB); // a class of its own, idle in the pool: emptyCache frees it
      gpu.free(idle);
      await gpu.read(idle, 4).catch(() => null); // wait out the held calls: idle is pooled now
      ctl.refuse = 1;
      const x = gpu.alloc(4 * N), y = gpu.alloc(4 * N); // x is refused, y accepted
      const refusedBuffer = x.buffer;
      gpu.write(x, ramp);
      gpu.run('binary', [x, x], y, add(N));
      const got = new Float32Array((await gpu.read(y, 4 * N)).buffer);
      assert.is(ctl.refused, 1);
      assert.ok(x.buffer !== refusedBuffer, 'swapped');
      assert.ok(got.every((v, i) => v === 2 * ramp[i]), 'the add saw the data written (a submit naming the refused buffer would have failed)');
      assert.equal(uncaptured, []);
      assert.ok(ctl.destroyed.has(idle.buffer), 'the retry emptied the cache');
      assert.ok(ctl.destroyed.has(refusedBuffer));
      for (const b of [x, y]) gpu.free(b);
    } finally {
      real.removeEventListener('uncapturederror', listen);
    }
  });

  test(`${RUNTIME}: gpu refusal (injected) twice: OutOfMemoryError with the size and stats; calls naming the buffer are skipped; others run`, async () => {
    real.addEventListener('uncapturederror', listen);
    try {
      const inUse = gpu.pool.bytesInUse, refused = ctl.refused;
      ctl.refuse = 2;
      const x = gpu.alloc(3 * MiB); // refused, and refused again after emptying the cache
      const y = gpu.alloc(4 * N); // a pool hit: not checked, and its output is dead by x
      const a = gpu.alloc(16), z = gpu.alloc(16);
      gpu.write(x, new Float32Array(3 * N).fill(1));
      gpu.run('binary', [x, x], y, add(N));
      gpu.write(a, new Float32Array([1, 2, 3, 4]));
      gpu.run('binary', [a, a], z, add(4)); // in the same batch as the skipped run
      try {
        await gpu.read(y, 16);
        assert.unreachable('y was computed from a refused buffer');
      } catch (e) {
        assert.instance(e, T.OutOfMemoryError);
        assert.match((e as Error).message, /cannot allocate 3145728 bytes/);
        assert.match((e as Error).message, /refused it twice/);
        assert.match((e as Error).message, /"bytesInUse":\d+/);
      }
      assert.is(ctl.refused, refused + 2);
      assert.equal(Array.from(new Float32Array((await gpu.read(z, 16)).buffer)), [2, 4, 6, 8], 'the rest of the batch ran');
      const err = await gpu.read(x, 16).catch((e: unknown) => e);
      assert.instance(err, T.OutOfMemoryError, 'the refused buffer itself reads as the error');
      gpu.run('binary', [a, a], z, add(4)); // later calls work and report nothing
      assert.equal(Array.from(new Float32Array((await gpu.read(z, 16)).buffer)), [2, 4, 6, 8]);
      assert.equal(uncaptured, [], 'nothing naming the refused buffer reached a submit');
      for (const b of [x, y, a, z]) gpu.free(b);
      await gpu.read(z, 4).catch(() => null);
      assert.is(gpu.pool.bytesInUse, inUse, 'a refused request holds nothing once freed');
      const fresh = gpu.alloc(3 * MiB); // the dead buffer did not return to the pool
      gpu.write(fresh, new Float32Array(3 * N).fill(5));
      assert.is(new Float32Array((await gpu.read(fresh, 16)).buffer)[3], 5);
      gpu.free(fresh);
    } finally {
      real.removeEventListener('uncapturederror', listen);
    }
  });

  // Dawn (Node's `webgpu`) on SwiftShader refuses 1 GiB through the error scope at once;
  // Deno's and Chromium's limits and drivers differ, and a buffer they accept would really be
  // allocated (seconds, and a GiB of RAM), so the real refusal is only provoked here.
  const cap = Math.min(real.limits.maxBufferSize, real.limits.maxStorageBufferBindingSize);
  if (RUNTIME === 'node' && /SwiftShader/.test(info.gpu.adapter) && cap >= 2 ** 30) {
    test(`${RUNTIME}: gpu refusal (real, SwiftShader): a 1 GiB buffer is refused twice, then OutOfMemoryError; the device works on`, async () => {
      const main = backendFor('gpu', 'test') as WebGPUBackend;
      const before = T.memoryStats().gpu!;
      const big = main.alloc(2 ** 30);
      const err = await main.read(big, 4).catch((e: unknown) => e);
      assert.instance(err, T.OutOfMemoryError);
      assert.match((err as Error).message, /cannot allocate 1073741824 bytes/);
      assert.match((err as Error).message, /refused it twice/);
      main.free(big);
      const t = T.ones([1000], { device: 'gpu' }), total = T.sum(t);
      assert.is((await total.data())[0], 1000);
      t.dispose(); total.dispose();
      assert.is(T.memoryStats().gpu!.bytesInUse, before.bytesInUse);
    });
  }
}

test.run();
