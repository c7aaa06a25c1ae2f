/**
 * The gpu kernels without a cpu counterpart file of their own, at the backend seam against the
 * reference backend: argmax/argmin, softmax, layerNorm, crossEntropy, gather (4-, 2- and 1-byte
 * items) and oneHot, at sizes with 0, 1, primes and tails of the 256-wide workgroups and of the
 * 4-byte words that pack bytes; index errors, which the gpu reports from the next read(); rows
 * spilling past the per-dimension workgroup limit. The row kernels run once per group fold
 * (tests/group-variants.ts: subgroups where the device has them, and the workgroup tree;
 * gpu-group.test.ts checks which one compiled). The other new WGSL kernels run in the files
 * that already test every engine: compare-where, convert (cast, normalizeImage),
 * optim-kernels (sgd, adam, adamw), views (1- and 2-byte copy), kernels (argmax/argmin).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, KernelName, KernelParams } from '../src/backend/backend.ts';
import { WebGPUBackend } from '../src/backend/webgpu.ts';
import { PROGRAMS, type Program } from '../src/backend/wgsl-programs.ts';
import { IndexError } from '../src/errors.ts';
import { REQUIRE_GPU, RUNTIME, mismatch, randomData } from './harness.ts';
import { asF32, asI32, gpu, ref, run } from './seam.ts';
import { GROUP_BACKENDS, ROW_SIZES } from './group-variants.ts';

test(`${RUNTIME}: webgpu: an adapter exists for the gpu kernel tests`, () => {
  if (REQUIRE_GPU) assert.ok(gpu, 'init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
});

/** Run on the gpu and on the reference; returns both outputs (and inputs, for in-place kernels). */
async function both<K extends KernelName>(be: Backend, kernel: K, inputs: ArrayBufferView[], out: number | ArrayBufferView, params: KernelParams[K]) {
  return { got: await run(be, kernel, inputs, out, params), want: await run(ref, kernel, inputs, out, params) };
}

function close(got: Float32Array, want: Float32Array, atol: number, rtol: number, what: string): void {
  const bad = mismatch(got, want, null, atol, rtol);
  if (bad) assert.unreachable(`${what}: ${bad}`);
}

test(`${RUNTIME}: wgsl programs: the key names everything the code depends on, and never a shape`, () => {
  const lim = { maxWorkgroupsPerDim: 65535 };
  const progs: [string, Program][] = [];
  const add = <K extends keyof typeof PROGRAMS>(k: K, ...ps: Parameters<(typeof PROGRAMS)[K]>[0][]) => {
    for (const p of ps) progs.push([`${k} ${JSON.stringify(p)}`, (PROGRAMS[k] as (p: unknown, l: typeof lim) => Program)(p, lim)]);
  };
  add('reduce', { op: 'argmax', outer: 3, reduce: 5, inner: 1 }, { op: 'argmin', outer: 9, reduce: 2, inner: 1 }, { op: 'argmax', outer: 3, reduce: 5, inner: 4 });
  add('softmax', { rows: 3, n: 5, log: false }, { rows: 70000, n: 1, log: true });
  add('layerNorm', ...[false, true].flatMap((weight) => [false, true].flatMap((bias) => [3, 300].map((n) => ({ rows: 2, n, eps: 1e-5, weight, bias })))));
  add('crossEntropy', { rows: 2, classes: 3, smoothing: 0 }, { rows: 9, classes: 1000, smoothing: 0.1 });
  add('compare', { op: 'lt', shape: [5], aStrides: [1], bStrides: [0] }, { op: 'lt', shape: [2, 3], aStrides: [3, 1], bStrides: [0, 1] }, { op: 'eq', shape: [5], aStrides: [1], bStrides: [1] });
  add('where', { shape: [5], condStrides: [1], aStrides: [1], bStrides: [0] }, { shape: [2, 3], condStrides: [0, 1], aStrides: [3, 1], bStrides: [3, 1] });
  add('gather', ...([4, 2, 1] as const).flatMap((itemBytes) => [1, 7].map((inner) => ({ outer: 2, axisLen: 5, inner, count: 3, itemBytes }))));
  add('oneHot', { n: 3, classes: 4, oneBits: 1 }, { n: 1, classes: 9, oneBits: 0x3f800000 });
  add('cast', { from: 'f32', to: 'i32', size: 5 }, { from: 'f32', to: 'i32', size: 9 }, { from: 'i32', to: 'f32', size: 5 }, { from: 'u8', to: 'f32', size: 5 }, { from: 'bool', to: 'f32', size: 7 },
    { from: 'f32', to: 'f16', size: 5 }, { from: 'f16', to: 'f32', size: 5 }, { from: 'f32', to: 'f32', size: 5 }, { from: 'u8', to: 'u8', size: 5 });
  add('normalizeImage', { height: 2, width: 3, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] }, { height: 5, width: 1, channels: 1, mean: [0.5], std: [2] });
  add('sgd', ...[0, 0.9].flatMap((momentum) => [1, 2].map((step) => ({ size: 10 * step, lr: 0.1, momentum, dampening: 0, nesterov: step === 2, weightDecay: 0, step }))));
  add('adam', { size: 5, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 }, { size: 50, lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, step: 7 });
  add('adamw', { size: 5, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, step: 1 });
  add('copy', ...([4, 2, 1] as const).map((itemBytes) => ({ itemBytes, shape: [3, 4], srcStrides: [4, 1], dstStrides: [1, 3], srcOffset: 1, dstOffset: 0 })));
  const byKey = new Map<string, [string, Program]>();
  for (const [what, p] of progs) {
    const key = JSON.stringify(p.key);
    const seen = byKey.get(key);
    if (!seen) { byKey.set(key, [what, p]); continue; }
    // Same key, so the pipeline is shared: the code and entry point must be the same too.
    assert.ok(seen[1].code === p.code && seen[1].entry === p.entry, `${what} and ${seen[0]} share the key ${key} but not the code`);
  }
  // Shapes, sizes and hyperparameters go in uniforms: few pipelines serve all of the above.
  const codes = new Set(progs.map(([, p]) => `${p.entry}\n${p.code}`));
  assert.is(byKey.size, codes.size, 'one key per distinct (code, entry)');
  // argreduce rows/cols 2, softmax 1, layerNorm 4, crossEntropy 1, compare lt/eq 2, where 1,
  // gather words/bytes 2, oneHot 1, cast 6 entries, normalizeImage 1, sgd 2, adam(w) 1, copy 2.
  assert.is(byKey.size, 26, 'pipelines for the programs above');
});

if (gpu) {
  const g = gpu;

  for (const [variant, be] of GROUP_BACKENDS) {
    test(`${RUNTIME}: webgpu [${variant}]: argmax/argmin rows and columns, ties and NaN take the first index`, async () => {
      for (const op of ['argmax', 'argmin'] as const) {
        for (const outer of [1, 3])
          for (const reduce of ROW_SIZES)
            // Columns fold in one invocation whatever the variant: the first backend covers them.
            for (const inner of be === g ? [1, 2, 7] : [1]) {
              const n = outer * reduce * inner;
              // Rounded data makes ties common; some rows get a NaN or two.
              const x = randomData(n, reduce * 7 + inner).map((v, i) => (i % 97 === 13 ? NaN : Math.round(v * 2)));
              const p = { op, outer, reduce, inner };
              const { got, want } = await both(be, 'reduce', [x], outer * inner * 4, p);
              assert.equal(Array.from(asI32(got.out)), Array.from(asI32(want.out)), `${op} outer=${outer} reduce=${reduce} inner=${inner}`);
            }
      }
    });

    test(`${RUNTIME}: webgpu [${variant}]: argmax of -0 and 0 ties on the first index; argmin of all-equal is 0`, async () => {
      const x = new Float32Array([-0, 0, -5, 0, -0]);
      const r = await run(be, 'reduce', [x], 4, { op: 'argmax', outer: 1, reduce: 5, inner: 1 });
      assert.is(asI32(r.out)[0], 0);
      const r2 = await run(be, 'reduce', [new Float32Array(300).fill(3)], 4, { op: 'argmin', outer: 1, reduce: 300, inner: 1 });
      assert.is(asI32(r2.out)[0], 0);
    });

    test(`${RUNTIME}: webgpu [${variant}]: softmax and log-softmax, rows of every tail length`, async () => {
      for (const log of [false, true])
        for (const rows of [0, 1, 3])
          for (const n of ROW_SIZES) {
            const x = randomData(rows * n, n + rows).map((v) => v * 4);
            const { got, want } = await both(be, 'softmax', [x], rows * n * 4, { rows, n, log });
            close(asF32(got.out), asF32(want.out), 1e-6, 2e-5, `log=${log} rows=${rows} n=${n}`);
          }
    });

    test(`${RUNTIME}: webgpu [${variant}]: layerNorm with and without weight and bias`, async () => {
      for (const [weight, bias] of [[false, false], [true, false], [false, true], [true, true]])
        for (const rows of [1, 4])
          for (const n of ROW_SIZES) {
            // An offset mean checks that the variance is taken around it (two passes).
            const x = randomData(rows * n, n * 3 + rows).map((v) => v + 10);
            const inputs = [x, ...(weight ? [randomData(n, 5)] : []), ...(bias ? [randomData(n, 6)] : [])];
            const p = { rows, n, eps: 1e-5, weight, bias };
            const { got, want } = await both(be, 'layerNorm', inputs, rows * n * 4, p);
            close(asF32(got.out), asF32(want.out), 2e-5, 2e-5, `weight=${weight} bias=${bias} rows=${rows} n=${n}`);
          }
    });

    test(`${RUNTIME}: webgpu [${variant}]: crossEntropy with and without label smoothing`, async () => {
      for (const smoothing of [0, 0.1, 1])
        for (const rows of [0, 1, 5])
          for (const classes of ROW_SIZES) {
            const x = randomData(rows * classes, classes + rows).map((v) => v * 3);
            const labels = Int32Array.from({ length: rows }, (_, r) => (r * 7 + 3) % classes);
            const { got, want } = await both(be, 'crossEntropy', [x, labels], rows * 4, { rows, classes, smoothing });
            close(asF32(got.out), asF32(want.out), 1e-5, 1e-5, `smoothing=${smoothing} rows=${rows} classes=${classes}`);
          }
    });
  }

  test(`${RUNTIME}: webgpu: a bad label is an IndexError from the next read, naming the first bad row`, async () => {
    const classes = 4, rows = 6;
    const x = randomData(rows * classes, 1);
    for (const bad of [-1, 4, 1 << 30]) {
      const labels = new Int32Array([0, 1, 2, bad, 3, bad]);
      const bufs = [x, labels].map((d) => { const b = g.alloc(d.byteLength); g.write(b, d); return b; });
      const out = g.alloc(rows * 4);
      try {
        g.run('crossEntropy', bufs, out, { rows, classes, smoothing: 0 }); // run() cannot see the labels
        try {
          await g.read(out, rows * 4);
          assert.unreachable('read() should throw');
        } catch (e) {
          assert.instance(e, IndexError);
          assert.match((e as Error).message, /crossEntropy: the label at index 3 is outside \[0, 4\)/);
        }
        // The flag is consumed: the next read succeeds, and the bad rows hold NaN, the others the loss.
        const got = asF32(await g.read(out, rows * 4));
        assert.ok(Number.isNaN(got[3]) && Number.isNaN(got[5]), 'bad rows are NaN');
        const good = await run(ref, 'crossEntropy', [x.subarray(0, 3 * classes), labels.subarray(0, 3)], 12, { rows: 3, classes, smoothing: 0 });
        close(got.subarray(0, 3), asF32(good.out), 1e-5, 1e-5, 'good rows');
      } finally {
        for (const b of [...bufs, out]) g.free(b);
      }
    }
  });

  for (const [variant] of GROUP_BACKENDS) {
    test(`${RUNTIME}: webgpu [${variant}]: row kernels spill rows past the per-dimension workgroup limit into y`, async () => {
      const small = new WebGPUBackend((g as WebGPUBackend).device);
      Object.assign(small, { limits: { maxWorkgroupsPerDim: 4, subgroups: variant === 'subgroup' } }); // as a tiny adapter would
      const rows = 23, n = 5;
      const x = randomData(rows * n, 9);
      const { got, want } = await both(small, 'softmax', [x], rows * n * 4, { rows, n, log: false });
      close(asF32(got.out), asF32(want.out), 1e-6, 2e-5, 'softmax');
      const a = await both(small, 'reduce', [x], rows * 4, { op: 'argmax', outer: rows, reduce: n, inner: 1 });
      assert.equal(Array.from(asI32(a.got.out)), Array.from(asI32(a.want.out)));
    });
  }

  /** Random bytes as a table, and indices in range with repeats. */
  const bytes = (n: number, seed: number) => Uint8Array.from(randomData(n, seed), (v) => Math.floor((v + 2) * 64) & 255);

  test(`${RUNTIME}: webgpu: gather of 4-, 2- and 1-byte items, every tail of a word`, async () => {
    for (const itemBytes of [4, 2, 1] as const)
      for (const outer of [1, 3])
        for (const axisLen of [1, 5, 17])
          for (const inner of [1, 2, 3, 5, 7])
            for (const count of [0, 1, 4, 13]) {
              const table = bytes(outer * axisLen * inner * itemBytes, axisLen * 13 + inner);
              const idx = Int32Array.from({ length: count }, (_, j) => (j * 7 + outer) % axisLen);
              const p = { outer, axisLen, inner, count, itemBytes };
              const n = outer * count * inner * itemBytes;
              const { got, want } = await both(g, 'gather', [table, idx], n, p);
              assert.equal(Array.from(got.out), Array.from(want.out), JSON.stringify(p));
            }
  });

  test(`${RUNTIME}: webgpu: gather with a bad index is an IndexError from the next read`, async () => {
    for (const itemBytes of [4, 1] as const) {
      const table = bytes(2 * 5 * 3 * itemBytes, 1);
      const idx = new Int32Array([4, 0, 5, -1, 2]);
      const p = { outer: 2, axisLen: 5, inner: 3, count: 5, itemBytes };
      const n = 2 * 5 * 3 * itemBytes;
      try {
        await run(g, 'gather', [table, idx], n, p);
        assert.unreachable('the read should throw');
      } catch (e) {
        assert.instance(e, IndexError);
        assert.match((e as Error).message, /gather: the index at position 2 is outside \[0, 5\)/);
      }
    }
  });

  test(`${RUNTIME}: webgpu: oneHot as i32 and f32 bits, every tail`, async () => {
    for (const oneBits of [1, 0x3f800000])
      for (const n of [0, 1, 2, 5, 257])
        for (const classes of [1, 2, 3, 17, 300]) {
          const idx = Int32Array.from({ length: n }, (_, i) => (i * 5 + 1) % classes);
          const { got, want } = await both(g, 'oneHot', [idx], n * classes * 4, { n, classes, oneBits });
          assert.equal(Array.from(got.out), Array.from(want.out), `n=${n} classes=${classes}`);
        }
  });

  test(`${RUNTIME}: webgpu: oneHot with a bad class is an IndexError; a later good run reads fine`, async () => {
    try {
      await run(g, 'oneHot', [new Int32Array([0, 3, 1, 7])], 16 * 3, { n: 4, classes: 3, oneBits: 1 });
      assert.unreachable('the read should throw');
    } catch (e) {
      assert.instance(e, IndexError);
      assert.match((e as Error).message, /oneHot: the class at index 1 is outside \[0, 3\)/);
    }
    const ok = await run(g, 'oneHot', [new Int32Array([2, 0])], 24, { n: 2, classes: 3, oneBits: 1 });
    assert.equal(Array.from(asI32(ok.out)), [0, 0, 1, 1, 0, 0]);
  });
}

test.run();
