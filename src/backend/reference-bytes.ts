/**
 * Reference kernels over raw bytes: those whose operands are not all f32 (comparisons, where,
 * casts, image normalisation) and the in-place optimizer updates. Part of the reference backend
 * (reference.ts), so written for obviousness: f64 arithmetic, one element at a time, each value
 * stored to its dtype once.
 */
import type { DType } from '../dtype.js';
import { f16BitsToF32, f32ToF16Bits } from '../f16.js';
import { COMPARE } from '../ops/elementwise-spec.js';
import type { KernelParams } from './backend.js';
import { f64Mode, refuseInF64, words } from './reference-f64.js';

type ByteKernel = 'compare' | 'where' | 'cast' | 'normalizeImage' | 'sgd' | 'adam' | 'adamw' | 'unscale';
export type ByteKernels = { [K in ByteKernel]: (inp: Uint8Array[], out: Uint8Array, p: KernelParams[K]) => void };

const f32 = words;

/** Calls f(i, offsets...) for every element of a collapsed broadcast, in row-major order. */
function eachBroadcast(shape: number[], strides: number[][], f: (i: number, offs: number[]) => void): void {
  const total = shape.reduce((x, y) => x * y, 1);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < total; i++) {
    f(i, strides.map((st) => idx.reduce((off, k, d) => off + k * st[d], 0)));
    for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
  }
}

/** Element i of a buffer of `dtype`, as a number (f16 decoded, bool/u8 as 0..255). */
function reader(b: Uint8Array, dtype: DType): (i: number) => number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f64Mode.on && (dtype === 'f32' || dtype === 'i32')) return (i) => dv.getFloat64(8 * i, true);
  if (dtype === 'f16') refuseInF64('f16');
  switch (dtype) {
    case 'f32': return (i) => dv.getFloat32(4 * i, true);
    case 'i32': return (i) => dv.getInt32(4 * i, true);
    case 'f16': return (i) => f16BitsToF32(dv.getUint16(2 * i, true));
    case 'u8': case 'bool': return (i) => b[i];
  }
}

/** f32 -> i32 as Wasm's trunc_sat: toward zero, saturated, NaN -> 0. */
function truncSat(x: number): number {
  if (Number.isNaN(x)) return 0;
  return Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.trunc(x)));
}

function writer(b: Uint8Array, dtype: DType): (i: number, v: number) => void {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (f64Mode.on && dtype === 'f32') return (i, v) => dv.setFloat64(8 * i, v, true);
  if (f64Mode.on && dtype === 'i32') return (i, v) => dv.setFloat64(8 * i, truncSat(v), true);
  if (dtype === 'f16') refuseInF64('f16');
  switch (dtype) {
    case 'f32': return (i, v) => dv.setFloat32(4 * i, v, true);
    case 'i32': return (i, v) => dv.setInt32(4 * i, truncSat(v), true);
    case 'f16': return (i, v) => dv.setUint16(2 * i, f32ToF16Bits(v), true);
    case 'u8': case 'bool': return (i, v) => { b[i] = v; };
  }
}

export const BYTE_KERNELS: ByteKernels = {
  compare([a, b], out, { op, shape, aStrides, bStrides }) {
    const f = COMPARE[op].ref, x = f32(a), y = f32(b);
    eachBroadcast(shape, [aStrides, bStrides], (i, [ia, ib]) => { out[i] = f(x[ia], y[ib]) ? 1 : 0; });
  },
  where([c, a, b], out, { shape, condStrides, aStrides, bStrides }) {
    const x = f32(a), y = f32(b), o = f32(out);
    eachBroadcast(shape, [condStrides, aStrides, bStrides], (i, [ic, ia, ib]) => { o[i] = c[ic] !== 0 ? x[ia] : y[ib]; });
  },
  cast([x], out, { from, to, size }) {
    const get = reader(x, from), put = writer(out, to);
    for (let i = 0; i < size; i++) put(i, get(i));
  },
  normalizeImage([x], out, { height, width, channels, mean, std }) {
    const o = f32(out), pixels = height * width;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < channels; c++) o[c * pixels + p] = (x[p * channels + c] / 255 - mean[c]) / std[c];
    }
  },
  sgd([grads, buffer], params, { size, lr, momentum, dampening, nesterov, weightDecay, step }) {
    const p = f32(params), g = f32(grads), buf = momentum !== 0 ? f32(buffer) : null;
    for (let i = 0; i < size; i++) {
      let d = g[i];
      if (weightDecay !== 0) d += weightDecay * p[i];
      if (buf) {
        buf[i] = step === 1 ? d : momentum * buf[i] + (1 - dampening) * d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      p[i] -= lr * d;
    }
  },
  adam(inp, params, prm) { adam(inp, params, prm, false); },
  adamw(inp, params, prm) { adam(inp, params, prm, true); },
  unscale([found], grads, { size, invScale }) {
    const g = f32(grads), f32Scale = Math.fround(invScale); // the kernels get invScale as f32
    for (let i = 0; i < size; i++) {
      if (!Number.isFinite(g[i])) new Int32Array(found.buffer, found.byteOffset, 1)[0] = 1;
      g[i] *= f32Scale;
    }
  },
};

function adam([grads, ms, vs]: Uint8Array[], params: Uint8Array, { size, lr, beta1, beta2, eps, weightDecay, step }: KernelParams['adam'], decoupled: boolean): void {
  const p = f32(params), g = f32(grads), m = f32(ms), v = f32(vs);
  const bc1 = 1 - beta1 ** step, bc2 = 1 - beta2 ** step;
  for (let i = 0; i < size; i++) {
    if (decoupled) p[i] *= 1 - lr * weightDecay;
    const d = decoupled || weightDecay === 0 ? g[i] : g[i] + weightDecay * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * d;
    v[i] = beta2 * v[i] + (1 - beta2) * d * d;
    p[i] -= (lr / bc1) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
  }
}
