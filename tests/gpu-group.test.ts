/**
 * The row kernels' group folds (src/backend/wgsl-group.ts): which variant a program compiles
 * to and its key, that the device uses subgroups where it has them (and that Node's SwiftShader
 * has them, so this machine really runs that path), and the sum/mean/max/min rows and the
 * argmax/argmin tie rule on both variants. softmax, layerNorm, crossEntropy and the general
 * argmax/argmin cases run on both variants in gpu-kernels.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, ReduceOp } from '../src/backend/backend.ts';
import type { WebGPUBackend } from '../src/backend/webgpu.ts';
import { type GridLimits, PROGRAMS, type Program } from '../src/backend/wgsl-programs.ts';
import { subgroupsUsable } from '../src/backend/wgsl-group.ts';
import { f16BitsToF32, f32ToF16Bits } from '../src/f16.ts';
import { F32_EPS, RUNTIME, info, mismatch, randomData } from './harness.ts';
import { asF32, asI32, asU16, gpu, ref, run } from './seam.ts';
import { GROUP_BACKENDS, ROW_SIZES } from './group-variants.ts';

/** The row programs (and one column program each for reduce and argmax, which have no group fold). */
const ROW_PROGRAMS: Record<string, (l: GridLimits) => Program> = {
  sum: (l) => PROGRAMS.reduce({ op: 'sum', outer: 3, reduce: 5, inner: 1 }, l),
  max: (l) => PROGRAMS.reduce({ op: 'max', outer: 3, reduce: 5, inner: 1 }, l),
  minF16: (l) => PROGRAMS.reduce({ op: 'min', outer: 3, reduce: 5, inner: 1, dtype: 'f16' }, l),
  argmax: (l) => PROGRAMS.reduce({ op: 'argmax', outer: 3, reduce: 5, inner: 1 }, l),
  softmax: (l) => PROGRAMS.softmax({ rows: 3, n: 5, log: false }, l),
  layerNorm: (l) => PROGRAMS.layerNorm({ rows: 3, n: 5, eps: 1e-5, weight: true, bias: false }, l),
  crossEntropy: (l) => PROGRAMS.crossEntropy({ rows: 3, classes: 5, smoothing: 0 }, l),
};
const COL_PROGRAMS: Record<string, (l: GridLimits) => Program> = {
  sum: (l) => PROGRAMS.reduce({ op: 'sum', outer: 3, reduce: 5, inner: 2 }, l),
  argmax: (l) => PROGRAMS.reduce({ op: 'argmax', outer: 3, reduce: 5, inner: 2 }, l),
};

test(`${RUNTIME}: wgsl group folds: the variant is in the key and the code; columns have one pipeline`, () => {
  const tree: GridLimits = { maxWorkgroupsPerDim: 65535 }, sub: GridLimits = { ...tree, subgroups: true };
  for (const [name, make] of Object.entries(ROW_PROGRAMS)) {
    const t = make(tree), s = make(sub);
    const tCode = t.code.replace(/\/\/.*$/gm, ''); // without comments, which name the other variant
    assert.is(t.key.group, 'tree', `${name}: tree key`);
    assert.is(s.key.group, 'subgroup', `${name}: subgroup key`);
    assert.ok(!/subgroup[A-Z]|enable subgroups/.test(tCode) && /workgroupBarrier/.test(tCode), `${name}: the tree uses no subgroup operation`);
    assert.ok(s.code.startsWith('enable subgroups;') && /subgroupAdd|subgroupMax|subgroupMin/.test(s.code), `${name}: the subgroup code enables and uses them`);
    // The five kernels no longer carry a tree of their own: the only loop halving w is the shared one.
    assert.is(tCode.match(/w = w >> 1u/g)?.length ?? 0, tCode.match(/fn group\w+\(lid/g)?.length ?? 0, `${name}: one tree per fold`);
  }
  for (const [name, make] of Object.entries(COL_PROGRAMS)) {
    const t = make(tree), s = make(sub);
    assert.is(JSON.stringify(t.key), JSON.stringify(s.key), `${name} columns: one key`);
    assert.is(t.code, s.code, `${name} columns: one code`);
  }
});

test(`${RUNTIME}: wgsl group folds: subgroups only where the device has them, never in Deno`, () => {
  const has = (f: string[]) => ({ has: (x: string) => f.includes(x) });
  assert.is(subgroupsUsable(has(['subgroups']), false), true);
  assert.is(subgroupsUsable(has(['subgroups']), true), false, "Deno's Naga rejects enable subgroups");
  assert.is(subgroupsUsable(has(['shader-f16']), false), false);
});

if (gpu) {
  const g = gpu as WebGPUBackend;

  test(`${RUNTIME}: webgpu: the row kernels fold with subgroups exactly where the device has them`, async () => {
    const listed = info.gpu!.features.includes('subgroups');
    // This machine's fact (RUNTIMES.md): Node's SwiftShader adapter lists subgroups, so Node
    // must run the subgroup path here, not silently fall back to the tree.
    if (RUNTIME === 'node' && /swiftshader/i.test(info.gpu!.adapter)) assert.ok(listed, `SwiftShader in Node lists subgroups (features: ${info.gpu!.features.join(', ')})`);
    assert.is(g.device.features.has('subgroups'), listed, 'the device was created with subgroups iff the adapter lists them');
    assert.is(g.limits.subgroups === true, listed && RUNTIME !== 'deno', 'programs use subgroups iff the device has them and the runtime accepts them');
    assert.is(GROUP_BACKENDS.map(([v]) => v).join(), g.limits.subgroups ? 'subgroup,tree' : 'tree');
    if (!g.limits.subgroups) {
      console.log(`${RUNTIME}: webgpu: the subgroup variant is not compiled here (adapter features ${listed ? 'list' : 'lack'} subgroups; runtime ${RUNTIME})`);
      return;
    }
    // Run one, and find its subgroup pipeline compiled in the device's cache.
    const p = { rows: 2, n: 33, log: false };
    const prog = PROGRAMS.softmax(p, g.limits);
    assert.ok(prog.code.startsWith('enable subgroups;') && prog.key.group === 'subgroup');
    await run(g, 'softmax', [randomData(66, 1)], 66 * 4, p);
    assert.ok(g.hasPipeline(prog), 'the subgroup softmax pipeline compiled');
  });

  for (const [variant, be] of GROUP_BACKENDS) {
    test(`${RUNTIME}: webgpu [${variant}]: sum, mean, max, min of rows (f32 and f16), empty rows and every tail`, async () => {
      for (const op of ['sum', 'mean', 'max', 'min'] as ReduceOp[])
        for (const dtype of ['f32', 'f16'] as const)
          for (const outer of [0, 1, 3])
            for (const reduce of op === 'sum' || op === 'mean' ? [0, ...ROW_SIZES] : ROW_SIZES) {
              const n = outer * reduce;
              const x = randomData(n, reduce * 5 + outer);
              const what = `${op} ${dtype} outer=${outer} reduce=${reduce}`;
              const p = { op, outer, reduce, inner: 1, dtype };
              if (dtype === 'f32') {
                const [got, want, bound] = await Promise.all([
                  run(be, 'reduce', [x], outer * 4, p), run(ref, 'reduce', [x], outer * 4, p), run(ref, 'reduce', [x.map(Math.abs)], outer * 4, { ...p, op: op === 'mean' ? 'mean' : 'sum' }),
                ]);
                const exact = op === 'max' || op === 'min';
                const bad = mismatch(asF32(got.out), asF32(want.out), exact ? null : asF32(bound.out), exact ? 0 : 1e-6, exact ? 0 : 2 * reduce * F32_EPS);
                if (bad) assert.unreachable(`${what}: ${bad}`);
              } else {
                // Halves in, f32 fold, one rounding out: at most one half-ulp step from the reference.
                const h = Uint16Array.from(x, f32ToF16Bits);
                const [got, want] = await Promise.all([run(be, 'reduce', [h], outer * 2, p), run(ref, 'reduce', [h], outer * 2, p)]);
                const gv = Array.from(asU16(got.out), f16BitsToF32), wv = Array.from(asU16(want.out), f16BitsToF32);
                gv.forEach((v, i) => {
                  if (!(Object.is(v, wv[i]) || (Number.isNaN(v) && Number.isNaN(wv[i])) || Math.abs(v - wv[i]) <= 2 ** -10 * Math.abs(wv[i]) + 1e-6)) assert.unreachable(`${what} [${i}]: got ${v}, expected ${wv[i]}`);
                });
              }
            }
    });

    test(`${RUNTIME}: webgpu [${variant}]: argmax/argmin ties across lanes and subgroups take the first index`, async () => {
      const check = async (be: Backend, x: Float32Array, op: 'argmax' | 'argmin', want: number, what: string) => {
        const r = await run(be, 'reduce', [x], 4, { op, outer: 1, reduce: x.length, inner: 1 });
        assert.is(asI32(r.out)[0], want, what);
      };
      for (const n of [257, 1000, 4099]) {
        // Pairs (a < b) where the later index sits in an earlier lane (b % 256 < a % 256), in
        // another subgroup, or in the same lane; the extreme and its tie in both.
        for (const [a, b] of [[255, 256], [3, 259], [200, 520], [1, n - 1], [129, 385]].filter(([, b]) => b < n)) {
          for (const op of ['argmax', 'argmin'] as const) {
            const x = randomData(n, n + a).map((v) => (op === 'argmax' ? v : v + 10));
            x[a] = x[b] = op === 'argmax' ? 7 : -7;
            await check(be, x, op, a, `${op} n=${n} extreme at ${a} and ${b}`);
            x[b] = op === 'argmax' ? 8 : -8; // a strict extreme later still wins over the earlier tie
            await check(be, x, op, b, `${op} n=${n} strict extreme at ${b}`);
            x[a] = NaN; // NaN beats every number, in both directions
            await check(be, x, op, a, `${op} n=${n} NaN at ${a}`);
          }
        }
        // -0 and 0 tie: the first wins, whichever sign it has.
        const z = new Float32Array(n).fill(-1), late = Math.min(300, n - 1);
        z[late] = 0; z[44] = -0;
        await check(be, z, 'argmax', 44, `argmax n=${n}: -0 at 44 ties 0 at ${late}`);
      }
    });
  }
}

test.run();
