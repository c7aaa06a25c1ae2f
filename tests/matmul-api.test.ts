/**
 * The matmul API (T.matmul with torch.matmul's shape rules and transposes, T.linear's fused
 * bias + activation) on each device against the 'ref' device, its typed errors, and the Wasm
 * GEMM's split contract: disjoint row / column / batch sub-ranges, each with its own
 * workspace, write exactly their part of C (what a worker pool relies on).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { D_M0_WORD, writeGemmDesc } from '../src/backend/wasm-gemm.ts';
import { planMatmul } from '../src/ops/matmul-plan.ts';
import { ReferenceBackend } from '../src/backend/reference.ts';
import { wasmModule } from '../src/runtime.ts';
import { F32_EPS, REQUIRE_GPU, RUNTIME, info, mismatch, randomData, throwsTyped } from './harness.ts';

const devices: T.Device[] = info.gpu || REQUIRE_GPU ? ['cpu', 'gpu'] : ['cpu'];
const numel = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);


/** Run `f` on tensors made from the same data on `device` and on 'ref'; compare values and shape. */
async function agree(device: T.Device, shapes: number[][], f: (...t: T.Tensor[]) => T.Tensor, k: number, want: number[]) {
  const data = shapes.map((s, i) => randomData(numel(s), i * 13 + numel(s)));
  const on = (d: T.Device) => f(...shapes.map((s, i) => T.tensor(data[i], s, { device: d })));
  const got = on(device), ref = on('ref');
  assert.equal([...got.shape], want, 'result shape');
  assert.equal([...ref.shape], want, 'reference shape');
  const bound = f(...shapes.map((s, i) => T.tensor(data[i].map(Math.abs), s, { device: 'ref' })));
  // The bound from |inputs| with the same op holds for relu too (it is 1-Lipschitz).
  const bad = mismatch(await got.data(), await ref.data(), await bound.data(), 1e-6, 2 * Math.max(k, 1) * F32_EPS);
  if (bad) assert.unreachable(`${JSON.stringify(shapes)}: ${bad}`);
}

for (const device of devices) {
  test(`${RUNTIME}: ${device}: T.matmul shapes follow torch.matmul (batch broadcast, 1-D operands)`, async () => {
    const cases: [number[], number[], number[]][] = [
      [[3, 4], [4, 5], [3, 5]], [[2, 3, 4], [4, 5], [2, 3, 5]], [[4], [4, 5], [5]], [[3, 4], [4], [3]], [[4], [4], []],
      [[2, 1, 3, 4], [5, 4, 6], [2, 5, 3, 6]], [[4], [2, 4, 5], [2, 5]], [[2, 3, 4], [4], [2, 3]], [[0, 3], [3, 2], [0, 2]],
    ];
    for (const [a, b, out] of cases) await agree(device, [a, b], (x, y) => T.matmul(x, y), a[a.length - 1], out);
  });

  test(`${RUNTIME}: ${device}: T.matmul transposeA / transposeB swap the last two dims`, async () => {
    await agree(device, [[4, 3], [4, 5]], (x, y) => T.matmul(x, y, { transposeA: true }), 4, [3, 5]);
    await agree(device, [[3, 4], [5, 4]], (x, y) => T.matmul(x, y, { transposeB: true }), 4, [3, 5]);
    await agree(device, [[2, 4, 3], [1, 5, 4]], (x, y) => T.matmul(x, y, { transposeA: true, transposeB: true }), 4, [2, 3, 5]);
    await agree(device, [[4], [5, 4]], (x, y) => T.matmul(x, y, { transposeA: true, transposeB: true }), 4, [5]);
  });

  test(`${RUNTIME}: ${device}: T.linear = act(x @ w^T + bias), with and without bias`, async () => {
    await agree(device, [[6, 9], [5, 9], [5]], (x, w, b) => T.linear(x, w, b), 9, [6, 5]);
    await agree(device, [[2, 6, 9], [5, 9], [5]], (x, w, b) => T.linear(x, w, b, { activation: 'relu' }), 9, [2, 6, 5]);
    await agree(device, [[9], [5, 9], [5]], (x, w, b) => T.linear(x, w, b, { activation: 'relu' }), 9, [5]);
    await agree(device, [[7, 9], [5, 9]], (x, w) => T.linear(x, w, null, { activation: 'relu' }), 9, [7, 5]);
    await agree(device, [[7, 0], [5, 0], [5]], (x, w, b) => T.linear(x, w, b, { activation: 'relu' }), 0, [7, 5]);
    // The fused relu equals the unfused one.
    const x = T.randn([8, 16], { seed: 1, device }), w = T.randn([12, 16], { seed: 2, device }), b = T.randn([12], { seed: 3, device });
    const fused = await T.linear(x, w, b, { activation: 'relu' }).data();
    const split = await T.relu(T.add(T.matmul(x, w, { transposeB: true }), b)).data();
    const bad = mismatch(fused, split, null, 1e-5, 1e-5);
    if (bad) assert.unreachable(bad);
  });
}

test(`${RUNTIME}: matmul and linear errors are typed and name the shapes`, () => {
  const a = T.zeros([2, 3]);
  throwsTyped(() => T.matmul(a, T.zeros([3, 4]), { transposeA: true }), T.ShapeError, /matmul: inner dimensions differ: \[2, 3\] \(first transposed\) @ \[3, 4\] \(2 vs 3\)/);
  throwsTyped(() => T.matmul(a, T.zeros([4, 2])), T.ShapeError, /matmul: inner dimensions differ: \[2, 3\] @ \[4, 2\] \(3 vs 4\)/);
  throwsTyped(() => T.matmul(T.zeros([2, 2, 3]), T.zeros([3, 3, 4])), T.ShapeError, /matmul: batch dimensions of \[2, 2, 3\] and \[3, 3, 4\] cannot be broadcast \(2 vs 3\)/);
  throwsTyped(() => T.linear(a, T.zeros([4, 3]), T.zeros([3])), T.ShapeError, /linear: bias must have shape \[4\].*got \[3\]/);
  throwsTyped(() => T.linear(a, T.zeros([2, 4, 3])), T.ShapeError, /linear: weight must be 2-D \[out, in\], got \[2, 4, 3\]/);
  throwsTyped(() => T.linear(a, T.zeros([4, 3]), null, { activation: 'gelu' as never }), T.TandemError, /linear: unknown activation "gelu"; supported: none, relu/);
  throwsTyped(() => T.linear(T.zeros([3]), T.zeros([4, 2])), T.ShapeError, /linear: inner dimensions differ/);
});

test(`${RUNTIME}: wasm GEMM: disjoint row / column / batch sub-ranges with their own workspaces compose the whole product`, async () => {
  const module = await wasmModule();
  const memory = new WebAssembly.Memory({ initial: 256 });
  const x = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, (...a: number[]) => number>;
  const wsBytes = x.f32_gemm_workspace_bytes();
  let top = (x.heapBase() + 15) & ~15;
  const grab = (bytes: number) => { const at = top; top += (bytes + 15) & ~15; if (top > memory.buffer.byteLength) memory.grow(Math.ceil((top - memory.buffer.byteLength) / 65536)); return at; };
  for (const [a, b, tA, tB] of [[[3, 70, 40], [3, 40, 37], false, false], [[2, 40, 70], [1, 37, 40], true, true], [[300, 9], [9, 1030], false, false], [[1, 40], [40, 70], false, false], [[1, 40], [70, 40], false, true], [[70, 40], [40, 1], false, false], [[40, 70], [40, 1], true, false]] as [number[], number[], boolean, boolean][]) {
    const { params: p } = planMatmul(a, b, { transposeA: tA, transposeB: tB, activation: 'relu' }, [tB ? b[b.length - 2] : b[b.length - 1]]);
    const batches = numel(p.batchShape ?? [1]);
    const A = randomData(numel(a), 1), B = randomData(numel(b), 2), bias = randomData(p.n, 3);
    const pa = grab(A.length * 4), pb = grab(B.length * 4), pbias = grab(p.n * 4), pc = grab(batches * p.m * p.n * 4);
    const descs = [grab(256), grab(256), grab(256)], wss = [grab(wsBytes), grab(wsBytes), grab(wsBytes)];
    new Float32Array(memory.buffer, pa, A.length).set(A);
    new Float32Array(memory.buffer, pb, B.length).set(B);
    new Float32Array(memory.buffer, pbias, p.n).set(bias);
    const C = () => new Float32Array(memory.buffer, pc, batches * p.m * p.n);
    C().fill(12345);
    // Three parts: rows [0, r) x all columns; rows [r, m) x columns [0, c); rows [r, m) x columns [c, n).
    const r = Math.min(p.m, 33), c = Math.min(p.n, 17);
    const parts = [[0, r, 0, p.n], [r, p.m, 0, c], [r, p.m, c, p.n]];
    parts.forEach(([m0, m1, n0, n1], i) => {
      const mem = new Int32Array(memory.buffer);
      writeGemmDesc(mem, descs[i], p, { a: pa, b: pb, c: pc, bias: pbias, ws: wss[i], wsBytes });
      mem.set([m0, m1, n0, n1], (descs[i] >>> 2) + D_M0_WORD);
    });
    for (const d of descs) x.f32_gemm(d);
    const refBe = new ReferenceBackend();
    const bufs = [A, B, bias].map((v) => { const bb = refBe.alloc(v.length * 4); refBe.write(bb, v); return bb; });
    const out = refBe.alloc(batches * p.m * p.n * 4);
    refBe.run('matmul', bufs, out, p);
    const want = new Float32Array(out.buffer, 0, batches * p.m * p.n);
    const bad = mismatch(C(), want, null, 1e-4, 1e-4);
    if (bad) assert.unreachable(`${JSON.stringify(a)} @ ${JSON.stringify(b)}: ${bad}`);
    // A part alone writes only its own range: re-run part 1 on a C reset to the sentinel.
    C().fill(12345);
    x.f32_gemm(descs[1]);
    const got = C();
    for (let t = 0; t < batches; t++) for (let i = 0; i < p.m; i++) for (let j = 0; j < p.n; j++) {
      const inside = i >= r && j < c;
      const v = got[(t * p.m + i) * p.n + j];
      if (!inside && v !== 12345) assert.unreachable(`part 1 wrote outside its range at batch ${t}, row ${i}, column ${j}`);
      if (inside && v === 12345) assert.unreachable(`part 1 did not write batch ${t}, row ${i}, column ${j}`);
    }
  }
});

test.run();
