/**
 * The gpu backend's pipeline cache and submit batching (src/backend/webgpu.ts): one compile per
 * key however many runs wait on it; calls issued while a pipeline compiles keep their order
 * (writes, runs, frees and reads behind it, and a write's data copied at the call); a WGSL
 * error is a GPUKernelError naming the line, after which the backend keeps working; batched
 * and one-per-submit dispatch agree; the tiered matmul runs its fallback until the fast rung
 * is compiled; T.warmup compiles what the ops need. Test programs carry a fresh nonce in their
 * key so every run of this file starts from a cache miss.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import type { WebGPUBackend } from '../src/backend/webgpu.ts';
import { FALLBACK_MACS, matmulProgram } from '../src/backend/wgsl-matmul.ts';
import { PROGRAMS, type Program } from '../src/backend/wgsl-programs.ts';
import { backendFor } from '../src/runtime.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { REQUIRE_GPU, RUNTIME, info, randomData } from './harness.ts';

const ref = new ReferenceBackend();
const gpu = info.gpu ? (backendFor('gpu', 'test') as unknown as WebGPUBackend) : null;
let nonce = Math.floor(Math.random() * 1e9);

/** out[i] = in[i] * scale + shift over n elements (uniforms: n, scale, shift). */
function affine(n: number, scale: number, shift: number, code = AFFINE): Program {
  const u = new Uint32Array(4);
  u[0] = n;
  new Float32Array(u.buffer).set([scale, shift], 1);
  return { key: { kernel: 'test-affine', nonce: nonce++ }, code, entry: 'main', grid: [Math.ceil(n / 64), 1, 1], uniforms: u };
}
const AFFINE = `struct U { n: u32, scale: f32, shift: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@group(0) @binding(2) var<uniform> u: U;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < u.n) { Y[g.x] = X[g.x] * u.scale + u.shift; }
}`;
const same = (key: Program, p: Program): Program => ({ ...p, key: key.key });

async function readF32(be: WebGPUBackend, buf: ReturnType<WebGPUBackend['alloc']>, n: number): Promise<number[]> {
  const b = await be.read(buf, n * 4);
  return [...new Float32Array(b.buffer, b.byteOffset, n)];
}

/** Count createComputePipelineAsync calls on this device while `f` runs. */
async function countingCompiles<R>(be: WebGPUBackend, f: () => Promise<R>): Promise<[R, number]> {
  const dev = be.device as GPUDevice & { createComputePipelineAsync: GPUDevice['createComputePipelineAsync'] };
  const orig = dev.createComputePipelineAsync;
  let count = 0;
  dev.createComputePipelineAsync = function (this: GPUDevice, d: GPUComputePipelineDescriptor) { count++; return orig.call(this, d); };
  try {
    return [await f(), count];
  } finally {
    delete (dev as { createComputePipelineAsync?: unknown }).createComputePipelineAsync;
    if (dev.createComputePipelineAsync !== orig) dev.createComputePipelineAsync = orig;
  }
}

if (!gpu) {
  test(`${RUNTIME}: gpu pipelines: a WebGPU adapter exists`, () => {
    if (REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
  });
} else {
  test(`${RUNTIME}: gpu: calls behind a compiling pipeline keep their order; one compile per key`, async () => {
    const be = gpu;
    const x = be.alloc(16), y = be.alloc(16), z = be.alloc(16), w = be.alloc(16);
    const host = new Float32Array([1, 2, 3, 4]);
    const [[ry, rz, rw], compiles] = await countingCompiles(be, async () => {
      be.write(x, host);
      const p = affine(4, 2, 1);
      assert.not.ok(be.hasPipeline(p));
      be.dispatch(p, [x], y); // miss: held until compiled
      host.set([10, 20, 30, 40]); // the held write below must carry these, the one above not
      be.write(x, host);
      host.fill(-1); // too late to matter: write() copied
      be.dispatch(same(p, affine(4, 3, 0)), [x], z); // same key, new uniforms: no second compile
      const early = readF32(be, y, 4); // issued now, answered after the held work
      be.dispatch(same(p, affine(4, 1, 5)), [y], w); // reads y as the first run left it
      const ry = await early;
      return [ry, await readF32(be, z, 4), await readF32(be, w, 4)];
    });
    assert.equal(ry, [3, 5, 7, 9]);
    assert.equal(rz, [30, 60, 90, 120]);
    assert.equal(rw, [8, 10, 12, 14]);
    assert.is(compiles, 1);
    for (const b of [x, y, z, w]) be.free(b);
  });

  test(`${RUNTIME}: gpu: a free issued behind a compiling run waits for it`, async () => {
    const be = gpu;
    const x = be.alloc(16), y = be.alloc(16);
    be.write(x, new Float32Array([1, 1, 1, 1]));
    be.dispatch(affine(4, 1, 1), [x], y);
    be.free(x); // must not destroy x before the held dispatch reads it
    assert.equal(await readF32(be, y, 4), [2, 2, 2, 2]);
    be.free(y);
  });

  test(`${RUNTIME}: gpu: a WGSL error is a GPUKernelError naming its line; the backend keeps working`, async () => {
    const be = gpu;
    const broken = AFFINE.replace('Y[g.x] = X[g.x] * u.scale + u.shift;', 'Y[g.x] = X[g.x] * u.scale + undefinedThing;');
    const line = broken.split('\n').findIndex((l) => l.includes('undefinedThing')) + 1;
    const lineRe = new RegExp(`line ${line}:|:${line}:\\d`);
    const x = be.alloc(16), y = be.alloc(16);
    be.write(x, new Float32Array([1, 2, 3, 4]));
    // Through precompile (T.warmup's path)...
    const e1 = await be.precompile([affine(4, 1, 0, broken)]).then(() => null, (e: unknown) => e);
    assert.instance(e1, T.GPUKernelError);
    assert.match((e1 as Error).message, lineRe);
    assert.match((e1 as Error).message, /test-affine/);
    // ...and through a run: the next call that touches the device throws it.
    be.dispatch(affine(4, 1, 0, broken), [x], y);
    const e2 = await be.read(y, 16).then(() => null, (e: unknown) => e);
    assert.instance(e2, T.GPUKernelError);
    assert.match((e2 as Error).message, lineRe);
    be.dispatch(affine(4, 2, 0), [x], y);
    assert.equal(await readF32(be, y, 4), [2, 4, 6, 8]);
    be.free(x); be.free(y);
  });

  test(`${RUNTIME}: gpu: batched submits and one submit per run give the same chain of results`, async () => {
    const be = gpu;
    const x = be.alloc(16), a = be.alloc(16), b = be.alloc(16);
    const p = affine(4, 1, 1);
    await be.precompile([p]);
    const results: number[][] = [];
    for (const limit of [1, 7, Infinity]) {
      be.batchLimit = limit;
      be.write(x, new Float32Array([0, 1, 2, 3]));
      be.dispatch(p, [x], a);
      for (let i = 1; i < 50; i++) be.dispatch(p, i % 2 ? [a] : [b], i % 2 ? b : a); // dependent chain
      results.push(await readF32(be, b, 4));
    }
    be.batchLimit = 64;
    assert.equal(results, [[50, 51, 52, 53], [50, 51, 52, 53], [50, 51, 52, 53]]);
    for (const buf of [x, a, b]) be.free(buf);
  });

  test(`${RUNTIME}: gpu: a small matmul runs its naive fallback while rb compiles, then rb`, async () => {
    const be = gpu;
    // Nonces in the keys make this rb program and its fallback misses whatever ran before.
    const fresh = (p: Program): Program => ({ ...p, key: { ...p.key, nonce }, fallback: p.fallback && fresh(p.fallback) });
    const params = { m: 9, k: 5, n: 7, bias: true, activation: 'relu' as const };
    const prog = fresh(matmulProgram(params, be.limits));
    assert.is(prog.key.variant, 'rb');
    assert.ok(prog.fallback && prog.fallback.key.variant === 'naive');
    assert.not.ok(matmulProgram({ m: 1024, k: 1024, n: 1024 }, be.limits).fallback, 'large products wait for rb');
    assert.ok(9 * 5 * 7 <= FALLBACK_MACS);
    const inputs = [randomData(45, 1), randomData(35, 2), randomData(7, 3)];
    const refBufs = inputs.map((d) => { const r = ref.alloc(d.byteLength); ref.write(r, d); return r; });
    const refOut = ref.alloc(63 * 4);
    ref.run('matmul', refBufs, refOut, params);
    const want = new Float32Array((await ref.read(refOut, 63 * 4)).buffer);
    const bufs = inputs.map((d) => { const g = be.alloc(d.byteLength); be.write(g, d); return g; });
    const out = be.alloc(63 * 4);
    const [first, compiles] = await countingCompiles(be, async () => {
      be.dispatch(prog, bufs, out);
      return readF32(be, out, 63);
    });
    assert.is(compiles, 2, 'naive for this run, rb in the background');
    assert.ok(be.hasPipeline(prog.fallback), 'the first run used the fallback');
    await be.precompile([prog]); // waits for the background compile (deduplicated)
    assert.ok(be.hasPipeline(prog));
    be.dispatch(prog, bufs, out);
    const second = await readF32(be, out, 63);
    for (const got of [first, second]) for (let i = 0; i < 63; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * (1 + Math.abs(want[i])), `index ${i}: ${got[i]} vs ${want[i]}`);
    for (const g of [...bufs, out]) be.free(g);
  });

  test(`${RUNTIME}: gpu: uploads past the staging ring, from the cpu engine's (shared) memory, arrive intact`, async () => {
    // Nine 600 KiB uploads in one batch: the ring's four 1 MiB chunks hold four, the rest take
    // queue.writeBuffer, which Dawn's Node binding refuses for a view of shared memory. (600 KiB:
    // the destination buffers stay under 1 MiB, whose first writes are held and copied anyway.)
    const n = 150 * 1024;
    const hosts = Array.from({ length: 9 }, (_, k) => randomData(n, 100 + k));
    const xs = hosts.map((h) => T.tensor(h, [n]));
    const ys = xs.map((x) => T.to(x, 'gpu'));
    const got = await Promise.all(ys.map((y) => y.data()));
    got.forEach((g, k) => assert.ok(g.every((v, i) => v === hosts[k][i]), `upload ${k} changed on the way`));
    for (const t of [...xs, ...ys]) t.dispose();
  });

  test(`${RUNTIME}: T.warmup compiles the pipelines its ops need, once`, async () => {
    const be = gpu;
    const ops: T.WarmupOp[] = [
      { op: 'matmul', m: 33, k: 17, n: 9, bias: true, activation: 'relu' },
      { op: 'matmul', m: 300, k: 3, n: 2, bias: true, activation: 'relu' }, // same program as above
      { op: 'matmul', m: 1, k: 17, n: 9 },
    ];
    const [got, compiles] = await countingCompiles(be, () => T.warmup(ops));
    assert.is(got.pipelines, 2);
    for (const { op: _, ...p } of ops) assert.ok(be.hasPipeline(PROGRAMS.matmul(p as never, be.limits)), JSON.stringify(p));
    assert.ok(compiles <= 2);
    const [, again] = await countingCompiles(be, () => T.warmup(ops));
    assert.is(again, 0);
    await T.warmup([]);
    // Every seam kernel has a gpu program now: an optimizer update warms like a matmul.
    const [sgd] = await countingCompiles(be, () => T.warmup([{ op: 'sgd', size: 1, lr: 1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0, step: 1 }]));
    assert.is(sgd.pipelines, 1);
    try {
      await T.warmup([{ op: 'nope' } as never]);
      assert.unreachable('no such kernel');
    } catch (e) {
      assert.instance(e, T.DeviceError);
      assert.match((e as Error).message, /warmup: "nope" is not a gpu kernel/);
    }
  });
}

test.run();
