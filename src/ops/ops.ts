/**
 * The op table: one row per op. A row checks its inputs' shapes and attributes and plans the
 * single kernel call that computes it; the tensor layer (src/tensor.ts) does the rest.
 * Gradient rules join each row with the autograd issue.
 */
import { ShapeError } from '../errors.js';
import { type DType, type Shape, fmtShape, normAxis, numel } from '../dtype.js';
import type { KernelName, KernelParams, ReduceOp } from '../backend/backend.js';
import { broadcastShapes, collapseBroadcast } from './broadcast.js';
import type { BinaryOp, UnaryOp } from './elementwise-spec.js';

export interface Plan<K extends KernelName = KernelName> {
  shape: Shape;
  kernel: K;
  params: KernelParams[K];
  /** Output dtype; the first input's when absent. */
  dtype?: DType;
}

export interface ReduceAttrs { axis?: number; keepDims?: boolean }

interface Row<A> {
  arity: number;
  /** Input dtypes the kernels handle; f32 only when absent. */
  dtypes?: readonly DType[];
  plan(shapes: Shape[], attrs: A): Plan;
}

function binary(op: BinaryOp): Row<void> {
  return {
    arity: 2,
    plan([a, b]) {
      const shape = broadcastShapes(a, b, op);
      return { shape, kernel: 'binary', params: { op, ...collapseBroadcast(shape, a, b) } };
    },
  };
}

/** One reduction along an axis (or over everything when axis is omitted). */
function reduction(op: ReduceOp): Row<ReduceAttrs> {
  const needsElements = op !== 'sum' && op !== 'mean';
  return {
    arity: 1,
    plan([x], { axis, keepDims = false }) {
      const ax = axis === undefined ? null : normAxis(axis, x.length, op);
      const extent = ax === null ? numel(x) : x[ax];
      if (needsElements && extent === 0) throw new ShapeError(`${op}: cannot reduce an empty axis (shape ${fmtShape(x)})`);
      const shape = ax === null ? (keepDims ? x.map(() => 1) : []) : keepDims ? x.map((d, i) => (i === ax ? 1 : d)) : x.filter((_, i) => i !== ax);
      const params = ax === null
        ? { op, outer: 1, reduce: numel(x), inner: 1 }
        : { op, outer: numel(x.slice(0, ax)), reduce: x[ax], inner: numel(x.slice(ax + 1)) };
      return { shape, kernel: 'reduce', params, dtype: op === 'argmax' || op === 'argmin' ? 'i32' : undefined };
    },
  };
}

function unary(op: UnaryOp): Row<void> {
  return { arity: 1, plan: ([x]) => ({ shape: x, kernel: 'unary', params: { op, size: numel(x) } }) };
}

export const OPS = {
  add: binary('add'),
  mul: binary('mul'),
  relu: unary('relu'),
  sum: reduction('sum'),
  mean: reduction('mean'),
  max: reduction('max'),
  min: reduction('min'),
  argmax: reduction('argmax'),
  argmin: reduction('argmin'),
  matmul: {
    arity: 2,
    plan([a, b]) {
      if (a.length !== 2 || b.length !== 2) {
        throw new ShapeError(`matmul: expects 2-D operands, got ${fmtShape(a)} and ${fmtShape(b)} (batched matmul is not supported yet)`);
      }
      if (a[1] !== b[0]) {
        throw new ShapeError(`matmul: inner dimensions differ: ${fmtShape(a)} @ ${fmtShape(b)} (${a[1]} vs ${b[0]})`);
      }
      return { shape: [a[0], b[1]], kernel: 'matmul', params: { m: a[0], k: a[1], n: b[1] } };
    },
  } satisfies Row<void>,
} satisfies Record<string, Row<never>>;

export type OpName = keyof typeof OPS;
