/**
 * Datasets the loader reads (PyTorch's three kinds):
 * - `Dataset`: random access, `length` and `get(i)` (sync or async). An item is a column or a
 *   tuple of columns; a column is a typed array (shape [length]), a number (i32 when it is an
 *   integer, else f32), `{ data, shape }`, or a cpu tensor.
 * - `IterableDataset`: items in order from `[Symbol.asyncIterator]()` or `[Symbol.iterator]()`;
 *   no shuffling. Any iterable or async iterable is accepted where one is expected.
 * - `TensorDataset(...tensors)`: rows of tensors sharing their first dimension. The loader reads
 *   its rows straight from the tensors' memory, so nothing per item runs in JavaScript.
 */
import { type DType, fmtShape } from '../dtype.js';
import { DataError, ShapeError, TandemError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { narrow, reshape } from '../ops/views.js';

export type Column = ArrayBufferView | number | Tensor | { data: ArrayBufferView; shape: readonly number[] };
export type Item = Column | readonly Column[];

export abstract class Dataset<I = Item> {
  abstract get length(): number;
  abstract get(index: number): I | Promise<I>;
}

export abstract class IterableDataset<I = Item> {
  abstract [Symbol.asyncIterator](): AsyncIterator<I>;
}

export class TensorDataset extends Dataset<Tensor[]> {
  readonly tensors: readonly Tensor[];

  constructor(...tensors: Tensor[]) {
    super();
    if (tensors.length === 0) throw new TandemError('TensorDataset: needs at least one tensor');
    for (const [i, t] of tensors.entries()) {
      if (!t || typeof t !== 'object' || !('shape' in t)) throw new TandemError(`TensorDataset: argument ${i} is not a tensor`);
      if (t.rank < 1) throw new ShapeError(`TensorDataset: tensor ${i} is a scalar; rows need a first dimension`);
      if (t.shape[0] !== tensors[0].shape[0]) {
        throw new ShapeError(`TensorDataset: tensor ${i} has ${t.shape[0]} rows (shape ${fmtShape(t.shape)}), tensor 0 has ${tensors[0].shape[0]}`);
      }
    }
    this.tensors = tensors;
  }

  get length(): number { return this.tensors[0].shape[0]; }

  /** Row `index` of each tensor, as views. */
  get(index: number): Tensor[] {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new TandemError(`TensorDataset: index ${index} is outside 0..${this.length - 1}`);
    return this.tensors.map((t) => {
      const row = narrow(t, 0, index, 1);
      const v = reshape(row, t.shape.slice(1));
      row.dispose();
      return v;
    });
  }
}

/** A column's host bytes, shape and dtype (tensors are read asynchronously). */
export interface ColumnValue { bytes: Uint8Array; shape: number[]; dtype: DType }

const DTYPE_OF: [new (...a: never[]) => ArrayBufferView, DType][] = [
  [Float32Array, 'f32'], [Int32Array, 'i32'], [Uint8Array, 'u8'], [Uint8ClampedArray, 'u8'], [Uint16Array, 'f16'],
];

/** One column of item `index` as bytes; errors name the index. */
export async function columnValue(c: Column, index: number, col: number): Promise<ColumnValue> {
  const where = `item ${index}${col >= 0 ? ` (column ${col})` : ''}`;
  if (typeof c === 'number') {
    if (!Number.isFinite(c)) throw new DataError(`DataLoader: ${where} is ${c}`);
    const isInt = Number.isInteger(c) && c >= -(2 ** 31) && c < 2 ** 31;
    const a = isInt ? Int32Array.of(c) : Float32Array.of(c);
    return { bytes: new Uint8Array(a.buffer), shape: [], dtype: isInt ? 'i32' : 'f32' };
  }
  if (ArrayBuffer.isView(c)) return viewValue(c, [(c as unknown as { length: number }).length], where);
  if (c && typeof c === 'object' && 'data' in c && 'shape' in c && ArrayBuffer.isView(c.data)) {
    return viewValue(c.data, [...c.shape], where);
  }
  if (c && typeof c === 'object' && 'bytes' in c && typeof (c as Tensor).bytes === 'function') {
    const t = c as Tensor;
    if (t.device === 'gpu') throw new DataError(`DataLoader: ${where} is a gpu tensor; items are read on the host (make them cpu tensors)`);
    return { bytes: await t.bytes('DataLoader'), shape: [...t.shape], dtype: t.dtype };
  }
  throw new DataError(`DataLoader: ${where} is ${c === null ? 'null' : typeof c}; a column is a typed array, a number, { data, shape } or a cpu tensor`);
}

function viewValue(v: ArrayBufferView, shape: number[], where: string): ColumnValue {
  const hit = DTYPE_OF.find(([C]) => v instanceof C);
  if (!hit) throw new DataError(`DataLoader: ${where} is a ${v.constructor.name}; use Float32Array, Int32Array, Uint8Array or Uint16Array (f16 bits)`);
  const n = shape.reduce((p, d) => p * d, 1);
  if (!shape.every((d) => Number.isInteger(d) && d >= 0) || n !== (v as unknown as { length: number }).length) {
    throw new DataError(`DataLoader: ${where} has ${(v as unknown as { length: number }).length} values for shape ${fmtShape(shape)}`);
  }
  return { bytes: new Uint8Array(v.buffer, v.byteOffset, v.byteLength), shape, dtype: hit[1] };
}
