/**
 * Per-image cost of the data loader's fused preprocessing (assembly/preprocess.ts: random crop
 * with zero padding, horizontal flip, u8 HWC -> normalised f32 CHW): the f32x4 kernel, its scalar
 * twin, and a plain-JS loop over the same contract, on MNIST-like 28x28x1 and CIFAR-like 32x32x3
 * images cropped to 24x24 from the image padded by 4 (plus CIFAR's usual 32x32 crop, pad 4),
 * flip off and on. Each timed call preprocesses a batch of BATCH images, cycling through a fixed
 * list of window origins (so every engine sees the same mix of padded and unpadded windows);
 * engines run interleaved in rounds, medians of all samples, divided by BATCH. The kernels run on
 * the plain-SIMD build in a private memory, called directly (no scheduler). The three outputs
 * are checked to agree bit for bit first. Writes bench/results/preprocess.json.
 *
 *   npm run bench:preprocess
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { wasmModule } from '../src/runtime.ts';

type Kernel = (src: number, h: number, w: number, ch: number, out: number, oh: number, ow: number, top: number, left: number, flip: number,
  s0: number, s1: number, s2: number, s3: number, b0: number, b1: number, b2: number, b3: number) => void;

const BATCH = 64, ROUNDS = 5, ITERATIONS = 400;
const memory = new WebAssembly.Memory({ initial: 4 });
const ex = new WebAssembly.Instance(await wasmModule(undefined, 'simd'), { env: { memory } }).exports as Record<string, Kernel>;
const SRC = 4096, OUT = 65536;

/** The contract in plain JS, written for speed (per row: padding, then the inside run). */
function jsKernel(src: Uint8Array, h: number, w: number, ch: number, out: Float32Array, oh: number, ow: number, top: number, left: number, flip: number, s: Float32Array, b: Float32Array): void {
  const x0 = Math.min(ow, Math.max(0, flip ? left + ow - w : -left)), x1 = Math.max(x0, Math.min(ow, flip ? left + ow : w - left));
  for (let c = 0; c < ch; c++) {
    const sc = s[c], bc = b[c], pad = Math.fround(Math.fround(0 * sc) + bc), plane = c * oh * ow;
    for (let y = 0; y < oh; y++) {
      const sy = top + y, o = plane + y * ow;
      if (sy < 0 || sy >= h || x0 === x1) { out.fill(pad, o, o + ow); continue; }
      out.fill(pad, o, o + x0); out.fill(pad, o + x1, o + ow);
      const rl = sy * w + left;
      if (flip) for (let x = x0, p = (rl + ow - 1 - x0) * ch + c; x < x1; x++, p -= ch) out[o + x] = Math.fround(src[p] * sc) + bc;
      else for (let x = x0, p = (rl + x0) * ch + c; x < x1; x++, p += ch) out[o + x] = Math.fround(src[p] * sc) + bc;
    }
  }
}

interface Case { name: string; h: number; w: number; ch: number; crop: number; pad: number }
const CASES: Case[] = [
  { name: '28x28x1 crop 24 pad 4', h: 28, w: 28, ch: 1, crop: 24, pad: 4 },
  { name: '32x32x3 crop 24 pad 4', h: 32, w: 32, ch: 3, crop: 24, pad: 4 },
  { name: '32x32x3 crop 32 pad 4', h: 32, w: 32, ch: 3, crop: 32, pad: 4 },
];
const S = Float32Array.from([0.247, 0.2435, 0.2616, 1], (sd) => 1 / (255 * sd));
const B = Float32Array.from([0.4914, 0.4822, 0.4465, 0], (m, c) => -m / [0.247, 0.2435, 0.2616, 1][c]);

const rows: { case: string; flip: number; engine: string; nsPerImage: number; samples: number }[] = [];
const ratios: { case: string; flip: number; scalarOverSimd: number; jsOverSimd: number }[] = [];
for (const c of CASES) {
  const n = c.h * c.w * c.ch, outLen = c.ch * c.crop * c.crop;
  let r = 7;
  const img = Uint8Array.from({ length: n }, () => (r = (r * 1103515245 + 12345) >>> 0) >>> 24);
  new Uint8Array(memory.buffer, SRC, n).set(img);
  const span = c.h + 2 * c.pad - c.crop + 1, spanW = c.w + 2 * c.pad - c.crop + 1;
  const windows = Array.from({ length: BATCH }, () => [((r = (r * 1103515245 + 12345) >>> 0) >>> 8) % span - c.pad, ((r = (r * 1103515245 + 12345) >>> 0) >>> 8) % spanW - c.pad]);
  const jsOut = new Float32Array(outLen);
  for (const flip of [0, 1]) {
    // The JS loop keeps its output on the JS heap; the kernels write into Wasm memory.
    const wasm = (k: Kernel) => () => { for (const [top, left] of windows) k(SRC, c.h, c.w, c.ch, OUT, c.crop, c.crop, top, left, flip, S[0], S[1], S[2], S[3], B[0], B[1], B[2], B[3]); };
    const engines: [string, () => void][] = [
      ['wasm f32x4', wasm(ex.u8_crop_flip_normalize)],
      ['wasm scalar', wasm(ex.u8_crop_flip_normalize__scalar)],
      ['plain JS', () => { for (const [top, left] of windows) jsKernel(img, c.h, c.w, c.ch, jsOut, c.crop, c.crop, top, left, flip, S, B); }],
    ];
    // Same answer first, on every window.
    for (const [top, left] of windows) {
      const got: Uint32Array[] = [];
      for (const k of [ex.u8_crop_flip_normalize, ex.u8_crop_flip_normalize__scalar]) {
        k(SRC, c.h, c.w, c.ch, OUT, c.crop, c.crop, top, left, flip, S[0], S[1], S[2], S[3], B[0], B[1], B[2], B[3]);
        got.push(new Uint32Array(memory.buffer.slice(OUT, OUT + 4 * outLen)));
      }
      jsKernel(img, c.h, c.w, c.ch, jsOut, c.crop, c.crop, top, left, flip, S, B);
      got.push(new Uint32Array(jsOut.slice().buffer));
      for (let i = 0; i < got[0].length; i++) {
        if (got[1][i] !== got[0][i] || got[2][i] !== got[0][i]) throw new Error(`${c.name} flip ${flip} window ${top},${left}: outputs differ at ${i}`);
      }
    }
    const samples = new Map(engines.map(([e]) => [e, [] as number[]]));
    for (let round = 0; round < ROUNDS; round++) {
      const bench = new Bench({ time: 0, iterations: ITERATIONS / ROUNDS, retainSamples: true, warmup: round === 0, warmupIterations: 100 });
      for (const [e, fn] of engines) bench.add(e, fn);
      await bench.run();
      for (const t of bench.tasks) samples.get(t.name)!.push(...((t.result as { latency?: { samples?: number[] } }).latency?.samples ?? []));
    }
    const ns: Record<string, number> = {};
    for (const [e] of engines) {
      const xs = samples.get(e)!.sort((a, b) => a - b);
      ns[e] = (xs[xs.length >> 1] * 1e6) / BATCH;
      rows.push({ case: c.name, flip, engine: e, nsPerImage: ns[e], samples: xs.length });
    }
    ratios.push({ case: c.name, flip, scalarOverSimd: ns['wasm scalar'] / ns['wasm f32x4'], jsOverSimd: ns['plain JS'] / ns['wasm f32x4'] });
    console.error(`${c.name}, flip ${flip}: done`);
  }
}
console.table(rows.map((r) => ({ ...r, nsPerImage: r.nsPerImage.toFixed(0) })));
console.table(ratios.map((r) => ({ case: r.case, flip: r.flip, 'scalar / f32x4': `${r.scalarOverSimd.toFixed(2)}x`, 'plain JS / f32x4': `${r.jsOverSimd.toFixed(2)}x` })));
writeFileSync(new URL('./results/preprocess.json', import.meta.url), JSON.stringify({
  bench: 'preprocess', date: new Date().toISOString(), runtime: `node ${process.version}`,
  note: `Median ns per image of u8_crop_flip_normalize (f32x4), its scalar twin and a plain-JS loop, plain-SIMD build, 1 thread; each sample is a batch of ${BATCH} images over fixed random window origins in [-pad, size + pad - crop]; engines interleaved in ${ROUNDS} rounds, outputs checked bit for bit first. Ratio > 1: f32x4 faster.`,
  rows, ratios,
}, null, 2) + '\n');
process.exit(0);
