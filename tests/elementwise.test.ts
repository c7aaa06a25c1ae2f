/**
 * Every row of the elementwise spec table (src/ops/elementwise-spec.ts) on every engine that has
 * it, against the reference backend at the seam: the Wasm f32x4 kernels, their scalar twins and
 * the WGSL kernels. Sizes include 0, 1, primes and every tail of 4 and 16 lanes; binary ops
 * broadcast. Accuracy is held in ulps on the CPU, special values are checked exactly on the CPU
 * (WGSL lets implementations assume no NaN or infinity), and the GPU gets a tolerance.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Backend } from '../src/backend/backend.ts';
import { broadcastShapes, collapseBroadcast } from '../src/ops/broadcast.ts';
import { BINARY, UNARY, type BinaryOp, type UnaryOp } from '../src/ops/elementwise-spec.ts';
import { REQUIRE_GPU, RUNTIME, randomData } from './harness.ts';
import { SIZES, asF32, bitPatterns, cpuEngines, gpu, maxUlps, ref, run, ulpMismatch } from './seam.ts';

/**
 * CPU error bound per op, in ulps from the f64 reference rounded to f32. These are the maxima
 * scripts/ulp-sweep.ts measured over all 2^32 f32 inputs (pow: 2^28 random pairs with results
 * in range); the scalar twins compute the same bits. 0 means bit-exact.
 */
const CPU_ULPS: Record<UnaryOp | BinaryOp, number> = {
  relu: 0, neg: 0, abs: 0, sqrt: 0, rsqrt: 1, exp: 1, log: 1, tanh: 2, sigmoid: 2, silu: 3, gelu: 3,
  add: 0, mul: 0, sub: 0, div: 0, maximum: 0, minimum: 0, pow: 1,
};

/**
 * GPU tolerance |got - want| <= atol + rtol |want|, on inputs in [-6, 6] (positive for log,
 * sqrt, rsqrt; pow: see binaryData). WGSL does not ask for correctly rounded math: exp is good
 * to 3 + 2|x| ulp, log to 2^-21 absolute on [0.5, 2] and 3 ulp elsewhere, inverseSqrt 2 ulp,
 * division 2.5 ulp, sqrt, tanh and the sigmoid family inherit from those, pow from
 * exp2(b log2 a). The bounds are those figures over this input range with a margin of about 2.
 * SwiftShader measured (64K inputs): exp 5 eps relative, log 2^-21 absolute, tanh 2^-23
 * absolute, sigmoid and silu 5 eps, gelu 13 eps (|y| > 1e-3) and 2^-21 absolute, rsqrt 1 eps,
 * pow 14 eps; sqrt and div exact.
 */
const E = 2 ** -23;
const GPU_TOL: Record<UnaryOp | BinaryOp, [atol: number, rtol: number]> = {
  relu: [0, 0], neg: [0, 0], abs: [0, 0], add: [0, 0], mul: [0, 0], sub: [0, 0], maximum: [0, 0], minimum: [0, 0],
  sqrt: [0, 4 * E], rsqrt: [0, 4 * E], div: [0, 4 * E],
  exp: [0, 32 * E], log: [2 ** -20, 8 * E], tanh: [2 ** -20, 32 * E],
  sigmoid: [2 ** -20, 32 * E], silu: [2 ** -20, 32 * E], gelu: [2 ** -20, 32 * E], pow: [0, 64 * E],
};

/** A mix of every kind of f32 (NaN, infinities, subnormals, huge) and values where the op bends. */
function unaryData(op: UnaryOp, n: number, seed: number): Float32Array {
  const any = bitPatterns(n, 2654435761, seed * 7919);
  const near = randomData(n, seed);
  const scale: Partial<Record<UnaryOp, number>> = { exp: 60, tanh: 6, sigmoid: 60, silu: 60, gelu: 7, log: 1e3, sqrt: 1e3, rsqrt: 1e3 };
  return near.map((v, i) => (i % 3 === 2 ? any[i] : v * (scale[op] ?? 2)));
}

function gpuUnaryData(op: UnaryOp, n: number, seed: number): Float32Array {
  const x = randomData(n, seed).map((v) => v * 3);
  return op === 'log' || op === 'sqrt' || op === 'rsqrt' ? x.map((v) => Math.abs(v) + 1e-3) : x;
}

/**
 * Operands in [-6, 6]. pow: every other pair has a negative base and an integer exponent (the
 * sign rule), the rest a positive base; the CPU also sees non-integer exponents of negative
 * bases (NaN). Broadcasting pairs elements differently, so there the GPU gets positive bases.
 */
function binaryData(op: BinaryOp, n: number, seed: number, onGpu: boolean, broadcast = false): [Float32Array, Float32Array] {
  const a = randomData(n, seed), b = randomData(n, seed + 101);
  if (op !== 'pow') return [a.map((v) => v * 3), b.map((v) => v * 3)];
  const positive = (v: number) => Math.abs(v) * 2 + 0.1;
  return [
    a.map((v, i) => (onGpu && broadcast ? positive(v) : i % 2 ? -positive(v) : onGpu ? positive(v) : v * 3)),
    b.map((v, i) => (i % 2 ? Math.round(v * 4) : v * 4)),
  ];
}

function withinTol(got: Float32Array, want: Float32Array, [atol, rtol]: [number, number], inputs: ArrayLike<number>[]): string | null {
  for (let i = 0; i < want.length; i++) {
    const same = Object.is(got[i], want[i]) || (Number.isNaN(got[i]) && Number.isNaN(want[i])) || got[i] === want[i];
    if (!same && !(Math.abs(got[i] - want[i]) <= atol + rtol * Math.abs(want[i]))) {
      return `index ${i} (input ${inputs.map((x) => x[i]).join(', ')}): got ${got[i]}, expected ${want[i]}`;
    }
  }
  return null;
}

const shapePairs: [number[], number[]][] = [
  [[5, 7], [5, 7]], [[5, 7], []], [[], [5, 7]], [[5, 7], [7]], [[7], [5, 7]], [[5, 1], [5, 7]],
  [[5, 1], [1, 7]], [[3, 1, 6], [4, 1]], [[2, 3, 4, 5], [3, 1, 5]], [[0, 3], [3]], [[3, 0], [1]], [[1], [1]],
  [[4, 17], [17]], [[17], [3, 17]], [[2, 33], [2, 1]], [[2, 1, 3, 1, 2, 1, 2, 3], [3, 1, 2, 4, 1, 3]],
];
const numel = (s: number[]) => s.reduce((x, y) => x * y, 1);

const engines: [string, Backend | null][] = [...cpuEngines, ['webgpu', gpu]];
for (const [name, be] of engines) {
  if (!be) {
    test(`${RUNTIME}: elementwise: a WebGPU adapter exists`, () => {
      if (REQUIRE_GPU) assert.unreachable('init() found no WebGPU adapter; set TANDEM_ALLOW_NO_GPU=1 to run without GPU tests');
    });
    continue;
  }
  const onGpu = name === 'webgpu';

  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    test(`${RUNTIME}: ${name}: unary ${op}, every tail length${onGpu ? '' : ', any f32 input'}`, async () => {
      for (const n of SIZES) {
        const x = onGpu ? gpuUnaryData(op, n, n + 1) : unaryData(op, n, n + 1);
        const p = { op, size: n };
        const got = asF32((await run(be, 'unary', [x], n * 4, p)).out);
        const want = asF32((await run(ref, 'unary', [x], n * 4, p)).out);
        const bad = onGpu ? withinTol(got, want, GPU_TOL[op], [x]) : ulpMismatch(got, want, CPU_ULPS[op], [x]);
        if (bad) assert.unreachable(`n=${n}: ${bad}`);
      }
    });
  }

  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    test(`${RUNTIME}: ${name}: binary ${op}, every tail length and broadcasts`, async () => {
      const check = async (shape: number[], a: Float32Array, b: Float32Array, aShape: number[], bShape: number[]) => {
        const p = { op, ...collapseBroadcast(shape, aShape, bShape) };
        const n = numel(shape);
        const got = asF32((await run(be, 'binary', [a, b], n * 4, p)).out);
        const want = asF32((await run(ref, 'binary', [a, b], n * 4, p)).out);
        return onGpu ? withinTol(got, want, GPU_TOL[op], []) : ulpMismatch(got, want, CPU_ULPS[op]);
      };
      for (const n of SIZES) {
        const [a, b] = binaryData(op, n, n + 3, onGpu);
        const bad = await check([n], a, b, [n], [n]);
        if (bad) assert.unreachable(`n=${n}: ${bad}`);
      }
      for (const [as, bs] of shapePairs) {
        const shape = broadcastShapes(as, bs, op);
        const [a] = binaryData(op, numel(as), 5, onGpu, true), [, b] = binaryData(op, numel(bs), 6, onGpu, true);
        const bad = await check(shape, a, b, as, bs);
        if (bad) assert.unreachable(`[${as}] ${op} [${bs}]: ${bad}`);
      }
    });
  }
}

if (gpu) {
  const g = gpu;
  test(`${RUNTIME}: webgpu: large finite inputs saturate without NaN (the WGSL forms never overflow exp)`, async () => {
    const x = new Float32Array([-1e4, -1000, -100, -30, 30, 100, 1000, 1e4]);
    const want: Partial<Record<UnaryOp, number[]>> = {
      tanh: [-1, -1, -1, -1, 1, 1, 1, 1],
      sigmoid: [0, 0, 0, 9.357623e-14, 1, 1, 1, 1],
      silu: [0, 0, 0, -2.8072869e-12, 30, 100, 1000, 1e4],
      gelu: [0, 0, 0, 0, 30, 100, 1000, 1e4],
    };
    for (const [op, w] of Object.entries(want) as [UnaryOp, number[]][]) {
      const got = asF32((await run(g, 'unary', [x], x.byteLength, { op, size: x.length })).out);
      got.forEach((v, i) => {
        if (!(Math.abs(v - w[i]) <= 1e-5 * Math.abs(w[i]) + 1e-30)) assert.unreachable(`${op}(${x[i]}) = ${v}, expected ${w[i]}`);
      });
    }
  });
}

// ---------- CPU only: accuracy over all of f32, twins, special values ----------

const TRANSCENDENTAL: UnaryOp[] = ['exp', 'log', 'tanh', 'sigmoid', 'silu', 'gelu', 'rsqrt'];
// 2^18 bit patterns spread over all 2^32 (an odd stride, so every exponent and sign is hit),
// plus the inputs where the exhaustive sweep found each op's largest error.
const WORST = [5.96046448e-8, 9.13646599e-43, 0.863054037, -1.09877908, -1.86667454, -1.30853188, 4.20389539e-45];
const sweep = Float32Array.from([...WORST, ...bitPatterns(1 << 18, 16411, 12345)]);

test(`${RUNTIME}: cpu: transcendental ops stay within their ulp bounds across all of f32`, async () => {
  for (const op of TRANSCENDENTAL) {
    const want = asF32((await run(ref, 'unary', [sweep], sweep.byteLength, { op, size: sweep.length })).out);
    for (const [name, be] of cpuEngines) {
      const got = asF32((await run(be, 'unary', [sweep], sweep.byteLength, { op, size: sweep.length })).out);
      const bad = ulpMismatch(got, want, CPU_ULPS[op], [sweep]);
      if (bad) assert.unreachable(`${name} ${op}: ${bad}`);
    }
  }
});

test(`${RUNTIME}: cpu: pow stays within its ulp bound for results in range, and integer powers are exact`, async () => {
  const n = 1 << 16, a = new Float32Array(n), b = new Float32Array(n);
  const r = randomData(2 * n, 77);
  for (let i = 0; i < n; i++) {
    a[i] = Math.exp(r[i] * 43) * (i % 4 === 1 ? -1 : 1);
    const lim = 100 / Math.max(Math.abs(Math.log(Math.abs(a[i]))), 1e-3);
    b[i] = i % 2 ? Math.round(r[n + i] * Math.min(lim, 30) / 2) : r[n + i] * lim / 2;
  }
  // Small integers to small integer powers have exact f32 results.
  for (let i = 0; i < 64; i++) { a[i] = (i % 9) - 4; b[i] = i % 7; }
  const p = { op: 'pow' as const, shape: [n], aStrides: [1], bStrides: [1] };
  const want = asF32((await run(ref, 'binary', [a, b], n * 4, p)).out);
  for (const [name, be] of cpuEngines) {
    const got = asF32((await run(be, 'binary', [a, b], n * 4, p)).out);
    const bad = ulpMismatch(got, want, CPU_ULPS.pow, [a, b]) ?? ulpMismatch(got.subarray(0, 64), want.subarray(0, 64), 0, [a, b]);
    if (bad) assert.unreachable(`${name}: ${bad}`);
  }
});

test(`${RUNTIME}: cpu: each f32x4 kernel and its scalar twin agree bit for bit, tails included`, async () => {
  const [[, simd], [, scalar]] = cpuEngines;
  const x = bitPatterns(4099, 1048573, 99);
  for (const op of Object.keys(UNARY) as UnaryOp[]) {
    const p = { op, size: x.length };
    const a = asF32((await run(simd, 'unary', [x], x.byteLength, p)).out);
    const b = asF32((await run(scalar, 'unary', [x], x.byteLength, p)).out);
    const bad = ulpMismatch(a, b, 0, [x]);
    if (bad) assert.unreachable(`${op}: ${bad}`);
  }
  const y = bitPatterns(4099, 2097143, 5);
  for (const op of Object.keys(BINARY) as BinaryOp[]) {
    const p = { op, shape: [x.length], aStrides: [1], bStrides: [1] };
    const a = asF32((await run(simd, 'binary', [x, y], x.byteLength, p)).out);
    const b = asF32((await run(scalar, 'binary', [x, y], x.byteLength, p)).out);
    const bad = ulpMismatch(a, b, 0, [x, y]);
    if (bad) assert.unreachable(`${op}: ${bad}`);
  }
});

const I = Infinity, N = NaN, MAX = 3.4028234663852886e38, TINY = 2 ** -149;
/** [input, expected], exactly, signed zeros included (values in between are the sweep's job). */
const UNARY_SPECIALS: Partial<Record<UnaryOp, [number, number][]>> = {
  exp: [[N, N], [I, I], [-I, 0], [89, I], [88.8, I], [-104, 0], [-1e30, 0], [1e30, I], [0, 1], [-0, 1]],
  log: [[0, -I], [-0, -I], [-1, N], [-TINY, N], [-I, N], [I, I], [N, N], [1, 0], [-MAX, N]],
  sqrt: [[-1, N], [-0, -0], [0, 0], [I, I], [-I, N], [N, N], [4, 2], [2 ** -148, 2 ** -74], [-TINY, N]],
  rsqrt: [[0, I], [-0, -I], [-1, N], [I, 0], [N, N], [4, 0.5], [1, 1], [0.25, 2], [-I, N]],
  tanh: [[I, 1], [-I, -1], [1e30, 1], [-1e30, -1], [20, 1], [-0, -0], [0, 0], [N, N], [TINY, TINY], [-TINY, -TINY]],
  sigmoid: [[-I, 0], [I, 1], [-1e30, 0], [1e30, 1], [-200, 0], [N, N], [0, 0.5], [-0, 0.5], [100, 1]],
  silu: [[-I, N], [I, I], [-1e30, -0], [1e30, 1e30], [-200, -0], [N, N], [0, 0], [-0, -0], [-110, -0]],
  gelu: [[-I, N], [I, I], [-1e30, -0], [1e30, 1e30], [-20, -0], [N, N], [0, 0], [-0, -0], [1e20, 1e20]],
  relu: [[N, N], [-I, 0], [I, I], [-0, -0], [-1, 0], [2, 2], [TINY, TINY], [-TINY, 0], [0, 0]],
  neg: [[0, -0], [-0, 0], [I, -I], [N, N], [1, -1], [-MAX, MAX], [TINY, -TINY], [-I, I], [2, -2]],
  abs: [[-0, 0], [-I, I], [N, N], [-1, 1], [1, 1], [-TINY, TINY], [MAX, MAX], [-MAX, MAX], [0, 0]],
};
const BINARY_SPECIALS: Partial<Record<BinaryOp, [number, number, number][]>> = {
  // torch.pow / C99 pow: pow(x, 0) = 1 (NaN too), pow(1, y) = 1 (NaN too), pow(-1, +-Inf) = 1,
  // negative base: integer exponent keeps or flips the sign, others give NaN.
  pow: [
    [N, 0, 1], [N, -0, 1], [1, N, 1], [-1, I, 1], [-1, -I, 1], [N, 1, N], [2, N, N], [-2, 3, -8], [-2, 2, 4],
    [-2, 0.5, N], [-2, -3, -0.125], [0, -1, I], [-0, -1, -I], [-0, -2, I], [0, 2, 0], [-0, 3, -0], [-0, 0.5, 0], [-I, 3, -I],
    [-I, -3, -0], [-I, 0.5, I], [I, -1, 0], [0.5, I, 0], [0.5, -I, I], [2, I, I], [2, -I, 0], [-0.5, I, 0], [-3, -I, 0],
    [2, 128, I], [2, -149, TINY], [2, -150, 0], [-8, 1 / 3, N], [4, 0.5, 2], [16777216, 1, 16777216], [3, 2, 9], [-1, 2 ** 30, 1],
  ],
  maximum: [[N, 1, N], [1, N, N], [N, N, N], [-0, 0, 0], [0, -0, 0], [-I, 1, 1], [I, 1, I], [2, 1, 2], [-1, -2, -1]],
  minimum: [[N, 1, N], [1, N, N], [N, N, N], [-0, 0, -0], [0, -0, -0], [-I, 1, -I], [I, 1, 1], [2, 1, 1], [-1, -2, -2]],
  div: [[1, 0, I], [-1, 0, -I], [1, -0, -I], [0, 0, N], [I, I, N], [N, 1, N], [1, I, 0], [-1, I, -0], [6, 3, 2]],
};

for (const [name, be] of cpuEngines) {
  test(`${RUNTIME}: ${name}: special values of the unary ops, exactly`, async () => {
    for (const [op, cases] of Object.entries(UNARY_SPECIALS) as [UnaryOp, [number, number][]][]) {
      const x = new Float32Array(cases.map(([v]) => v));
      const got = asF32((await run(be, 'unary', [x], x.byteLength, { op, size: x.length })).out);
      cases.forEach(([v, want], i) => {
        if (!Object.is(got[i], Math.fround(want))) assert.unreachable(`${op}(${v}) = ${got[i]}, expected ${want}`);
      });
    }
  });

  test(`${RUNTIME}: ${name}: special values of the binary ops, exactly`, async () => {
    for (const [op, cases] of Object.entries(BINARY_SPECIALS) as [BinaryOp, [number, number, number][]][]) {
      const a = new Float32Array(cases.map(([x]) => x)), b = new Float32Array(cases.map(([, y]) => y));
      const got = asF32((await run(be, 'binary', [a, b], a.byteLength, { op, shape: [a.length], aStrides: [1], bStrides: [1] })).out);
      cases.forEach(([x, y, want], i) => {
        if (!Object.is(got[i], Math.fround(want))) assert.unreachable(`${op}(${x}, ${y}) = ${got[i]}, expected ${want}`);
      });
    }
  });
}

test(`${RUNTIME}: cpu: the reference agrees with the special-value tables (the oracle is right too)`, async () => {
  for (const [op, cases] of Object.entries(UNARY_SPECIALS) as [UnaryOp, [number, number][]][]) {
    for (const [v, want] of cases) {
      const got = Math.fround(UNARY[op].ref(Math.fround(v)));
      assert.ok(Object.is(got, Math.fround(want)), `ref ${op}(${v}) = ${got}, expected ${want}`);
    }
  }
  for (const [op, cases] of Object.entries(BINARY_SPECIALS) as [BinaryOp, [number, number, number][]][]) {
    for (const [x, y, want] of cases) {
      const got = Math.fround(BINARY[op].ref(Math.fround(x), Math.fround(y)));
      assert.ok(Object.is(got, Math.fround(want)), `ref ${op}(${x}, ${y}) = ${got}, expected ${want}`);
    }
  }
});

test(`${RUNTIME}: cpu: measured error stays where the docs say (max over the sweep is reported)`, async () => {
  const seen: string[] = [];
  for (const op of TRANSCENDENTAL) {
    const want = asF32((await run(ref, 'unary', [sweep], sweep.byteLength, { op, size: sweep.length })).out);
    const got = asF32((await run(cpuEngines[0][1], 'unary', [sweep], sweep.byteLength, { op, size: sweep.length })).out);
    seen.push(`${op} ${maxUlps(got, want)}`);
  }
  // Not a bound (the test above holds those): a record that the sweep really finds errors, so an
  // oracle accidentally equal to the kernel would show up as all zeros here.
  assert.ok(seen.some((s) => !s.endsWith(' 0')), seen.join(', '));
});

test.run();
