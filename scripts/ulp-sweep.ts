/**
 * Measures the error of the cpu engine's transcendental kernels against the f64 reference of the
 * spec table (src/ops/elementwise-spec.ts), in ulps of the f32 result: the distance between the
 * kernel's f32 and the reference rounded to f32. Unary ops sweep every f32 bit pattern (or every
 * `--step`-th); pow samples random pairs whose result lies in the f32 range, plus integer powers.
 * The figures quoted in assembly/math.ts, assembly/pow.ts and tests/elementwise.test.ts come
 * from `node --import tsx scripts/ulp-sweep.ts` after `npm run build`.
 *
 *   node --import tsx scripts/ulp-sweep.ts [--step N] [--ops exp,log] [--scalar]
 */
import { WasmBackend } from '../src/backend/wasm.ts';
import { BINARY, UNARY, type UnaryOp } from '../src/ops/elementwise-spec.ts';
import { wasmModule } from '../src/runtime.ts';

const arg = (name: string) => { const i = process.argv.indexOf(name); return i < 0 ? undefined : process.argv[i + 1]; };
const step = Number(arg('--step') ?? 1);
const simd = !process.argv.includes('--scalar');
const ops = (arg('--ops') ?? 'exp,log,tanh,sigmoid,silu,gelu,rsqrt,pow').split(',');

const be = new WasmBackend(await wasmModule(), { simd });
const CHUNK = 1 << 20;
const x = be.alloc(CHUNK * 4), y = be.alloc(CHUNK * 4), out = be.alloc(CHUNK * 4);

const ordered = (bits: number) => (bits & 0x80000000 ? -(bits & 0x7fffffff) : bits);
const f = new Float32Array(1), u = new Uint32Array(f.buffer);
function ulps(got: number, want: number): number {
  if (Number.isNaN(got) || Number.isNaN(want)) return Number.isNaN(got) && Number.isNaN(want) ? 0 : Infinity;
  f[0] = got; const g = ordered(u[0]);
  f[0] = want; const w = ordered(u[0]);
  return Math.abs(g - w);
}

interface Worst { ulps: number; at: number[]; got: number; want: number }
const report = (op: string, w: Worst, n: number, ms: number) =>
  console.log(`${op.padEnd(8)} max ${w.ulps} ulp at ${w.at.map((v) => v.toPrecision(9)).join(', ')} (got ${w.got}, want ${w.want}); ${n} inputs, ${(ms / 1000).toFixed(1)} s, ${simd ? 'simd' : 'scalar'}`);

function sweepUnary(op: UnaryOp): void {
  const t0 = performance.now();
  const ref = UNARY[op].ref;
  const inp = new Float32Array(CHUNK), bits = new Uint32Array(inp.buffer);
  const worst: Worst = { ulps: -1, at: [], got: 0, want: 0 };
  let n = 0;
  for (let start = 0; start < 2 ** 32; start += CHUNK * step) {
    const count = Math.min(CHUNK, Math.ceil((2 ** 32 - start) / step));
    for (let i = 0; i < count; i++) bits[i] = start + i * step;
    be.write(x, inp.subarray(0, count));
    be.run('unary', [x], out, { op, size: count });
    const got = new Float32Array((be as unknown as { memory: WebAssembly.Memory }).memory.buffer, out.ptr, count);
    for (let i = 0; i < count; i++) {
      const e = ulps(got[i], Math.fround(ref(inp[i])));
      if (e > worst.ulps) Object.assign(worst, { ulps: e, at: [inp[i]], got: got[i], want: Math.fround(ref(inp[i])) });
    }
    n += count;
  }
  report(op, worst, n, performance.now() - t0);
}

function sweepPow(samples: number): void {
  const t0 = performance.now();
  let s = 12345;
  const rand = () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
  const a = new Float32Array(CHUNK), b = new Float32Array(CHUNK);
  const worst: Worst = { ulps: -1, at: [], got: 0, want: 0 };
  let n = 0;
  for (let done = 0; done < samples; done += CHUNK) {
    for (let i = 0; i < CHUNK; i++) {
      // log-uniform |a| over the f32 range, and b so that |b log a| < 104: results stay finite
      // (or are subnormal), where the error is visible. Every 4th pair has an integer exponent.
      const la = (rand() * 2 - 1) * 87;
      a[i] = Math.fround((rand() < 0.25 ? -1 : 1) * Math.exp(la));
      const lim = 104 / Math.max(Math.abs(Math.log(Math.abs(a[i]))), 1e-3);
      b[i] = i % 4 === 0 ? Math.round((rand() * 2 - 1) * Math.min(lim, 60)) : Math.fround((rand() * 2 - 1) * lim);
    }
    be.write(x, a);
    be.write(y, b);
    be.run('binary', [x, y], out, { op: 'pow', shape: [CHUNK], aStrides: [1], bStrides: [1] });
    const got = new Float32Array((be as unknown as { memory: WebAssembly.Memory }).memory.buffer, out.ptr, CHUNK);
    for (let i = 0; i < CHUNK; i++) {
      const want = Math.fround(BINARY.pow.ref(a[i], b[i]));
      const e = ulps(got[i], want);
      if (e > worst.ulps) Object.assign(worst, { ulps: e, at: [a[i], b[i]], got: got[i], want });
    }
    n += CHUNK;
  }
  report('pow', worst, n, performance.now() - t0);
}

for (const op of ops) {
  if (op === 'pow') sweepPow(Math.max(CHUNK, Math.floor(2 ** 32 / step / 16)));
  else sweepUnary(op as UnaryOp);
}
