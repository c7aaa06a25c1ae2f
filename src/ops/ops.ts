/**
 * The op table: one row per op. A row checks its inputs' shapes and attributes and plans the
 * single kernel call that computes it; the tensor layer (src/tensor.ts) does the rest.
 * Gradient rules join each row with the autograd issue.
 */
import { DTypeError, ShapeError, TandemError } from '../errors.js';
import { DTYPES, type DType, ITEM_BYTES, type Shape, checkDType, fmtShape, normAxis, numel } from '../dtype.js';
import type { KernelName, KernelParams, ReduceOp } from '../backend/backend.js';
import { broadcastAll, broadcastShapes, collapseBroadcast, collapseOperands } from './broadcast.js';
import type { Activation } from './activation.js';
import { type MatmulAttrs, type MatmulPlan, planLinear, planMatmul } from './matmul-plan.js';
import type { BinaryOp, CompareOp, UnaryOp } from './elementwise-spec.js';
import { type Conv2dAttrs, type Pool2dAttrs, convFlops, convGeom, poolFlops, poolGeom, sameShape } from './conv-plan.js';

export interface Plan<K extends KernelName = KernelName> {
  shape: Shape;
  kernel: K;
  params: KernelParams[K];
  /** Output dtype; the first input's when absent. */
  dtype?: DType;
}

export interface ReduceAttrs { axis?: number; keepDims?: boolean }

interface Row<A> {
  /** How many tensors it takes: exactly, or [min, max]. */
  arity: number | readonly [number, number];
  /** Input dtypes the kernels handle: one list for every input, or one list per input; f32 only when absent. */
  dtypes?: readonly DType[] | readonly (readonly DType[])[];
  /** `dtypes` are the inputs' dtypes, already checked against the row's. */
  plan(shapes: Shape[], attrs: A, dtypes: readonly DType[]): Plan;
  /**
   * Floating-point operations of a planned call, for the cost model (src/sched/cost.ts); one
   * per output element when absent (elementwise ops).
   */
  flops?(params: never): number;
}

const ANY: readonly DType[] = ['f32', 'f16', 'i32', 'u8', 'bool'];
/** Float compute dtypes: f16 ops read and write halves and compute in f32 (PyTorch's meaning). */
const FLOAT: readonly DType[] = ['f32', 'f16'];

/**
 * The `dtype` field of a float kernel's params: absent for f32, 'f16' when every input is f16.
 * Mixed f16/f32 inputs are refused rather than promoted (PyTorch would compute in f32): an
 * implicit promotion would silently double the bandwidth the caller chose f16 to halve.
 */
function floatDType(op: string, dtypes: readonly DType[]): { dtype?: 'f16' } {
  if (dtypes.some((d) => d !== dtypes[0])) {
    throw new DTypeError(`${op}: inputs mix dtypes ${[...new Set(dtypes)].join(' and ')}; Tandem does not promote implicitly: cast one first, e.g. T.cast(x, 'f32')`);
  }
  return dtypes[0] === 'f16' ? { dtype: 'f16' } : {};
}

function binary(op: BinaryOp): Row<void> {
  return {
    arity: 2,
    dtypes: FLOAT,
    plan([a, b], _, dtypes) {
      const shape = broadcastShapes(a, b, op);
      return { shape, kernel: 'binary', params: { op, ...collapseBroadcast(shape, a, b), ...floatDType(op, dtypes) } };
    },
  };
}

/** One reduction along an axis (or over everything when axis is omitted). */
function reduction(op: ReduceOp): Row<ReduceAttrs> {
  const needsElements = op !== 'sum' && op !== 'mean';
  return {
    arity: 1,
    flops: (p: KernelParams['reduce']) => p.outer * p.reduce * p.inner,
    // argmax/argmin stay f32-only: their kernels have no f16 twin yet.
    dtypes: needsElements && op !== 'max' && op !== 'min' ? ['f32'] : FLOAT,
    plan([x], { axis, keepDims = false }, dtypes) {
      const ax = axis === undefined ? null : normAxis(axis, x.length, op);
      const extent = ax === null ? numel(x) : x[ax];
      if (needsElements && extent === 0) throw new ShapeError(`${op}: cannot reduce an empty axis (shape ${fmtShape(x)})`);
      const shape = ax === null ? (keepDims ? x.map(() => 1) : []) : keepDims ? x.map((d, i) => (i === ax ? 1 : d)) : x.filter((_, i) => i !== ax);
      const params = ax === null
        ? { op, outer: 1, reduce: numel(x), inner: 1, ...floatDType(op, dtypes) }
        : { op, outer: numel(x.slice(0, ax)), reduce: x[ax], inner: numel(x.slice(ax + 1)), ...floatDType(op, dtypes) };
      return { shape, kernel: 'reduce', params, dtype: op === 'argmax' || op === 'argmin' ? 'i32' : undefined };
    },
  };
}

function unary(op: UnaryOp): Row<void> {
  return { arity: 1, dtypes: FLOAT, plan: ([x], _, dtypes) => ({ shape: x, kernel: 'unary', params: { op, size: numel(x), ...floatDType(op, dtypes) } }) };
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
  sum: reduction('sum'),
  mean: reduction('mean'),
  max: reduction('max'),
  min: reduction('min'),
  argmax: reduction('argmax'),
  argmin: reduction('argmin'),
  /** Batched, broadcasting matmul (PyTorch semantics; see matmul-plan.ts). */
  matmul: {
    arity: 2,
    dtypes: FLOAT,
    flops: matmulFlops,
    plan: ([a, b], attrs: MatmulAttrs, dtypes) => withDType(attrs.name === 'linear' ? planLinear(a, b, null, attrs.activation) : planMatmul(a, b, attrs, null), attrs.name ?? 'matmul', dtypes),
  } satisfies Row<MatmulAttrs>,
  /** x @ w^T + bias with a fused activation: the matmul kernel with its epilogue. */
  linear: {
    arity: 3,
    dtypes: FLOAT,
    flops: matmulFlops,
    plan: ([x, w, bias], { activation }: { activation?: Activation }, dtypes) => withDType(planLinear(x, w, bias, activation), 'linear', dtypes),
  } satisfies Row<{ activation?: Activation }>,
  softmaxLast: {
    arity: 1,
    dtypes: FLOAT,
    flops: (p: KernelParams['softmax']) => 5 * p.rows * p.n,
    plan: ([x], { log }: { log: boolean }, dtypes) => {
      const n = x.length === 0 ? 1 : x[x.length - 1];
      return { shape: x, kernel: 'softmax', params: { rows: n === 0 ? 0 : numel(x) / n, n, log, ...floatDType(log ? 'logSoftmax' : 'softmax', dtypes) } };
    },
  } satisfies Row<{ log: boolean }>,
  layerNorm: {
    arity: [1, 3],
    flops: (p: KernelParams['layerNorm']) => 8 * p.rows * p.n,
    plan(shapes, { normalized, eps, weight, bias }: LayerNormAttrs) {
      const [x] = shapes;
      const k = normalized.length;
      if (k === 0 || k > x.length || normalized.some((d, i) => d !== x[x.length - k + i])) {
        throw new ShapeError(`layerNorm: normalized shape ${fmtShape(normalized)} is not the trailing shape of ${fmtShape(x)}`);
      }
      for (const s of shapes.slice(1)) {
        if (fmtShape(s) !== fmtShape(normalized)) throw new ShapeError(`layerNorm: weight and bias must have shape ${fmtShape(normalized)}, got ${fmtShape(s)}`);
      }
      const n = numel(normalized);
      return { shape: x, kernel: 'layerNorm', params: { rows: n === 0 ? 0 : numel(x) / n, n, eps, weight, bias } };
    },
  } satisfies Row<LayerNormAttrs>,
  crossEntropy: {
    arity: 2,
    flops: (p: KernelParams['crossEntropy']) => 5 * p.rows * p.classes,
    dtypes: [['f32'], ['i32']],
    plan([logits, labels], { smoothing }: { smoothing: number }) {
      if (logits.length !== 2 || labels.length !== 1 || labels[0] !== logits[0]) {
        throw new ShapeError(`crossEntropy: expects logits [N, C] and i32 labels [N], got ${fmtShape(logits)} and ${fmtShape(labels)}`);
      }
      if (logits[1] === 0 && logits[0] > 0) throw new ShapeError(`crossEntropy: logits ${fmtShape(logits)} have no classes`);
      return { shape: [logits[0]], kernel: 'crossEntropy', params: { rows: logits[0], classes: logits[1], smoothing } };
    },
  } satisfies Row<{ smoothing: number }>,
  gather: {
    arity: 2,
    dtypes: [ANY, ['i32']],
    plan([table, idx], { axis }: { axis: number }, [dtype]) {
      const ax = normAxis(axis, table.length, 'indexSelect');
      const shape = [...table.slice(0, ax), ...idx, ...table.slice(ax + 1)];
      const itemBytes = ITEM_BYTES[dtype] as 1 | 2 | 4;
      return { shape, kernel: 'gather', params: { outer: numel(table.slice(0, ax)), axisLen: table[ax], inner: numel(table.slice(ax + 1)), count: numel(idx), itemBytes } };
    },
  } satisfies Row<{ axis: number }>,
  oneHot: {
    arity: 1,
    dtypes: ['i32'],
    plan([idx], { classes, dtype }: { classes: number; dtype: 'i32' | 'f32' }) {
      if (!Number.isInteger(classes) || classes < 1) throw new ShapeError(`oneHot: numClasses must be a positive integer, got ${classes}`);
      return { shape: [...idx, classes], kernel: 'oneHot', params: { n: numel(idx), classes, oneBits: dtype === 'f32' ? 0x3f800000 : 1 }, dtype };
    },
  } satisfies Row<{ classes: number; dtype: 'i32' | 'f32' }>,
  // ---- window ops (conv-plan.ts; T.conv2d / T.maxPool2d in conv.ts) ----
  /** x [N, C, H, W] (*) w [O, C/groups, kH, kW] (+ bias [O]): im2col + GEMM on cpu and gpu. */
  conv2d: {
    arity: [2, 3],
    flops: convFlops,
    plan([x, w, bias], attrs: Conv2dAttrs) {
      const g = convGeom(x, w, attrs);
      if (bias !== undefined) sameShape('conv2d', 'bias', bias, [g.o]);
      return { shape: [g.n, g.o, g.oh, g.ow], kernel: 'conv2d', params: { ...g, bias: bias !== undefined, activation: attrs.activation ?? 'none' } };
    },
  } satisfies Row<Conv2dAttrs>,
  /** dx of conv2d from [dy, w]; attrs carry x's shape (the output size rounds down). */
  conv2dInputGrad: {
    arity: 2,
    flops: convFlops,
    plan([dy, w], attrs: Conv2dAttrs & { xShape: Shape }) {
      const g = convGeom(attrs.xShape, w, attrs, 'conv2dInputGrad');
      sameShape('conv2dInputGrad', 'dy', dy, [g.n, g.o, g.oh, g.ow]);
      return { shape: attrs.xShape, kernel: 'conv2dInputGrad', params: g };
    },
  } satisfies Row<Conv2dAttrs & { xShape: Shape }>,
  /** dw of conv2d from [x, dy]; attrs carry w's shape. */
  conv2dWeightGrad: {
    arity: 2,
    flops: convFlops,
    plan([x, dy], attrs: Conv2dAttrs & { wShape: Shape }) {
      const g = convGeom(x, attrs.wShape, attrs, 'conv2dWeightGrad');
      sameShape('conv2dWeightGrad', 'dy', dy, [g.n, g.o, g.oh, g.ow]);
      return { shape: attrs.wShape, kernel: 'conv2dWeightGrad', params: g };
    },
  } satisfies Row<Conv2dAttrs & { wShape: Shape }>,
  maxPool2d: {
    arity: 1,
    flops: poolFlops,
    plan([x], attrs: Pool2dAttrs) {
      const g = poolGeom(x, attrs);
      return { shape: [g.n, g.c, g.oh, g.ow], kernel: 'maxPool2d', params: g };
    },
  } satisfies Row<Pool2dAttrs>,
  /** dx of maxPool2d from [x, dy]. */
  maxPool2dGrad: {
    arity: 2,
    flops: poolFlops,
    plan([x, dy], attrs: Pool2dAttrs) {
      const g = poolGeom(x, attrs, 'maxPool2dGrad');
      sameShape('maxPool2dGrad', 'dy', dy, [g.n, g.c, g.oh, g.ow]);
      return { shape: x, kernel: 'maxPool2dGrad', params: g };
    },
  } satisfies Row<Pool2dAttrs>,
  /** The gradient of gather (autograd's rule): g [outer, count, inner] summed by index into [outer, axisLen, inner]. */
  scatterAdd: {
    arity: 2,
    dtypes: [['f32'], ['i32']],
    flops: (p: KernelParams['scatterAdd']) => p.outer * p.count * p.inner,
    plan([g, idx], { axisLen }: { axisLen: number }) {
      if (g.length !== 3 || idx.length !== 1 || g[1] !== idx[0]) throw new ShapeError(`scatterAdd: expects g [outer, count, inner] and i32 indices [count], got ${fmtShape(g)} and ${fmtShape(idx)}`);
      if (!Number.isInteger(axisLen) || axisLen < 0) throw new ShapeError(`scatterAdd: axisLen must be an integer >= 0, got ${axisLen}`);
      return { shape: [g[0], axisLen, g[2]], kernel: 'scatterAdd', params: { outer: g[0], axisLen, inner: g[2], count: idx[0] } };
    },
  } satisfies Row<{ axisLen: number }>,
} satisfies Record<string, Row<never>>;

/** 2mkn per batch: one multiply and one add per term. */
function matmulFlops(p: KernelParams['matmul']): number {
  return 2 * p.m * p.k * p.n * (p.batchShape ? numel(p.batchShape) : 1);
}

/** Flops of a planned call of `op` (see Row.flops). */
export function opFlops(op: OpName, plan: Plan): number {
  const f = (OPS[op] as Row<never>).flops;
  return f ? f(plan.params as never) : numel(plan.shape);
}

/** A matmul plan with its compute dtype (shape checks first, so shape errors win). */
function withDType(p: MatmulPlan, op: string, dtypes: readonly DType[]): MatmulPlan {
  return { ...p, params: { ...p.params, ...floatDType(op, dtypes) } };
}

export interface LayerNormAttrs { normalized: Shape; eps: number; weight: boolean; bias: boolean }

export type OpName = keyof typeof OPS;
