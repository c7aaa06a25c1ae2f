/**
 * The window kernels at the backend seam, every engine against the reference backend (whose
 * direct-loop convolution is itself checked against a separate plain-JS convolution here):
 * conv2d (with and without bias, relu), its input and weight gradients, im2col, col2im, max
 * pooling and its gradient, on the Wasm kernels (f32x4, scalar twins, a 2-thread pool that
 * splits everything) and the gpu. Geometries cover N = 0 and 1, primes and odd sizes, kernels
 * 1x1 / 3x3 / 5x5 / 3x1, stride 1, 2 and 3, padding 0, 1 and 2, dilation 2, groups, every
 * tail of C*kH*kW modulo 4 and 8 (the GEMM's k and the im2col rows), and the chunked path
 * (CONV_LIMITS.colBytes lowered so each chunk holds one image).
 * tests/conv-api.test.ts covers the ops, their errors and the gradients numerically.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend, ConvGeom, KernelName, KernelParams, PoolGeom } from '../src/backend/backend.ts';
import { CONV_LIMITS } from '../src/backend/conv-driver.ts';
import { REQUIRE_GPU, RUNTIME, mismatch, randomData } from './harness.ts';
import { asF32, cpuEngines, gpu, ref, run } from './seam.ts';

const engines: [string, Backend][] = [...cpuEngines, ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];

test(`${RUNTIME}: conv: an adapter exists for the gpu window kernels`, () => {
  if (REQUIRE_GPU) assert.ok(gpu, 'init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
});

/** Geometry from the PyTorch-style description (output size by the usual formula). */
function geom(n: number, c: number, h: number, w: number, o: number, [kh, kw]: number[], [sh, sw] = [1, 1], [ph, pw] = [0, 0], [dh, dw] = [1, 1], groups = 1): ConvGeom {
  const oh = Math.floor((h + 2 * ph - dh * (kh - 1) - 1) / sh) + 1, ow = Math.floor((w + 2 * pw - dw * (kw - 1) - 1) / sw) + 1;
  return { n, c, h, w, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups };
}
const describe = (p: ConvGeom) => `n${p.n} c${p.c} ${p.h}x${p.w} o${p.o} k${p.kh}x${p.kw} s${p.sh},${p.sw} p${p.ph},${p.pw} d${p.dh},${p.dw} g${p.groups}`;

/** Shapes for every engine (small: SwiftShader), then more for the cpu (tails of C*kH*kW). */
const CASES: ConvGeom[] = [
  geom(1, 1, 1, 1, 1, [1, 1]),
  geom(2, 3, 7, 5, 4, [3, 3], [1, 1], [1, 1]),
  geom(3, 2, 11, 13, 5, [5, 5], [2, 2], [2, 2]),
  geom(2, 5, 9, 8, 3, [3, 3], [1, 1], [2, 2], [2, 2]),
  geom(1, 4, 6, 10, 6, [3, 1], [2, 1], [1, 0], [1, 1], 2),
  geom(2, 3, 5, 23, 2, [3, 3], [2, 2], [1, 1]), // the f32x4 stride-2 gather of im2col
  geom(1, 2, 8, 17, 3, [2, 3], [3, 3], [0, 2]),
  geom(1, 6, 4, 4, 9, [1, 1], [1, 1], [0, 0], [1, 1], 3),
];
const CPU_CASES: ConvGeom[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8, 9].flatMap((c) => [geom(2, c, 6, 7, 5, [1, 1]), geom(1, c, 5, 9, 3, [3, 3], [1, 1], [1, 1])]),
  geom(3, 16, 14, 14, 8, [5, 5], [1, 1], [2, 2]),
  geom(2, 1, 28, 28, 8, [3, 3], [1, 1], [1, 1]),
];

/** A plain-JS direct convolution in f64, independent of the reference backend's. */
function directConv(x: Float32Array, w: Float32Array, bias: Float32Array | null, p: ConvGeom): Float64Array {
  const out = new Float64Array(p.n * p.o * p.oh * p.ow), cg = p.c / p.groups, og = p.o / p.groups;
  let i = 0;
  for (let b = 0; b < p.n; b++) for (let o = 0; o < p.o; o++) for (let y = 0; y < p.oh; y++) for (let xx = 0; xx < p.ow; xx++) {
    let s = bias ? bias[o] : 0;
    for (let ci = 0; ci < cg; ci++) for (let ki = 0; ki < p.kh; ki++) for (let kj = 0; kj < p.kw; kj++) {
      const iy = y * p.sh - p.ph + ki * p.dh, ix = xx * p.sw - p.pw + kj * p.dw;
      if (iy < 0 || iy >= p.h || ix < 0 || ix >= p.w) continue;
      const ch = Math.floor(o / og) * cg + ci;
      s += x[((b * p.c + ch) * p.h + iy) * p.w + ix] * w[((o * cg + ci) * p.kh + ki) * p.kw + kj];
    }
    out[i++] = s;
  }
  return out;
}

async function both<K extends KernelName>(be: Backend, kernel: K, inputs: Float32Array[], outFloats: number, p: KernelParams[K]) {
  const got = asF32((await run(be, kernel, inputs, 4 * outFloats, p)).out).slice();
  const want = asF32((await run(ref, kernel, inputs, 4 * outFloats, p)).out).slice();
  return { got, want };
}

function close(got: Float32Array, want: Float32Array, k: number, what: string): void {
  // Sums of k products of N(0, 1)-ish values: f32 rounding grows like sqrt(k).
  const bad = mismatch(got, want, null, 2e-6 * (k + 4), 2e-5);
  if (bad) assert.unreachable(`${what}: ${bad}`);
}

test(`${RUNTIME}: ref: conv2d matches a plain-JS direct convolution`, async () => {
  for (const p of [...CASES, geom(2, 4, 5, 6, 4, [3, 2], [2, 1], [1, 1], [1, 2], 2)]) {
    for (const bias of [false, true]) {
      const x = randomData(p.n * p.c * p.h * p.w, 1), w = randomData(p.o * (p.c / p.groups) * p.kh * p.kw, 2), b = randomData(p.o, 3);
      const got = asF32((await run(ref, 'conv2d', bias ? [x, w, b] : [x, w], 4 * p.n * p.o * p.oh * p.ow, { ...p, bias })).out);
      const bad = mismatch(got, new Float32Array(directConv(x, w, bias ? b : null, p)), null, 1e-6, 1e-6);
      if (bad) assert.unreachable(`${describe(p)} bias=${bias}: ${bad}`);
    }
  }
});

for (const [name, be] of engines) {
  const cases = name === 'webgpu' ? CASES : [...CASES, ...CPU_CASES];

  test(`${RUNTIME}: ${name}: conv2d (bias, relu) and both gradients against the reference`, async () => {
    for (const p of cases) {
      const k = (p.c / p.groups) * p.kh * p.kw, ys = p.n * p.o * p.oh * p.ow;
      const x = randomData(p.n * p.c * p.h * p.w, p.c + 7), w = randomData(p.o * k, p.o + 11), b = randomData(p.o, 5), dy = randomData(ys, 13);
      for (const [bias, activation] of [[false, 'none'], [true, 'none'], [true, 'relu']] as const) {
        const r = await both(be, 'conv2d', bias ? [x, w, b] : [x, w], ys, { ...p, bias, activation });
        close(r.got, r.want, k, `conv2d ${describe(p)} bias=${bias} ${activation}`);
      }
      const dx = await both(be, 'conv2dInputGrad', [dy, w], p.n * p.c * p.h * p.w, p);
      close(dx.got, dx.want, p.o * p.kh * p.kw, `conv2dInputGrad ${describe(p)}`);
      const dw = await both(be, 'conv2dWeightGrad', [x, dy], p.o * k, p);
      close(dw.got, dw.want, p.n * p.oh * p.ow, `conv2dWeightGrad ${describe(p)}`);
    }
  });

  test(`${RUNTIME}: ${name}: im2col (with and without the ones row) and col2im, a slice of images`, async () => {
    for (const p of cases.slice(0, 8)) {
      const first = p.n > 1 ? 1 : 0, images = p.n - first;
      const x = randomData(p.n * p.c * p.h * p.w, 3);
      for (const ones of [false, true]) {
        const rows = p.groups * ((p.c / p.groups) * p.kh * p.kw + (ones ? 1 : 0));
        const r = await both(be, 'im2col', [x], images * rows * p.oh * p.ow, { ...p, first, images, ones });
        close(r.got, r.want, 0, `im2col ${describe(p)} ones=${ones}`);
      }
      // col2im writes only its images: the others keep what the output held.
      const cols = randomData(images * p.c * p.kh * p.kw * p.oh * p.ow, 4), before = randomData(p.n * p.c * p.h * p.w, 5);
      const q = { ...p, first, images };
      const got = asF32((await run(be, 'col2im', [cols], before, q)).out), want = asF32((await run(ref, 'col2im', [cols], before, q)).out);
      close(got, want, p.kh * p.kw, `col2im ${describe(p)}`);
    }
  });

  test(`${RUNTIME}: ${name}: chunked conv2d and gradients (one image per chunk) equal the one-chunk result`, async () => {
    const saved = CONV_LIMITS.colBytes;
    try {
      for (const p of [CASES[1], CASES[2], CASES[4]]) {
        const k = (p.c / p.groups) * p.kh * p.kw, ys = p.n * p.o * p.oh * p.ow;
        const x = randomData(p.n * p.c * p.h * p.w, 21), w = randomData(p.o * k, 22), b = randomData(p.o, 23), dy = randomData(ys, 24);
        CONV_LIMITS.colBytes = 1;
        const y = await both(be, 'conv2d', [x, w, b], ys, { ...p, bias: true });
        const dx = await both(be, 'conv2dInputGrad', [dy, w], p.n * p.c * p.h * p.w, p);
        const dw = await both(be, 'conv2dWeightGrad', [x, dy], p.o * k, p);
        CONV_LIMITS.colBytes = saved;
        close(y.got, y.want, k, `chunked conv2d ${describe(p)}`);
        close(dx.got, dx.want, p.o * p.kh * p.kw, `chunked conv2dInputGrad ${describe(p)}`);
        close(dw.got, dw.want, p.n * p.oh * p.ow, `chunked conv2dWeightGrad ${describe(p)}`);
      }
    } finally {
      CONV_LIMITS.colBytes = saved;
    }
  });

  test(`${RUNTIME}: ${name}: the weight gradient of no images is 0`, async () => {
    const p = geom(0, 3, 5, 5, 2, [3, 3]);
    const got = asF32((await run(be, 'conv2dWeightGrad', [new Float32Array(1), new Float32Array(1)], new Float32Array(2 * 27).fill(7), p)).out);
    assert.equal(Array.from(got), new Array(54).fill(0));
  });

  test(`${RUNTIME}: ${name}: maxPool2d and its gradient (ties, NaN, -inf, padding) against the reference`, async () => {
    const pools: PoolGeom[] = [
      geom(1, 1, 1, 1, 1, [1, 1]), geom(2, 3, 8, 8, 3, [2, 2], [2, 2]), geom(1, 2, 7, 9, 2, [3, 3], [2, 2], [1, 1]),
      geom(2, 2, 11, 10, 2, [3, 2], [1, 2], [1, 1], [2, 1]), geom(1, 3, 13, 5, 3, [5, 5], [3, 1], [2, 2]),
    ];
    for (const p of pools) {
      const size = p.n * p.c * p.h * p.w, ys = p.n * p.c * p.oh * p.ow;
      // Rounded to halves, so windows hold ties; a NaN and a -inf in some windows.
      const x = randomData(size, 9).map((v) => Math.round(v * 2) / 2);
      if (size > 5) { x[3] = NaN; x[size - 2] = -Infinity; }
      const dy = randomData(ys, 10);
      const y = await both(be, 'maxPool2d', [x], ys, p);
      const bad = mismatch(y.got, y.want, null, 0, 0);
      if (bad) assert.unreachable(`maxPool2d ${describe(p as ConvGeom)}: ${bad}`);
      const dx = await both(be, 'maxPool2dGrad', [x, dy], size, p);
      close(dx.got, dx.want, p.kh * p.kw, `maxPool2dGrad ${describe(p as ConvGeom)}`);
    }
  });
}

test.run();
