/**
 * The op table: one row per op. A row checks its inputs' shapes and attributes and plans the
 * single kernel call that computes it; the tensor layer (src/tensor.ts) does the rest.
 * Gradient rules join each row with the autograd issue.
 */
import { DTypeError, ShapeError, TandemError } from '../errors.js';
import { DTYPES, type DType, type Shape, checkDType, fmtShape, normAxis, numel } from '../dtype.js';
import type { KernelName, KernelParams } from '../backend/backend.js';
import { broadcastAll, broadcastShapes, collapseBroadcast, collapseOperands } from './broadcast.js';
import type { BinaryOp, CompareOp, UnaryOp } from './elementwise-spec.js';

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
  /** Input dtypes the kernels handle: one list for every input, or one list per input; f32 only when absent. */
  dtypes?: readonly DType[] | readonly (readonly DType[])[];
  /** `dtypes` are the inputs' dtypes, already checked against the row's. */
  plan(shapes: Shape[], attrs: A, dtypes: readonly DType[]): Plan;
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

// ---- elementwise math, comparisons, where, casts, image preprocessing ----

function compare(op: CompareOp): Row<void> {
  return {
    arity: 2,
    plan([a, b]) {
      const shape = broadcastShapes(a, b, op);
      return { shape, kernel: 'compare', params: { op, ...collapseBroadcast(shape, a, b) }, dtype: 'bool' };
    },
  };
}

/** The dtype conversions `cast` has kernels for, besides a dtype to itself (a copy). */
export const CAST_PAIRS: readonly (readonly [DType, DType])[] = [
  ['f32', 'f16'], ['f16', 'f32'], ['i32', 'f32'], ['f32', 'i32'], ['u8', 'f32'], ['bool', 'f32'],
];

export interface CastAttrs { dtype: DType }
export interface NormalizeImageAttrs { mean: ArrayLike<number>; std: ArrayLike<number> }

/** Per-channel values of normalizeImage: one finite number per channel. */
function channelValues(v: unknown, name: string, channels: number): number[] {
  const len = (v as ArrayLike<number> | null)?.length;
  if (typeof len !== 'number' || len !== channels) {
    throw new ShapeError(`normalizeImage: ${name} needs one value per channel (${channels}), got ${typeof len === 'number' ? `${len} values` : String(v)}`);
  }
  const out = Array.from(v as ArrayLike<number>);
  out.forEach((x, c) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new TandemError(`normalizeImage: ${name}[${c}] = ${String(x)} is not a finite number`);
  });
  return out;
}

const ELEMENTWISE_OPS = {
  neg: unary('neg'),
  abs: unary('abs'),
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  rsqrt: unary('rsqrt'),
  tanh: unary('tanh'),
  sigmoid: unary('sigmoid'),
  gelu: unary('gelu'),
  silu: unary('silu'),
  sub: binary('sub'),
  div: binary('div'),
  maximum: binary('maximum'),
  minimum: binary('minimum'),
  pow: binary('pow'),
  eq: compare('eq'),
  ne: compare('ne'),
  lt: compare('lt'),
  le: compare('le'),
  gt: compare('gt'),
  ge: compare('ge'),
  where: {
    arity: 3,
    dtypes: [['bool'], ['f32'], ['f32']],
    plan([c, a, b]) {
      const shape = broadcastAll([c, a, b], 'where');
      const { shape: loops, strides: [condStrides, aStrides, bStrides] } = collapseOperands(shape, [c, a, b]);
      return { shape, kernel: 'where', params: { shape: loops, condStrides, aStrides, bStrides }, dtype: 'f32' };
    },
  } satisfies Row<void>,
  cast: {
    arity: 1,
    dtypes: DTYPES,
    plan([x], { dtype }: CastAttrs, [from]) {
      if (dtype === undefined) throw new DTypeError('cast: a target dtype is required, e.g. T.cast(x, \'f16\')');
      const to = checkDType(dtype, 'cast');
      if (from !== to && !CAST_PAIRS.some(([f, t]) => f === from && t === to)) {
        throw new DTypeError(`cast: ${from} -> ${to} is not supported (supported: ${CAST_PAIRS.map(([f, t]) => `${f} -> ${t}`).join(', ')})`);
      }
      return { shape: x, kernel: 'cast', params: { from, to, size: numel(x) }, dtype: to };
    },
  } satisfies Row<CastAttrs>,
  normalizeImage: {
    arity: 1,
    dtypes: ['u8'],
    plan([x], { mean, std }: NormalizeImageAttrs) {
      if (x.length !== 3) throw new ShapeError(`normalizeImage: expects an HWC image [height, width, channels], got ${fmtShape(x)}`);
      const [height, width, channels] = x;
      if (channels < 1 || channels > 4) throw new ShapeError(`normalizeImage: images with 1 to 4 channels are supported, got ${fmtShape(x)}`);
      const m = channelValues(mean, 'mean', channels), s = channelValues(std, 'std', channels);
      const zero = s.indexOf(0);
      if (zero >= 0) throw new TandemError(`normalizeImage: std[${zero}] is 0`);
      return { shape: [channels, height, width], kernel: 'normalizeImage', params: { height, width, channels, mean: m, std: s }, dtype: 'f32' };
    },
  } satisfies Row<NormalizeImageAttrs>,
} satisfies Record<string, Row<never>>;

/** DTypeError unless every input's dtype is one `op` accepts. */
export function checkInputDTypes(op: OpName, dtypes: readonly DType[]): void {
  const d = (OPS[op] as Row<never>).dtypes ?? ['f32'];
  const perInput = typeof d[0] !== 'string';
  dtypes.forEach((dt, i) => {
    const ok = (perInput ? (d as readonly (readonly DType[])[])[i] : d) as readonly DType[];
    if (!ok.includes(dt)) throw new DTypeError(`${op}: dtype ${dt} is not supported${perInput ? ` for argument ${i}` : ''} (supported: ${ok.join(', ')})`);
  });
}

// ---- end of elementwise block ----

export const OPS = {
  ...ELEMENTWISE_OPS,
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
