/**
 * Host data <-> storage bytes for each dtype. Creation validates every value against its dtype
 * (an i32 tensor refuses 1.5 or 2**31 rather than wrapping), so storage never holds a value
 * the user did not mean.
 */
import { TandemError } from './errors.js';
import type { DType, HostArray } from './dtype.js';
import { f16BitsToF32, f32ToF16Bits } from './f16.js';

export type HostData = ArrayLike<number | boolean> & { length: number };

/** The dtype a host array implies when none is given. */
export function inferDType(data: unknown): DType {
  if (data instanceof Int32Array) return 'i32';
  if (data instanceof Uint8Array) return 'u8';
  if (Array.isArray(data) && data.length > 0 && typeof data[0] === 'boolean') return 'bool';
  return 'f32';
}

/** Storage for `dtype` from host values, checking each one. */
export function toStorage(data: HostData, dtype: DType, op: string): ArrayBufferView {
  const n = data.length;
  const get = (i: number): number => {
    const v = data[i];
    if (typeof v === 'boolean') return v ? 1 : 0;
    if (typeof v !== 'number') throw new TandemError(`${op}: data[${i}] is ${v === null ? 'null' : typeof v}, not a number`);
    return v;
  };
  const intIn = (lo: number, hi: number) => (i: number) => {
    const v = get(i);
    if (!Number.isInteger(v) || v < lo || v > hi) throw new TandemError(`${op}: data[${i}] = ${v} is not a valid ${dtype} (integers ${lo}..${hi})`);
    return v;
  };
  switch (dtype) {
    case 'f32': {
      if (data instanceof Float32Array) return data;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = get(i);
      return out;
    }
    case 'f16': {
      const out = new Uint16Array(n);
      for (let i = 0; i < n; i++) out[i] = f32ToF16Bits(get(i));
      return out;
    }
    case 'i32': {
      if (data instanceof Int32Array) return data;
      const out = new Int32Array(n), check = intIn(-(2 ** 31), 2 ** 31 - 1);
      for (let i = 0; i < n; i++) out[i] = check(i);
      return out;
    }
    case 'u8': {
      if (data instanceof Uint8Array) return data;
      const out = new Uint8Array(n), check = intIn(0, 255);
      for (let i = 0; i < n; i++) out[i] = check(i);
      return out;
    }
    case 'bool': {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = get(i) !== 0 ? 1 : 0;
      return out;
    }
  }
}

/** Host values from storage bytes (which the caller owns; they may be aliased). */
export function fromStorage(bytes: Uint8Array, dtype: DType, n: number): HostArray {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  switch (dtype) {
    case 'f32': return new Float32Array(aligned.buffer, aligned.byteOffset, n);
    case 'i32': return new Int32Array(aligned.buffer, aligned.byteOffset, n);
    case 'u8':
    case 'bool': return new Uint8Array(aligned.buffer, aligned.byteOffset, n);
    case 'f16': {
      const h = new Uint16Array(aligned.buffer, aligned.byteOffset, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(h[i]);
      return out;
    }
  }
}
