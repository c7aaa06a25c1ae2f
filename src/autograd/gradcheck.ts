/**
 * Numeric gradient check (torch.autograd.gradcheck's idea), for tests of gradient rules:
 * backward() of L = sum(w * f(inputs)), w fixed random weights, against central differences
 * (L(x + h e_j) - L(x - h e_j)) / 2h for every element j of every input that requires grad.
 *
 * Precision: on the 'ref' device the forward runs in f64 (the reference backend's f64 mode,
 * src/backend/reference.ts `withF64`), the weighted sum is taken in JS doubles, and h = 1e-6
 * relative, so a finite difference is accurate to ~1e-9 relative and the comparison sees the
 * f32 analytic gradient's own rounding. The analytic pass runs in the same f64 mode: only its
 * reads back to f32 round. On other devices (to test their rules' kernels) the forward is f32
 * and h = 1e-2 relative; the tolerance must then allow ~1e-4 relative.
 */
import type { DeviceKind } from '../backend/backend.js';
import { fmtShape } from '../dtype.js';
import { TandemError } from '../errors.js';
import { tidy } from '../lifetime.js';
import { type Tensor, createTensor } from '../tensor.js';
import { withF64 } from '../backend/reference-f64.js';
import { withGradMode } from './tape.js';

export interface GradcheckInput {
  data: ArrayLike<number>;
  shape: number[];
  /** Default true. */
  requiresGrad?: boolean;
  /** An i32 (or other non-float) input such as labels or indices: never requires grad. */
  dtype?: 'f32' | 'i32' | 'bool';
}

export interface GradcheckOptions {
  device?: DeviceKind;
  atol?: number;
  rtol?: number;
  /** Step relative to max(1, |x|); default 1e-6 on 'ref' (f64), 1e-2 elsewhere. */
  eps?: number;
  seed?: number;
}

export interface GradcheckResult {
  /** Largest |analytic - numeric| / (atol + rtol |numeric|) seen; <= 1 passes. */
  worst: number;
  /** A description of the first failure, or null. */
  failure: string | null;
}

function weights(n: number, seed: number): Float64Array {
  let s = (seed * 2654435761) >>> 0 || 1;
  const w = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    w[i] = (s / 4294967296) * 2 - 1;
  }
  return w;
}

export async function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: GradcheckInput[], opts: GradcheckOptions = {}): Promise<GradcheckResult> {
  const device = opts.device ?? 'ref';
  const exact = device === 'ref';
  const eps = opts.eps ?? (exact ? 1e-6 : 1e-2);
  const atol = opts.atol ?? (exact ? 1e-6 : 1e-3), rtol = opts.rtol ?? (exact ? 1e-5 : 1e-2);
  const mode = <R>(fn: () => R): R => (exact ? withF64(fn) : fn());
  // Inputs are written as f64 in exact mode (a perturbation of 1e-6 would not survive f32).
  const make = (datas: Float64Array[], grad: boolean) => inputs.map((x, i) => {
    const dtype = x.dtype ?? 'f32';
    const values = dtype === 'i32' ? Int32Array.from(datas[i]) : dtype === 'bool' ? Uint8Array.from(datas[i], (v) => (v !== 0 ? 1 : 0)) : exact ? datas[i] : Float32Array.from(datas[i]);
    const t = createTensor(x.shape, dtype, device, 'gradcheck', () => values);
    t.requiresGrad = grad && dtype === 'f32' && x.requiresGrad !== false;
    return t;
  });
  const base = inputs.map((x) => Float64Array.from(x.data));
  // f(x) as f64 values (exact mode: the f64 mode's read returns doubles).
  const evaluate = async (datas: Float64Array[]): Promise<Float64Array> => {
    const y = mode(() => withGradMode(false, () => tidy(() => f(...make(datas, false)))));
    try {
      return exact ? readF64(y) : Float64Array.from(await y.data());
    } finally {
      y.dispose();
    }
  };
  const y0 = await evaluate(base);
  const w = weights(y0.length, opts.seed ?? 7);
  const L = (y: Float64Array) => y.reduce((s, v, i) => s + v * w[i], 0);

  // Analytic: backward of sum(w * y), i.e. y.backward(w).
  const xs = mode(() => make(base, true));
  let analytic: Float64Array[];
  try {
    const y = mode(() => f(...xs));
    try {
      if (y.size !== w.length) throw new TandemError(`gradcheck: f gave ${y.size} values, then ${w.length}; it must be deterministic`);
      const gw = mode(() => createTensor(y.shape, 'f32', device, 'gradcheck', () => (exact ? w : Float32Array.from(w))));
      try {
        mode(() => y.backward(gw));
      } finally {
        gw.dispose();
      }
    } finally {
      y.dispose();
    }
    analytic = await Promise.all(xs.map(async (x) => (x.grad ? (exact ? readF64(x.grad) : Float64Array.from(await x.grad.data())) : new Float64Array(x.size))));
  } finally {
    xs.forEach((x) => x.dispose());
  }

  let worst = 0, failure: string | null = null;
  for (let i = 0; i < inputs.length; i++) {
    if ((inputs[i].dtype ?? 'f32') !== 'f32' || inputs[i].requiresGrad === false) continue;
    for (let j = 0; j < base[i].length; j++) {
      const h = eps * Math.max(1, Math.abs(base[i][j]));
      const shifted = (d: number) => base.map((b, k) => (k === i ? b.map((v, q) => (q === j ? v + d : v)) : b));
      const num = (L(await evaluate(shifted(h))) - L(await evaluate(shifted(-h)))) / (2 * h);
      const got = analytic[i][j];
      const r = Math.abs(got - num) / (atol + rtol * Math.abs(num));
      if (!(r <= 1) && failure === null) failure = `input ${i} ${fmtShape(inputs[i].shape)} element ${j}: backward ${got}, central difference ${num}`;
      worst = Math.max(worst, Number.isNaN(r) ? Infinity : r);
    }
  }
  return { worst, failure };
}

/** The values of an f32 tensor made on 'ref' in f64 mode, as doubles. */
export function readF64(t: Tensor): Float64Array {
  if (t.device !== 'ref' || t.dtype !== 'f32') throw new TandemError(`readF64: needs an f32 tensor on 'ref', got ${t}`);
  return withF64(() => {
    const { buf } = t.materialize('readF64'); // a temp copy, if any, is garbage (reference buffers are plain arrays)
    const b = buf as Uint8Array;
    return new Float64Array(b.buffer, b.byteOffset, t.size).slice();
  });
}
