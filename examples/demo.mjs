// `npm run demo`: what Tandem found on this machine, then one matmul on each engine, checked
// against each other and timed. On a machine without a GPU the `gpu` engine is SwiftShader, a
// software rasteriser: its times say nothing about a real GPU.
import * as T from '../dist/tandem.js';

const info = await T.init({ threads: 'auto' });
console.log('Tandem');
console.log(`  cpu: WebAssembly ${info.cpu.relaxedSimd ? 'relaxed SIMD (f32x4 + fused multiply-add)' : 'SIMD (f32x4)'}, ${info.cpu.threads} thread(s)`);
console.log(info.gpu
  ? `  gpu: ${info.gpu.adapter}${info.gpu.fallback ? ' (software fallback adapter)' : ''}; ` +
    ['shader-f16', 'subgroups', 'timestamp-query'].map((f) => `${f}: ${info.gpu.features.includes(f) ? 'yes' : 'no'}`).join(', ')
  : '  gpu: none (no WebGPU adapter; everything runs on the cpu engine)');

const engines = info.gpu ? ['cpu', 'gpu'] : ['cpu'];
for (const n of [128, 256]) {
  const results = {};
  for (const device of engines) {
    const a = T.randn([n, n], { seed: 1, device }), b = T.randn([n, n], { seed: 2, device });
    // Warm-up: the GPU compiles its pipeline on the first call; V8 optimises Wasm only after
    // repeated calls, so the cpu gets several.
    for (let w = 0; w < (device === 'cpu' ? 10 : 1); w++) (await T.matmul(a, b).data());
    const reps = device === 'gpu' && info.gpu?.fallback ? 2 : 10;
    let out;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) {
      const c = T.matmul(a, b);
      out = await c.data();
      c.dispose();
    }
    const ms = (performance.now() - t0) / reps;
    results[device] = out;
    console.log(`  matmul ${n}x${n}x${n} on ${device}: ${ms.toFixed(2)} ms (${((2 * n ** 3) / ms / 1e6).toFixed(2)} GFLOP/s, includes readback)`);
    a.dispose(); b.dispose();
  }
  if (results.gpu) {
    let maxDiff = 0, maxAbs = 0;
    for (let i = 0; i < results.cpu.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(results.cpu[i] - results.gpu[i]));
      maxAbs = Math.max(maxAbs, Math.abs(results.cpu[i]));
    }
    const ok = maxDiff <= 1e-5 * n * maxAbs;
    console.log(`  cpu vs gpu: max |difference| ${maxDiff.toExponential(2)} (largest value ${maxAbs.toFixed(1)}): ${ok ? 'agree' : 'DISAGREE'}`);
    if (!ok) process.exitCode = 1;
  }
}
T.shutdown();
