/**
 * NumPy broadcasting for binary ops, and the collapse that turns a broadcast into the few
 * loops a kernel runs. Kernels never see the user's shapes: they get a collapsed shape in
 * which adjacent dimensions that are contiguous for both operands are merged, size-1 dims
 * dropped, and each operand's stride is 0 where it is broadcast. A same-shape add becomes
 * one dimension of stride (1, 1); adding a row vector to a matrix becomes [rows, cols] with
 * strides a = (cols, 1), b = (0, 1).
 */
import { ShapeError } from '../errors.js';
import { type Shape, fmtShape } from '../dtype.js';

export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (dimension ${i} of the result: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export interface Collapsed {
  /** Loop extents, outermost first; never empty (a scalar is [1]). */
  shape: number[];
  /** Element strides of each operand per loop; 0 where that operand is broadcast. */
  aStrides: number[];
  bStrides: number[];
}

/** Collapse the broadcast of `a` and `b` to `out` into the fewest loops. */
export function collapseBroadcast(out: Shape, a: Shape, b: Shape): Collapsed {
  const rank = out.length;
  const sa = operandStrides(a, rank, out);
  const sb = operandStrides(b, rank, out);
  const shape: number[] = [], aStrides: number[] = [], bStrides: number[] = [];
  for (let i = 0; i < rank; i++) {
    if (out[i] === 1) continue;
    const last = shape.length - 1;
    // Merge dim i into the previous loop when both operands step through it contiguously.
    if (last >= 0 && aStrides[last] === sa[i] * out[i] && bStrides[last] === sb[i] * out[i]) {
      shape[last] *= out[i];
      aStrides[last] = sa[i];
      bStrides[last] = sb[i];
    } else {
      shape.push(out[i]); aStrides.push(sa[i]); bStrides.push(sb[i]);
    }
  }
  if (shape.length === 0) return { shape: [1], aStrides: [0], bStrides: [0] };
  return { shape, aStrides, bStrides };
}

/** Row-major strides of `s` aligned right against a result of `rank`, 0 on broadcast dims. */
function operandStrides(s: Shape, rank: number, out: Shape): number[] {
  const st = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = rank - 1, j = s.length - 1; j >= 0; i--, j--) {
    st[i] = s[j] === 1 && out[i] !== 1 ? 0 : acc;
    acc *= s[j];
  }
  return st;
}
