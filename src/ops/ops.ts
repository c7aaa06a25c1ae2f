/**
 * The op table: one row per op. A row checks its inputs' shapes and attributes and plans the
 * single kernel call that computes it; the tensor layer (src/tensor.ts) does the rest.
 * Gradient rules join each row with the autograd issue.
 */
import { ShapeError } from '../errors.js';
import { type DType, type Shape, fmtShape, normAxis, numel } from '../dtype.js';
import type { KernelName, KernelParams } from '../backend/backend.js';
import { broadcastShapes, collapseBroadcast } from './broadcast.js';
import type { Activation } from './activation.js';
import { type MatmulAttrs, planLinear, planMatmul } from './matmul-plan.js';
import type { BinaryOp, UnaryOp } from './elementwise-spec.js';

export interface Plan<K extends KernelName = KernelName> {
  shape: Shape;
  kernel: K;
  params: KernelParams[K];
  /** Output dtype; the first input's when absent. */
  dtype?: DType;
}

export interface SumAttrs { axis?: number; keepDims?: boolean }

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

function unary(op: UnaryOp): Row<void> {
  return { arity: 1, plan: ([x]) => ({ shape: x, kernel: 'unary', params: { op, size: numel(x) } }) };
}

export const OPS = {
  add: binary('add'),
  mul: binary('mul'),
  relu: unary('relu'),
  sum: {
    arity: 1,
    plan([x], { axis, keepDims = false }: SumAttrs) {
      if (axis === undefined) {
        return { shape: keepDims ? x.map(() => 1) : [], kernel: 'sum', params: { outer: 1, reduce: numel(x), inner: 1 } };
      }
      const ax = normAxis(axis, x.length, 'sum');
      const shape = keepDims ? x.map((d, i) => (i === ax ? 1 : d)) : x.filter((_, i) => i !== ax);
      return { shape, kernel: 'sum', params: { outer: numel(x.slice(0, ax)), reduce: x[ax], inner: numel(x.slice(ax + 1)) } };
    },
  } satisfies Row<SumAttrs>,
  /** Batched, broadcasting matmul (PyTorch semantics; see matmul-plan.ts). */
  matmul: {
    arity: 2,
    plan: ([a, b], attrs: MatmulAttrs) => (attrs.name === 'linear' ? planLinear(a, b, null, attrs.activation) : planMatmul(a, b, attrs, null)),
  } satisfies Row<MatmulAttrs>,
  /** x @ w^T + bias with a fused activation: the matmul kernel with its epilogue. */
  linear: {
    arity: 3,
    plan: ([x, w, bias], { activation }: { activation?: Activation }) => planLinear(x, w, bias, activation),
  } satisfies Row<{ activation?: Activation }>,
} satisfies Record<string, Row<never>>;

export type OpName = keyof typeof OPS;
