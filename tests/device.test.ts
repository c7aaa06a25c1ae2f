/**
 * The gpu backend on a device of its own: errors WebGPU reports asynchronously surface as
 * typed errors on the next call (never as silent zeros), and a destroyed or lost device
 * refuses work with a DeviceError.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireGPU } from '../src/backend/acquire.ts';
import { WebGPUBackend } from '../src/backend/webgpu.ts';
import { DeviceError, GPUKernelError } from '../src/errors.ts';
import { REQUIRE_GPU, RUNTIME } from './harness.ts';

const got = await acquireGPU();

test(`${RUNTIME}: webgpu: a second device can be acquired for isolated tests`, () => {
  if (REQUIRE_GPU) assert.ok(got, 'acquireGPU() found an adapter');
});

if (got) {
  const be = new WebGPUBackend(got.device, got.keepAlive);

  test(`${RUNTIME}: webgpu: a validation error becomes a GPUKernelError, then the device works on`, async () => {
    const a = be.alloc(16), b = be.alloc(16), out = be.alloc(16);
    a.buffer.destroy(); // destroyed, then used by a dispatch: WebGPU rejects the submit (free() pools it, so destroy by hand)
    be.run('binary', [a, b], out, { op: 'add', shape: [4], aStrides: [1], bStrides: [1] });
    let thrown: unknown = null;
    for (let i = 0; i < 50 && !thrown; i++) {
      try { await be.read(out, 16); } catch (e) { thrown = e; }
    }
    assert.instance(thrown, GPUKernelError);
    assert.match((thrown as Error).message, /destroyed/i);
    const c = be.alloc(8);
    be.write(c, new Float32Array([1, 2]));
    const back = await be.read(c, 8);
    assert.equal(Array.from(new Float32Array(back.buffer, back.byteOffset, 2)), [1, 2]);
  });

  test(`${RUNTIME}: webgpu: a destroyed device refuses work with a DeviceError`, async () => {
    be.destroy();
    assert.throws(() => be.alloc(4), (e: unknown) => e instanceof DeviceError && /device was lost/.test((e as Error).message));
    try {
      await be.read(be as never, 1);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, DeviceError);
    }
  });
}

test.run();
