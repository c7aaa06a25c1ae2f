/**
 * Dtypes and shapes: validation and the few shape computations every op shares.
 * A shape is a frozen array of non-negative safe integers; rank is capped at MAX_RANK because
 * the GPU kernels carry shapes in fixed-size uniform arrays.
 */
import { DTypeError, ShapeError } from './errors.js';

/**
 * Dtypes. f16 is 2 bytes, read back as f32 values; the float ops compute on it in f32 and
 * round once. bool is one byte holding 0 or 1.
 * Which ops accept which dtypes is each op's business (src/ops/ops.ts).
 */
export const DTYPES = ['f32', 'f16', 'i32', 'u8', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

/** What `data()` returns for each dtype. */
export interface HostArrayOf {
  f32: Float32Array;
  f16: Float32Array;
  i32: Int32Array;
  u8: Uint8Array;
  bool: Uint8Array;
}
export type HostArray = HostArrayOf[DType];

export const ITEM_BYTES: Record<DType, number> = { f32: 4, f16: 2, i32: 4, u8: 1, bool: 1 };

export const MAX_RANK = 8;
export type Shape = readonly number[];

export function checkDType(dtype: unknown, op: string, fallback: DType = 'f32'): DType {
  if (dtype === undefined) return fallback;
  if (typeof dtype === 'string' && (DTYPES as readonly string[]).includes(dtype)) return dtype as DType;
  throw new DTypeError(`${op}: unknown dtype ${JSON.stringify(dtype)}; supported: ${DTYPES.join(', ')}`);
}

export function checkShape(shape: unknown, op: string): Shape {
  if (!Array.isArray(shape)) throw new ShapeError(`${op}: shape must be an array of integers, got ${describe(shape)}`);
  if (shape.length > MAX_RANK) throw new ShapeError(`${op}: rank ${shape.length} exceeds the maximum of ${MAX_RANK}`);
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`${op}: shape [${shape.map(String).join(', ')}] has an invalid dimension ${describe(d)}; dimensions are non-negative integers`);
    }
  }
  return Object.freeze(shape.slice());
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides in elements. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
  return s;
}

/** Normalise a possibly negative axis against a rank, throwing on out-of-range. */
export function normAxis(axis: number, rank: number, op: string): number {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) {
    throw new ShapeError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  }
  return axis < 0 ? axis + rank : axis;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  return v === null ? 'null' : typeof v;
}
