/**
 * Gradient rules: one row per op, keyed by the op's name. The `OPS` part is checked by the
 * compiler to cover every row of the op table (src/ops/ops.ts): `null` states that an op has
 * no gradient (its outputs never require grad). The rest are the ops outside the dispatcher
 * that record themselves (views, concat: src/ops/views.ts). Composite ops (softmax along an
 * axis, multi-axis reductions, crossEntropy's reduction) need no row: their parts record.
 *
 * Rules are written with Tandem ops, so they run on whichever engine holds the tensors. Each
 * saves only what its gradient reads (relu and exp their output, mul the other operand,
 * matmul its operands) and skips the gradients of inputs that want none (ctx.needs).
 *
 * Adding a rule for a new op (e.g. conv2d): add a row to the op table, then one row here:
 *   conv2d: { save: ([x, w]) => [x, w], grad: (g, { saved: [x, w], attrs, needs }) => [
 *     needs[0] ? conv2dInputGrad(g, w!, attrs) : null, needs[1] ? conv2dWeightGrad(g, x!, attrs) : null] },
 * and a gradcheck test (tests/autograd.test.ts shows the pattern). The compiler refuses an
 * op table row with no row here.
 *
 * Tie rules: max/min reductions and maximum/minimum share the gradient equally among tied
 * elements (torch.amax / torch.maximum's rule), so gradients stay symmetric and sum to g.
 */
import { apply } from '../apply.js';
import { type DType, type Shape, normAxis, numel } from '../dtype.js';
import { toStorage } from '../host.js';
import type { CompareOp } from '../ops/elementwise-spec.js';
import type { LayerNormAttrs, OpName, ReduceAttrs } from '../ops/ops.js';
import type { MatmulAttrs } from '../ops/matmul-plan.js';
import type { Activation } from '../ops/activation.js';
import { reduceAxes } from '../ops/reduce-axes.js';
import { concat, narrow, permute, reshape } from '../ops/views.js';
import { type Tensor, createTensor } from '../tensor.js';
import { type GradContext, type GradRule, RULES } from './tape.js';

// ---- helpers (Tandem ops; the rules run inside a tidy scope, so temporaries need no dispose) ----

const add = (a: Tensor, b: Tensor) => apply('add', [a, b]);
const sub = (a: Tensor, b: Tensor) => apply('sub', [a, b]);
const mul = (a: Tensor, b: Tensor) => apply('mul', [a, b]);
const div = (a: Tensor, b: Tensor) => apply('div', [a, b]);
const neg = (a: Tensor) => apply('neg', [a]);
const cast = (a: Tensor, dtype: DType) => (a.dtype === dtype ? a : apply('cast', [a], { dtype }));
const matmul = (a: Tensor, b: Tensor, attrs: MatmulAttrs = {}) => apply('matmul', [a, b], attrs);
const sumKeep = (x: Tensor, axis: number) => apply('sum', [x], { axis, keepDims: true });
const meanKeep = (x: Tensor, axis: number) => apply('mean', [x], { axis, keepDims: true });
const isFloat = (d: DType) => d === 'f32' || d === 'f16';
const same = (a: Shape, b: Shape) => a.length === b.length && a.every((d, i) => d === b[i]);

/** A 0-D tensor of value v, with like's dtype and device (it broadcasts against anything). */
function scalar(v: number, like: Tensor): Tensor {
  return createTensor([], like.dtype, like.device, 'backward', () => toStorage(new Float32Array([v]), like.dtype, 'backward'));
}

function zeros(shape: Shape, like: Tensor): Tensor {
  return createTensor(shape, like.dtype, like.device, 'backward', () => toStorage(new Float32Array(numel(shape)), like.dtype, 'backward'));
}

/** t broadcast to `shape` as a view with stride 0 on the broadcast dims (no copy). */
function expand(t: Tensor, shape: Shape): Tensor {
  if (same(t.shape, shape)) return t;
  const lead = shape.length - t.rank;
  const strides = shape.map((d, i) => (i < lead || (t.shape[i - lead] === 1 && d !== 1) ? 0 : t.strides[i - lead]));
  return t.view('expand', shape, strides, t.offset);
}

/** The gradient of a broadcast: g summed over the dims where `shape` was broadcast to g's shape. */
export function unbroadcast(g: Tensor, shape: Shape): Tensor {
  if (same(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  return reshape(axes.length > 0 ? reduceAxes('sum', g, axes, true) : g, shape);
}

/** 1 where `a op b` holds, else 0, in `dtype` (comparisons run in f32). */
function mask(op: CompareOp, a: Tensor, b: Tensor, dtype: DType): Tensor {
  return cast(cast(apply(op, [cast(a, 'f32'), cast(b, 'f32')]), 'f32'), dtype);
}

/** g through a fused activation whose output `out` was saved. */
function throughActivation(g: Tensor, activation: Activation | undefined, out: Tensor | null): Tensor {
  return activation === 'relu' ? mul(g, mask('gt', out!, scalar(0, out!), g.dtype)) : g;
}

type Rules = { [K in OpName]: GradRule | null };

// ---- elementwise ----

/** A unary rule dy/dx = d(x, out) from the saved input or output. */
function unary(from: 'x' | 'out', d: (g: Tensor, v: Tensor) => Tensor): GradRule {
  return { save: ([x], out) => [from === 'x' ? x : out], grad: (g, { saved: [v] }) => [d(g, v!)] };
}

/** Broadcasting binary rule: da, db computed at the output's shape, then summed back. */
function binary(save: (a: Tensor, b: Tensor, out: Tensor, needs: readonly boolean[]) => (Tensor | null)[], d: (g: Tensor, s: (Tensor | null)[], needs: readonly boolean[]) => [Tensor | null, Tensor | null]): GradRule {
  return {
    save: ([a, b], out, _, needs) => save(a, b, out, needs),
    grad(g, { saved, needs, shapes }) {
      const [da, db] = d(g, saved as (Tensor | null)[], needs);
      return [da && needs[0] ? unbroadcast(expand(da, g.shape), shapes[0]) : null, db && needs[1] ? unbroadcast(expand(db, g.shape), shapes[1]) : null];
    },
  };
}

/** maximum (pick 'gt') or minimum ('lt'): the chosen side gets g, a tie splits it in halves. */
function extremum(op: 'gt' | 'lt'): GradRule {
  return binary((a, b) => [a, b], (g, [a, b]) => {
    const half = mul(mask('eq', a!, b!, g.dtype), scalar(0.5, g));
    const ma = add(mask(op, a!, b!, g.dtype), half);
    const mb = add(mask(op, b!, a!, g.dtype), half);
    return [mul(g, ma), mul(g, mb)];
  });
}

const GELU_C = 2 * Math.sqrt(2 / Math.PI);

const ELEMENTWISE = {
  add: binary(() => [], (g) => [g, g]),
  sub: binary(() => [], (g, _, needs) => [g, needs[1] ? neg(g) : null]),
  mul: binary((a, b, _, needs) => [needs[1] ? a : null, needs[0] ? b : null], (g, [a, b]) => [b && mul(g, b), a && mul(g, a)]),
  // d(a/b)/da = 1/b, d(a/b)/db = -(a/b)/b: saves b and the output.
  div: binary((_, b, out, needs) => [b, needs[1] ? out : null], (g, [b, out]) => {
    const ga = div(g, b!);
    return [ga, out && neg(mul(ga, out))];
  }),
  maximum: extremum('gt'),
  minimum: extremum('lt'),
  // d/da = b a^(b-1); d/db = a^b log(a), 0 where a = 0 and b >= 0 (torch.pow's convention).
  pow: binary((a, b, out, needs) => [a, b, needs[1] ? out : null], (g, [a, b, out], needs) => {
    const ga = needs[0] ? mul(g, mul(b!, apply('pow', [a!, sub(b!, scalar(1, b!))]))) : null;
    if (!needs[1]) return [ga, null];
    const t = mul(mul(g, out!), apply('log', [a!]));
    const zero = scalar(0, t);
    return [ga, apply('where', [apply('eq', [a!, zero]), apply('where', [apply('ge', [b!, zero]), zero, t]), t])];
  }),
  neg: { grad: (g) => [neg(g)] },
  relu: unary('out', (g, y) => mul(g, mask('gt', y, scalar(0, y), g.dtype))),
  // sign(x): 0 at 0 (PyTorch's subgradient).
  abs: unary('x', (g, x) => mul(g, sub(mask('gt', x, scalar(0, x), g.dtype), mask('lt', x, scalar(0, x), g.dtype)))),
  exp: unary('out', (g, y) => mul(g, y)),
  log: unary('x', (g, x) => div(g, x)),
  sqrt: unary('out', (g, y) => div(mul(g, scalar(0.5, g)), y)),
  rsqrt: unary('out', (g, y) => mul(g, mul(scalar(-0.5, y), mul(y, mul(y, y))))),
  tanh: unary('out', (g, y) => mul(g, sub(scalar(1, y), mul(y, y)))),
  sigmoid: unary('out', (g, y) => mul(g, mul(y, sub(scalar(1, y), y)))),
  // silu' = s (1 + x (1 - s)), s = sigmoid(x).
  silu: unary('x', (g, x) => {
    const s = apply('sigmoid', [x]);
    return mul(g, mul(s, add(scalar(1, x), mul(x, sub(scalar(1, x), s)))));
  }),
  // gelu = x s(z), z = C (x + 0.044715 x^3): gelu' = s + x s (1 - s) C (1 + 3 * 0.044715 x^2).
  gelu: unary('x', (g, x) => {
    const x2 = mul(x, x);
    const z = mul(scalar(GELU_C, x), mul(x, add(scalar(1, x), mul(scalar(0.044715, x), x2))));
    const s = apply('sigmoid', [z]);
    const dz = mul(scalar(GELU_C, x), add(scalar(1, x), mul(scalar(3 * 0.044715, x), x2)));
    return mul(g, add(s, mul(mul(x, mul(s, sub(scalar(1, x), s))), dz)));
  }),
  where: {
    save: ([c]) => [c],
    grad(g, { saved: [c], shapes, needs }) {
      const zero = scalar(0, g);
      return [null,
        needs[1] ? unbroadcast(apply('where', [c!, g, zero]), shapes[1]) : null,
        needs[2] ? unbroadcast(apply('where', [c!, zero, g]), shapes[2]) : null];
    },
  },
  // Between float dtypes only (autocast's f16 <-> f32); casts to or from integers have no gradient.
  cast: {
    when: ([from], { dtype }: { dtype: DType }) => isFloat(from) && isFloat(dtype),
    grad: (g, { dtypes }) => [cast(g, dtypes[0])],
  },
  eq: null, ne: null, lt: null, le: null, gt: null, ge: null,
  normalizeImage: null,
} satisfies Partial<Rules>;

// ---- reductions ----

/** sum / mean / max / min along one axis or over everything (attrs of the op table's row). */
function reduction(op: 'sum' | 'mean' | 'max' | 'min'): GradRule<ReduceAttrs> {
  const extreme = op === 'max' || op === 'min';
  return {
    save: ([x], out) => (extreme ? [x, out] : []),
    grad(g, { shapes: [xs], attrs: { axis }, saved: [x, out] }) {
      const ax = axis === undefined ? null : normAxis(axis, xs.length, op);
      const kept = xs.map((d, i) => (ax === null || i === ax ? 1 : d));
      const gk = reshape(g, kept);
      if (op === 'sum') return [expand(gk, xs)];
      const n = ax === null ? numel(xs) : xs[ax];
      if (op === 'mean') return [expand(mul(gk, scalar(1 / n, g)), xs)];
      // Ties share: g / count to each element equal to the extreme.
      const m = mask('eq', x!, reshape(out!, kept), g.dtype);
      const count = ax === null ? reshape(apply('sum', [m]), kept) : sumKeep(m, ax);
      return [mul(m, div(gk, count))];
    },
  };
}

// ---- matrix products ----

/**
 * matmul (and T.linear without bias: name 'linear', b transposed). With C = op(A) op(B):
 * dop(A) = G op(B)^T and dop(B) = op(A)^T G, written with the kernels' transpose flags so no
 * transpose is materialised. 1-D operands become [1, k] / [k, 1]; broadcast batch dims are
 * summed back. When b has no batch and a is not transposed, a's batch folds into rows, so dB
 * is one [k, batch*m] @ [batch*m, n] product.
 */
const matmulRule: GradRule<MatmulAttrs> = {
  save: ([a, b], out, attrs, needs) => [needs[1] ? a : null, needs[0] ? b : null, attrs.activation === 'relu' ? out : null],
  grad(g, { saved: [a, b, out], shapes: [sa, sb], attrs, needs }) {
    const tA = !!attrs.transposeA && sa.length >= 2;
    const tB = (attrs.name === 'linear' || !!attrs.transposeB) && sb.length >= 2;
    const m = sa.length === 1 ? 1 : tA ? sa[sa.length - 1] : sa[sa.length - 2];
    const n = sb.length === 1 ? 1 : tB ? sb[sb.length - 2] : sb[sb.length - 1];
    const pa = sa.length === 1 ? [1, sa[0]] : sa, pb = sb.length === 1 ? [sb[0], 1] : sb;
    const batch = g.shape.slice(0, g.rank - (sa.length === 1 ? 0 : 1) - (sb.length === 1 ? 0 : 1));
    const G = reshape(throughActivation(g, attrs.activation, out), [...batch, m, n]);
    let da: Tensor | null = null, db: Tensor | null = null;
    if (needs[0]) {
      const B = reshape(b!, pb);
      const d = tA ? matmul(B, G, { transposeA: tB, transposeB: true }) : matmul(G, B, { transposeB: !tB });
      da = reshape(unbroadcast(d, pa), sa);
    }
    if (needs[1]) {
      const A = reshape(a!, pa);
      let d: Tensor;
      if (pb.length === 2 && G.rank > 2 && !tA) {
        const A2 = reshape(A, [-1, pa[pa.length - 1]]), G2 = reshape(G, [-1, n]);
        d = tB ? matmul(G2, A2, { transposeA: true }) : matmul(A2, G2, { transposeA: true });
      } else {
        d = tB ? matmul(G, A, { transposeA: true, transposeB: tA }) : matmul(A, G, { transposeA: !tA });
      }
      db = reshape(unbroadcast(d, pb), sb);
    }
    return [da, db];
  },
};

/** linear(x, w, bias): x [..., in], w [out, in], bias [out]; the batch folds into rows. */
const linearRule: GradRule<{ activation?: Activation }> = {
  save: ([x, w], out, { activation }, needs) => [needs[1] ? x : null, needs[0] ? w : null, activation === 'relu' ? out : null],
  grad(g, { saved: [x, w, out], shapes: [sx, sw], attrs, needs }) {
    const G = throughActivation(g, attrs.activation, out);
    const G2 = reshape(G, [-1, sw[0]]);
    return [
      needs[0] ? matmul(G, w!) : null,
      needs[1] ? matmul(G2, reshape(x!, [-1, sx[sx.length - 1]]), { transposeA: true }) : null,
      needs[2] ? reshape(apply('sum', [G2], { axis: 0 }), [sw[0]]) : null,
    ];
  },
};

// ---- nn ----

/** softmaxLast: softmax' = y (g - sum(g y)); logSoftmax' = g - exp(y) sum(g). Saves the output. */
const softmaxRule: GradRule<{ log: boolean }> = {
  save: (_, out) => [out],
  grad(g, { saved: [y], attrs: { log } }) {
    if (g.rank === 0) return [mul(g, scalar(0, g))]; // one element: the output is constant
    const last = g.rank - 1;
    return [log ? sub(g, mul(apply('exp', [y!]), sumKeep(g, last))) : mul(y!, sub(g, sumKeep(mul(g, y!), last)))];
  },
};

/**
 * Layer norm, composite: saves x (and the weight); mean and 1/std are recomputed. With
 * xhat = (x - mean) rstd and dxhat = g w: dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)),
 * dw = sum over rows of g xhat, db = sum over rows of g.
 */
const layerNormRule: GradRule<LayerNormAttrs> = {
  save: ([x, w], _, { weight }) => [x, weight ? w : null],
  grad(g, { saved: [x, w], attrs: { normalized, eps, weight, bias }, needs }) {
    const n = numel(normalized), rows = n === 0 ? 0 : x!.size / n;
    const X = reshape(x!, [rows, n]), G = reshape(g, [rows, n]);
    const xc = sub(X, meanKeep(X, 1));
    const rstd = apply('rsqrt', [add(meanKeep(mul(xc, xc), 1), scalar(eps, X))]);
    const xhat = mul(xc, rstd);
    const dxhat = weight ? mul(G, reshape(w!, [n])) : G;
    const dx = needs[0] ? reshape(mul(rstd, sub(sub(dxhat, meanKeep(dxhat, 1)), mul(xhat, meanKeep(mul(dxhat, xhat), 1)))), x!.shape) : null;
    const rowSum = (t: Tensor) => reshape(apply('sum', [t], { axis: 0 }), normalized);
    const dw = weight && needs[1] ? rowSum(mul(G, xhat)) : null;
    const db = bias && needs[weight ? 2 : 1] ? rowSum(G) : null;
    return weight ? [dx, dw, ...(bias ? [db] : [])] : [dx, ...(bias ? [db] : [])];
  },
};

/** Per-row cross-entropy: d/dlogits = softmax(x) - (1 - s) onehot(y) - s / C, times g per row. */
const crossEntropyRule: GradRule<{ smoothing: number }> = {
  save: ([logits, labels]) => [logits, labels],
  grad(g, { saved: [x, labels], attrs: { smoothing } }) {
    const [rows, classes] = x!.shape;
    const p = apply('softmaxLast', [x!], { log: false });
    const oh = apply('oneHot', [labels!], { classes, dtype: 'f32' });
    let d = sub(p, mul(oh, scalar(1 - smoothing, p)));
    if (smoothing !== 0) d = sub(d, scalar(smoothing / classes, p));
    return [mul(d, reshape(g, [rows, 1])), null];
  },
};

/**
 * gather (indexSelect, embedding): the table's gradient is a scatter-add of g into the picked
 * slices, computed as oneHot(idx)^T @ g per outer slice: one [axisLen, count] @ [count, inner]
 * matmul, O(count * axisLen * inner) flops and a count x axisLen one-hot (4 bytes each), fine
 * for class tables and small vocabularies, wasteful for large ones (a scatter kernel is the fix).
 */
const gatherRule: GradRule<{ axis: number }> = {
  when: ([d]) => isFloat(d),
  save: ([, idx]) => [idx],
  grad(g, { saved: [idx], shapes: [ts], attrs: { axis } }) {
    const ax = normAxis(axis, ts.length, 'indexSelect');
    const outer = numel(ts.slice(0, ax)), inner = numel(ts.slice(ax + 1)), count = idx!.size;
    const oh = cast(apply('oneHot', [reshape(idx!, [count])], { classes: ts[ax], dtype: 'f32' }), g.dtype);
    const d = matmul(oh, reshape(g, [outer, count, inner]), { transposeA: true });
    return [reshape(d, ts), null];
  },
};

export const OP_RULES = {
  ...ELEMENTWISE,
  sum: reduction('sum'),
  mean: reduction('mean'),
  max: reduction('max'),
  min: reduction('min'),
  argmax: null,
  argmin: null,
  matmul: matmulRule,
  linear: linearRule,
  softmaxLast: softmaxRule,
  layerNorm: layerNormRule,
  crossEntropy: crossEntropyRule,
  gather: gatherRule,
  oneHot: null,
} satisfies Rules;

// ---- views and concat (recorded by src/ops/views.ts) ----

/** g placed at `starts` inside zeros of `shape` (the gradient of a slice), by concat per padded axis. */
function pad(g: Tensor, shape: Shape, starts: readonly number[]): Tensor {
  let t = g;
  for (let ax = 0; ax < shape.length; ax++) {
    const before = starts[ax], after = shape[ax] - starts[ax] - t.shape[ax];
    if (before === 0 && after === 0) continue;
    const part = (len: number) => zeros(t.shape.map((d, i) => (i === ax ? len : d)), g);
    t = concat([...(before > 0 ? [part(before)] : []), t, ...(after > 0 ? [part(after)] : [])], ax);
  }
  return t;
}

const sliceRule: GradRule<{ starts: number[] }> = { grad: (g, { shapes: [xs], attrs }) => [pad(g, xs, attrs.starts)] };

export const VIEW_RULES: Record<string, GradRule> = {
  reshape: { grad: (g, { shapes: [xs] }) => [reshape(g, xs)] },
  permute: {
    grad(g, { attrs: { perm } }: GradContext<{ perm: number[] }>) {
      const inv = perm.map((_, i) => perm.indexOf(i));
      return [permute(g, inv)];
    },
  },
  slice: sliceRule,
  narrow: sliceRule,
  contiguous: { grad: (g) => [g] },
  concat: {
    grad(g, { shapes, attrs: { axis }, needs }: GradContext<{ axis: number }>) {
      const ax = normAxis(axis, g.rank, 'concat');
      let at = 0;
      return shapes.map((s, i) => {
        const part = needs[i] ? narrow(g, ax, at, s[ax]) : null;
        at += s[ax];
        return part;
      });
    },
  },
};

Object.assign(RULES, OP_RULES, VIEW_RULES);
