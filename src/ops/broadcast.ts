/**
 * NumPy broadcasting for binary (and ternary) ops, and the collapse that turns a broadcast into
 * the few loops a kernel runs. Kernels never see the user's shapes: they get a collapsed shape in
 * which adjacent dimensions that are contiguous for every operand are merged, size-1 dims
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
  const { shape, strides: [aStrides, bStrides] } = collapseOperands(out, [a, b]);
  return { shape, aStrides, bStrides };
}

/** The broadcast result of any number of operands (where() has three). */
export function broadcastAll(shapes: Shape[], op: string): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (let i = 0; i < rank; i++) {
    for (const s of shapes) {
      const d = s[s.length - rank + i] ?? 1;
      if (d === 1) continue;
      if (out[i] !== 1 && out[i] !== d) {
        throw new ShapeError(`${op}: shapes ${shapes.map(fmtShape).join(', ')} cannot be broadcast (dimension ${i} of the result: ${out[i]} vs ${d})`);
      }
      out[i] = d;
    }
  }
  return out;
}

/** collapseBroadcast for any number of operands: one stride list per operand. */
export function collapseOperands(out: Shape, operands: Shape[]): { shape: number[]; strides: number[][] } {
  const rank = out.length;
  const full = operands.map((s) => operandStrides(s, rank, out));
  const shape: number[] = [];
  const strides: number[][] = operands.map(() => []);
  for (let i = 0; i < rank; i++) {
    if (out[i] === 1) continue;
    const last = shape.length - 1;
    // Merge dim i into the previous loop when every operand steps through it contiguously.
    if (last >= 0 && full.every((st, k) => strides[k][last] === st[i] * out[i])) {
      shape[last] *= out[i];
      full.forEach((st, k) => { strides[k][last] = st[i]; });
    } else {
      shape.push(out[i]);
      full.forEach((st, k) => strides[k].push(st[i]));
    }
  }
  if (shape.length === 0) return { shape: [1], strides: operands.map(() => [0]) };
  return { shape, strides };
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
