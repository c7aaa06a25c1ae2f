/**
 * The WGSL matmul ladder against tfjs-backend-webgpu, same adapter, same Node process, same
 * run (`npm run bench:gpu`; writes bench/results/webgpu.json). Three measurements:
 *
 * 1. matmul GFLOP/s at N = 128, 256, 512 for every rung (naive, tiled, rb; the default path
 *    picks rb for these) and for tfjs-webgpu's tf.matMul; at N = 256, 512 also the rb rung on
 *    f16 operands (packed two halves to a word without shader-f16; tandem-rb-f16). One sample = dispatch + read the
 *    whole output back, for both libraries (the read is the only sync point WebGPU offers).
 *    Engines are interleaved over ROUNDS rounds (the machine is shared; see gemm.bench.ts).
 * 2. Cold start: a fresh Node process per sample, from process start to the first matmul
 *    result (import the library, find the adapter, compile, upload, compute, read back):
 *    Tandem through its shipped bundle dist/tandem.js, tfjs-core + tfjs-backend-webgpu.
 * 3. Dispatch overhead: tiny (4-element) adds per second in a dependent chain, Tandem with
 *    every dispatch recorded into one submit vs one submit each (WebGPUBackend.batchLimit),
 *    and tfjs-webgpu's tf.add chain for reference.
 * 4. Row reductions: sum over the rows of [1024, 4096] and softmax of [256, 1000], Tandem's
 *    row kernels with their group fold by subgroups (where the device has them) and by the
 *    workgroup tree (src/backend/wgsl-group.ts), and tfjs-webgpu's tf.sum / tf.softmax.
 *
 * Runs on whatever adapter init() finds: SwiftShader here (absolute numbers are tiny there,
 * only the ratios from one run mean anything), a hardware GPU elsewhere, same command.
 * In Node, tfjs-webgpu looks for navigator.gpu: it gets the GPU object acquire.ts made, so
 * both libraries sit on one Dawn instance and adapter (each with its own device).
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';

const cold = process.argv.find((a) => a.startsWith('--cold='))?.split('=')[1];
const COLD_N = 128;
const data = (len: number, seed: number) => { let x = seed; return Float32Array.from({ length: len }, () => ((x = (x * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5); };

if (cold) {
  // Child: nothing imported above but node:* and tinybench; performance.now() counts from
  // process start. Prints the time the first result arrived, and a checksum.
  const a = data(COLD_N * COLD_N, 1), b = data(COLD_N * COLD_N, 2);
  let out: Float32Array;
  if (cold === 'tandem') {
    const T = await import(new URL('../dist/tandem.js', import.meta.url).href);
    await T.init({ gpu: true });
    out = await T.matmul(T.tensor(a, [COLD_N, COLD_N], { device: 'gpu' }), T.tensor(b, [COLD_N, COLD_N], { device: 'gpu' })).data();
  } else {
    const { create, globals } = (await import('webgpu')) as unknown as { create(flags: string[]): GPU; globals: object };
    Object.assign(globalThis, globals); // tfjs-webgpu uses GPUBufferUsage & co, absent in Node
    (globalThis as { navigator?: unknown }).navigator = { gpu: create([]) };
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
    out = (await tf.matMul(tf.tensor(a, [COLD_N, COLD_N]), tf.tensor(b, [COLD_N, COLD_N])).data()) as Float32Array;
  }
  console.log(`COLD ${performance.now()} ${out.reduce((s, x) => s + x, 0)}`);
  process.exit(0);
}

const { acquireGPU } = await import('../src/backend/acquire.ts');
const { WebGPUBackend } = await import('../src/backend/webgpu.ts');
const { MATMUL_VARIANTS, chooseMatmul, matmulProgram } = await import('../src/backend/wgsl-matmul.ts');
const { PROGRAMS } = await import('../src/backend/wgsl-programs.ts');
const { f16BitsToF32, f32ToF16Bits } = await import('../src/f16.ts');
type Backend = InstanceType<typeof WebGPUBackend>;

const got = await acquireGPU();
if (!got) throw new Error('no WebGPU adapter found');
const be: Backend = new WebGPUBackend(got.device, got.keepAlive);
const nav = globalThis as { navigator?: { gpu?: GPU } };
if (!nav.navigator?.gpu) {
  // Node: tfjs-webgpu wants navigator.gpu and the GPUBufferUsage & co globals, which Dawn's
  // package provides but does not install; Tandem needs neither.
  Object.assign(globalThis, ((await import('webgpu')) as unknown as { globals: object }).globals);
  nav.navigator = { gpu: got.keepAlive[0] as GPU };
}
const tf = await import('@tensorflow/tfjs-core');
await import('@tensorflow/tfjs-backend-webgpu');
if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs: the webgpu backend did not initialise');
await tf.ready();
const version = (pkg: string) => (JSON.parse(readFileSync(new URL(`../node_modules/${pkg}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
console.error(`adapter: ${got.info.adapter}${got.info.fallback ? ' (software)' : ''}`);

interface Sampled { run(): Promise<unknown> }
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
/** Median ms per engine, interleaved over ROUNDS rounds of tinybench. */
const ROUNDS = 3;
async function measure(iterations: number, engines: [string, Sampled][]): Promise<Map<string, { medianMs: number; samples: number }>> {
  const samples = new Map<string, number[]>(engines.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: 0, iterations, retainSamples: true, warmup: round === 0, warmupIterations: 1 });
    for (const [name, e] of engines) bench.add(name, () => e.run());
    await bench.run();
    for (const t of bench.tasks) {
      const lat = (t.result as { latency?: { samples?: number[] } }).latency;
      if (!lat?.samples) throw new Error(`${t.name}: no samples (${JSON.stringify(t.result).slice(0, 300)})`);
      samples.get(t.name)!.push(...lat.samples);
    }
  }
  return new Map([...samples].map(([n, xs]) => { xs.sort((x, y) => x - y); return [n, { medianMs: xs[xs.length >> 1], samples: xs.length }]; }));
}

// ---- 1. matmul ladder vs tfjs-webgpu ----
interface Row { n: number; engine: string; medianMs: number; gflops: number; samples: number; maxRelDiffVsRb: number }
const rows: Row[] = [];
/** ms to compile each rung's pipeline (one sample each, on this adapter). */
const compileMs: Record<string, number> = {};
for (const [N, iterations] of [[128, 4], [256, 2], [512, 1]]) {
  const a = data(N * N, 1), b = data(N * N, 2);
  const A = be.alloc(N * N * 4), B = be.alloc(N * N * 4), C = be.alloc(N * N * 4);
  be.write(A, a); be.write(B, b);
  const p = { m: N, k: N, n: N };
  // Each rung as itself: without the naive fallback a cold small rb product would take.
  const progs = MATMUL_VARIANTS.filter((v) => v !== 'gemv').map((v) => { const { fallback: _, ...prog } = matmulProgram(p, be.limits, v); return [v, prog] as const; });
  for (const [v, prog] of progs) {
    const t0 = performance.now();
    await be.precompile([prog]);
    if (!compileMs[v]) compileMs[v] = performance.now() - t0; // the first size compiles each rung
  }
  const engines: [string, Sampled & { result(): Promise<Float32Array> }][] = progs.map(([v, prog]) => [`tandem-${v}`, {
    async result() { be.dispatch(prog, [A, B], C); const d = await be.read(C, N * N * 4); return new Float32Array(d.buffer, d.byteOffset, N * N); },
    run() { return this.result(); },
  }]);
  // f16: the same rb rung reading and writing halves (the inputs rounded to f16 on upload).
  const halves = (x: Float32Array) => Uint16Array.from(x, f32ToF16Bits);
  const A16 = be.alloc(N * N * 2), B16 = be.alloc(N * N * 2), C16 = be.alloc(N * N * 2);
  if (N >= 256) {
    be.write(A16, halves(a)); be.write(B16, halves(b));
    const { fallback: _, ...prog16 } = matmulProgram({ ...p, dtype: 'f16' }, be.limits, 'rb');
    await be.precompile([prog16]);
    // A sample reads the halves back but does not decode them on the host (result() does).
    const bytes = async () => { be.dispatch(prog16, [A16, B16], C16); return be.read(C16, N * N * 2); };
    engines.push(['tandem-rb-f16', {
      async result() { const d = await bytes(); return Float32Array.from(new Uint16Array(d.buffer, d.byteOffset, N * N), f16BitsToF32); },
      run: bytes,
    }]);
  }
  const tA = tf.tensor(a, [N, N]), tB = tf.tensor(b, [N, N]);
  engines.push(['tfjs-webgpu', {
    async result() { const c = tf.matMul(tA, tB); const d = (await c.data()) as Float32Array; c.dispose(); return d; },
    run() { return this.result(); },
  }]);
  const results = new Map<string, Float32Array>();
  for (const [name, e] of engines) results.set(name, await e.result()); // also compiles every pipeline
  const med = await measure(iterations, engines);
  const rb = results.get('tandem-rb')!;
  for (const [engine] of engines) {
    const { medianMs, samples } = med.get(engine)!;
    const r = results.get(engine)!;
    let d = 0, s = 0;
    for (let i = 0; i < rb.length; i++) { d = Math.max(d, Math.abs(r[i] - rb[i])); s = Math.max(s, Math.abs(rb[i])); }
    rows.push({ n: N, engine, medianMs, gflops: (2 * N ** 3) / medianMs / 1e6, samples, maxRelDiffVsRb: d / (s || 1) });
  }
  console.error(`N=${N}: ${rows.filter((r) => r.n === N).map((r) => `${r.engine} ${r.gflops.toFixed(3)}`).join(', ')} GFLOP/s`);
  be.free(A); be.free(B); be.free(C); be.free(A16); be.free(B16); be.free(C16); tA.dispose(); tB.dispose();
}
const at = (n: number, e: string) => rows.find((r) => r.n === n && r.engine === e)!;
const matmulRatios = [128, 256, 512].map((n) => {
  const best = rows.filter((r) => r.n === n && r.engine.startsWith('tandem-') && !r.engine.endsWith('-f16')).sort((x, y) => x.medianMs - y.medianMs)[0];
  const f16 = rows.find((r) => r.n === n && r.engine === 'tandem-rb-f16');
  return { n, rbF16OverRbF32: f16 ? at(n, 'tandem-rb').medianMs / f16.medianMs : null, defaultRung: chooseMatmul({ m: n, k: n, n }), bestRung: best.engine, bestOverTfjs: at(n, 'tfjs-webgpu').medianMs / best.medianMs, rbOverTfjs: at(n, 'tfjs-webgpu').medianMs / at(n, 'tandem-rb').medianMs, rbOverTiled: at(n, 'tandem-tiled').medianMs / at(n, 'tandem-rb').medianMs, rbOverNaive: at(n, 'tandem-naive').medianMs / at(n, 'tandem-rb').medianMs };
});

// ---- 1b. vector products: the gemv rung (the default for m = 1 or n = 1) against rb ----
interface VecRow { case: string; engine: string; medianMs: number; gflops: number; samples: number }
const vecRows: VecRow[] = [];
for (const [m, k, n] of [[1, 2048, 2048], [2048, 2048, 1]]) {
  const a = data(m * k, 3), b = data(k * n, 4);
  const A = be.alloc(a.length * 4), B = be.alloc(b.length * 4), C = be.alloc(m * n * 4);
  be.write(A, a); be.write(B, b);
  const progs = (['gemv', 'rb'] as const).map((v) => { const { fallback: _, ...prog } = matmulProgram({ m, k, n }, be.limits, v); return [v, prog] as const; });
  await be.precompile(progs.map(([, prog]) => prog));
  const engines: [string, Sampled][] = progs.map(([v, prog]) => [`tandem-${v}`, { async run() { be.dispatch(prog, [A, B], C); await be.read(C, m * n * 4); } }]);
  const tA = tf.tensor(a, [m, k]), tB = tf.tensor(b, [k, n]);
  engines.push(['tfjs-webgpu', { async run() { const c = tf.matMul(tA, tB); await c.data(); c.dispose(); } }]);
  for (const [, e] of engines) await e.run();
  const med = await measure(5, engines);
  const name = `${m}x${k} @ ${k}x${n}`;
  for (const [engine] of engines) { const { medianMs, samples } = med.get(engine)!; vecRows.push({ case: name, engine, medianMs, samples, gflops: (2 * m * k * n) / medianMs / 1e6 }); }
  console.error(`${name}: ${vecRows.filter((r) => r.case === name).map((r) => `${r.engine} ${r.medianMs.toFixed(1)} ms`).join(', ')}`);
  be.free(A); be.free(B); be.free(C); tA.dispose(); tB.dispose();
}

// ---- 4. row reductions: subgroup fold vs workgroup tree vs tfjs-webgpu ----
// One sample = dispatch + read back the whole output, as for matmul. tfjs without CPU forwarding.
tf.env().set('WEBGPU_CPU_FORWARD', false);
interface RowRed { case: string; engine: string; medianMs: number; samples: number; maxAbsDiffVsTree: number }
const redRows: RowRed[] = [];
const redKeys: Record<string, Record<string, string | number>> = {};
const groupLimits = [...(be.limits.subgroups ? [['subgroup', true]] : []), ['tree', false]] as [string, boolean][];
if (!be.limits.subgroups) console.error('row reductions: this device has no usable subgroups; the tree runs alone');
for (const c of [{ name: 'sum rows [1024, 4096]', kernel: 'reduce', rows: 1024, n: 4096 }, { name: 'softmax [256, 1000]', kernel: 'softmax', rows: 256, n: 1000 }] as const) {
  const x = data(c.rows * c.n, 5), outLen = c.kernel === 'reduce' ? c.rows : c.rows * c.n;
  const X = be.alloc(x.length * 4), O = be.alloc(outLen * 4);
  be.write(X, x);
  const engines: [string, Sampled & { result(): Promise<Float32Array> }][] = [];
  for (const [variant, subgroups] of groupLimits) {
    const lim = { ...be.limits, subgroups };
    const prog = c.kernel === 'reduce' ? PROGRAMS.reduce({ op: 'sum', outer: c.rows, reduce: c.n, inner: 1 }, lim) : PROGRAMS.softmax({ rows: c.rows, n: c.n, log: false }, lim);
    redKeys[`${c.kernel} ${variant}`] = prog.key;
    await be.precompile([prog]);
    engines.push([`tandem-${variant}`, {
      async result() { be.dispatch(prog, [X], O); const d = await be.read(O, outLen * 4); return new Float32Array(d.buffer, d.byteOffset, outLen); },
      run() { return this.result(); },
    }]);
  }
  const tX = tf.tensor(x, [c.rows, c.n]);
  engines.push(['tfjs-webgpu', {
    async result() { const y = c.kernel === 'reduce' ? tf.sum(tX, 1) : tf.softmax(tX); const d = (await y.data()) as Float32Array; y.dispose(); return d; },
    run() { return this.result(); },
  }]);
  const results = new Map<string, Float32Array>();
  for (const [name, e] of engines) results.set(name, await e.result()); // also compiles tfjs's pipeline
  const med = await measure(5, engines);
  const tree = results.get('tandem-tree')!;
  for (const [engine] of engines) {
    const r = results.get(engine)!;
    let d = 0;
    for (let i = 0; i < tree.length; i++) d = Math.max(d, Math.abs(r[i] - tree[i]));
    redRows.push({ case: c.name, engine, ...med.get(engine)!, maxAbsDiffVsTree: d });
  }
  console.error(`${c.name}: ${redRows.filter((r) => r.case === c.name).map((r) => `${r.engine} ${r.medianMs.toFixed(1)} ms`).join(', ')}`);
  be.free(X); be.free(O); tX.dispose();
}
const redRatios = [...new Set(redRows.map((r) => r.case))].map((name) => {
  const ms = (e: string) => redRows.find((r) => r.case === name && r.engine === e)?.medianMs;
  const sub = ms('tandem-subgroup'), tree = ms('tandem-tree')!, tfjs = ms('tfjs-webgpu')!;
  return { case: name, subgroupOverTree: sub ? tree / sub : null, subgroupOverTfjs: sub ? tfjs / sub : null, treeOverTfjs: tfjs / tree };
});
console.table(redRatios);

// ---- 3. dispatch overhead: tiny adds per second ----
const CHAIN = 200;
const x0 = be.alloc(16), one = be.alloc(16), X = be.alloc(16), Y = be.alloc(16);
be.write(x0, new Float32Array([1, 2, 3, 4])); be.write(one, new Float32Array([1, 1, 1, 1]));
const add = { op: 'add' as const, shape: [4], aStrides: [1], bStrides: [1] };
const encodeUs: Record<string, number[]> = {};
const chain = (limit: number): Sampled => ({
  async run() {
    be.batchLimit = limit;
    const t0 = performance.now();
    be.run('binary', [x0, one], X, add);
    for (let i = 1; i < CHAIN; i++) be.run('binary', i % 2 ? [X, one] : [Y, one], i % 2 ? Y : X, add);
    (encodeUs[limit] ??= []).push(((performance.now() - t0) * 1000) / CHAIN);
    const d = new Float32Array((await be.read(CHAIN % 2 ? X : Y, 16)).buffer);
    if (d[0] !== 1 + CHAIN) throw new Error(`add chain: got ${d[0]}, expected ${1 + CHAIN}`);
  },
});
const tx0 = tf.tensor([1, 2, 3, 4]), tone = tf.tensor([1, 1, 1, 1]);
const tfChain: Sampled = {
  async run() {
    let t = tf.add(tx0, tone);
    for (let i = 1; i < CHAIN; i++) { const u = tf.add(t, tone); t.dispose(); t = u; }
    const d = (await t.data()) as Float32Array;
    t.dispose();
    if (d[0] !== 1 + CHAIN) throw new Error(`tfjs add chain: got ${d[0]}`);
  },
};
// tfjs-webgpu runs small ops on the CPU when their inputs are there (WEBGPU_CPU_FORWARD);
// off, so its row measures GPU dispatches like Tandem's.
tf.env().set('WEBGPU_CPU_FORWARD', false);
const dispatchMed = await measure(5, [['tandem-one-submit', chain(Infinity)], ['tandem-submit-each', chain(1)], ['tfjs-webgpu', tfChain]]);
be.batchLimit = 64;
const dispatch = Object.fromEntries([...dispatchMed].map(([name, { medianMs, samples }]) => [name, { addsPerSecond: (CHAIN * 1000) / medianMs, medianMsPerChain: medianMs, samples }]));
// The JS side alone: µs per run() call to record (and, at batchLimit 1, submit) one add.
const encodeMedianUs = { 'tandem-one-submit': median(encodeUs[Infinity]), 'tandem-submit-each': median(encodeUs[1]) };
console.error(`dispatch: ${Object.entries(dispatch).map(([n, r]) => `${n} ${r.addsPerSecond.toFixed(0)} adds/s`).join(', ')}; JS side ${JSON.stringify(encodeMedianUs)} µs per run()`);
for (const b of [x0, one, X, Y]) be.free(b);

// ---- 2. cold start, in fresh processes (after the rest, so this process is idle) ----
// Children reach the same adapter acquire.ts found: its Vulkan driver choice goes in the env.
const icd = process.env.VK_ICD_FILENAMES;
const childEnv = { ...process.env, ...(icd ? { LD_LIBRARY_PATH: [icd.replace(/\/[^/]+$/, ''), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') } : {}) };
function coldOnce(lib: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, `--cold=${lib}`], { stdio: ['ignore', 'pipe', 'inherit'], env: childEnv });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.on('close', (code) => { const m = out.match(/^COLD (\S+)/m); if (m) resolve(Number(m[1])); else reject(new Error(`cold ${lib}: exit ${code}: ${out}`)); });
  });
}
const coldSamples: Record<string, number[]> = { tandem: [], tfjs: [] };
for (let i = 0; i < 3; i++) for (const lib of ['tandem', 'tfjs']) coldSamples[lib].push(await coldOnce(lib));
const coldStart = { n: COLD_N, tandemMs: median(coldSamples.tandem), tfjsMs: median(coldSamples.tfjs), tandemOverTfjs: median(coldSamples.tandem) / median(coldSamples.tfjs), samples: coldSamples };
console.error(`cold start to first ${COLD_N}x${COLD_N} matmul: tandem ${coldStart.tandemMs.toFixed(0)} ms, tfjs-webgpu ${coldStart.tfjsMs.toFixed(0)} ms`);

console.table(rows.map((r) => ({ N: r.n, engine: r.engine, ms: r.medianMs.toFixed(1), 'GFLOP/s': r.gflops.toFixed(3), 'max rel diff vs rb': r.maxRelDiffVsRb.toExponential(1) })));
console.table(matmulRatios.map((r) => ({ N: r.n, best: r.bestRung, 'best / tfjs': `${r.bestOverTfjs.toFixed(2)}x`, 'rb / tiled': `${r.rbOverTiled.toFixed(2)}x`, 'rb / naive': `${r.rbOverNaive.toFixed(2)}x`, 'rb f16 / rb f32': r.rbF16OverRbF32 === null ? '' : `${r.rbF16OverRbF32.toFixed(2)}x` })));

const result = {
  bench: 'webgpu', date: new Date().toISOString(), runtime: `node ${process.version}`,
  adapter: got.info, machine: '2 cores shared with other work; SwiftShader runs WGSL on those cores, so only same-run ratios mean anything',
  peer: { name: 'tfjs-webgpu', version: version('@tensorflow/tfjs-backend-webgpu'), config: 'tfjs-core + tfjs-backend-webgpu, default flags (but WEBGPU_CPU_FORWARD false for the dispatch rows), tf.matMul / tf.add, navigator.gpu = the GPU object acquire.ts made (same Dawn instance and adapter, own device)' },
  rbTile: matmulProgram({ m: 512, k: 512, n: 512 }, be.limits, 'rb').key,
  compileMs: { note: 'one pipeline compile per rung (precompile on a miss), the reason small products run naive while rb compiles', ...compileMs },
  matmul: { note: 'one sample = dispatch + read back the whole output; median over interleaved rounds; ratios are tfjs median / Tandem median (> 1: Tandem faster); rbF16OverRbF32 is rb f32 median / rb f16 median (> 1: f16 faster); the f16 row\'s maxRelDiffVsRb is its f16 rounding (inputs and output), not an error', rows, ratios: matmulRatios },
  vector: { note: 'm = 1 or n = 1: dispatch + read back; gemv is what PROGRAMS.matmul picks for these', rows: vecRows },
  coldStart: { note: 'ms from process start (performance.now() in the child) to the first matmul result: import, adapter, device, compile, upload, compute, read; fresh node process per sample, alternating libraries; Tandem through dist/tandem.js (T.init also starts the Wasm engine)', ...coldStart },
  rowReductions: { note: 'one sample = dispatch + read back the whole output (1024 sums; 256 x 1000 softmax values); median over interleaved rounds; tandem-subgroup / tandem-tree are the same row kernel with its group fold by subgroup operations or by the workgroup tree (wgsl-group.ts), on one device; ratios are other median / subgroup median (> 1: subgroup faster); tfjs-webgpu tf.sum(x, 1) / tf.softmax(x), WEBGPU_CPU_FORWARD false', keys: redKeys, rows: redRows, ratios: redRatios },
  dispatch: { encodeMedianUs, note: `${CHAIN} dependent 4-element adds then one read; encodeMedianUs is the JS side alone (µs per run() call, before the read); one-submit records all of them into one command buffer (batchLimit Infinity), submit-each submits every dispatch (batchLimit 1); tfjs-webgpu with WEBGPU_CPU_FORWARD false (else it adds tiny tensors on the CPU), its default batching`, ...dispatch },
};
writeFileSync(new URL('./results/webgpu.json', import.meta.url), JSON.stringify(result, null, 2) + '\n');
be.destroy();
process.exit(0);
