/**
 * The elementwise spec table: one row per op, the single source for every engine.
 * - `ref` is the reference (plain TypeScript, f64) used as the test oracle;
 * - `wgsl` is an f32 expression in `a` (and `b`), spliced into the WGSL templates;
 * - `as` / `asV` are the scalar and f32x4 AssemblyScript expressions that
 *   scripts/gen-assembly.ts stamps into assembly/gen/elementwise.ts at build time. They may call
 *   `math.*` (assembly/math.ts), which the generated file imports.
 * Quirk: relu keeps NaN (PyTorch does), so it is written as a select on `a < 0`, never max().
 *
 * Special values are a CPU contract (WGSL lets implementations assume no NaN or infinity), and
 * WGSL's exp/log/tanh/pow/inverseSqrt are not correctly rounded, so GPU results of those are
 * tested with a tolerance (tests/elementwise.test.ts).
 */
export interface UnarySpec {
  ref(a: number): number;
  wgsl: string;
  as: string;
  asV: string;
}
export interface BinarySpec {
  ref(a: number, b: number): number;
  wgsl: string;
  as: string;
  asV: string;
}
/** f32 x f32 -> bool. `wgsl` is a bool expression in a and b; `asV` yields an all-ones lane mask. */
export interface CompareSpec {
  ref(a: number, b: number): boolean;
  wgsl: string;
  as: string;
  asV: string;
}

/** 1 / (1 + e^-z), written so that neither branch overflows (f64 here, f32 in the kernels). */
const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

// GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), is x * sigmoid(2u);
// the sigmoid form has no cancellation for negative x.
const GELU_C = 2 * Math.sqrt(2 / Math.PI);
const geluWgslZ = '(1.5957691 * (a + 0.044715 * a * a * a))';
/** WGSL sigmoid of an expression, evaluated so that exp never sees a large positive argument. */
const wgslSigmoid = (z: string) => `select(1.0 / (1.0 + exp(-${z})), exp(${z}) / (1.0 + exp(${z})), ${z} < 0.0)`;

export const UNARY = {
  relu: {
    ref: (a) => (a < 0 ? 0 : a),
    wgsl: 'select(a, 0.0, a < 0.0)',
    as: 'a < 0 ? <f32>0 : a',
    asV: 'v128.bitselect(f32x4.splat(0), a, f32x4.lt(a, f32x4.splat(0)))',
  },
  neg: { ref: (a) => -a, wgsl: '-a', as: '-a', asV: 'f32x4.neg(a)' },
  abs: { ref: Math.abs, wgsl: 'abs(a)', as: 'abs<f32>(a)', asV: 'f32x4.abs(a)' },
  sqrt: { ref: Math.sqrt, wgsl: 'sqrt(a)', as: 'sqrt<f32>(a)', asV: 'f32x4.sqrt(a)' },
  /** 1 / sqrt(x): two correctly rounded steps, so within 1 ulp; rsqrt(-0) = -Inf as in PyTorch. */
  rsqrt: { ref: (a) => 1 / Math.sqrt(a), wgsl: 'inverseSqrt(a)', as: '<f32>1 / sqrt<f32>(a)', asV: 'f32x4.div(f32x4.splat(1), f32x4.sqrt(a))' },
  exp: { ref: Math.exp, wgsl: 'exp(a)', as: 'math.expS(a)', asV: 'math.expV(a)' },
  log: { ref: Math.log, wgsl: 'log(a)', as: 'math.logS(a)', asV: 'math.logV(a)' },
  // WGSL's tanh may be computed as a ratio of exponentials that overflows; past |x| = 10 tanh is 1 in f32.
  tanh: { ref: Math.tanh, wgsl: 'tanh(clamp(a, -10.0, 10.0))', as: 'math.tanhS(a)', asV: 'math.tanhV(a)' },
  sigmoid: { ref: sigmoid, wgsl: wgslSigmoid('a'), as: 'math.sigmoidS(a)', asV: 'math.sigmoidV(a)' },
  /** x * sigmoid(x); silu(-Inf) = NaN (-Inf * 0), as in PyTorch. */
  silu: { ref: (a) => a * sigmoid(a), wgsl: `a * ${wgslSigmoid('a')}`, as: 'math.siluS(a)', asV: 'math.siluV(a)' },
  /** Tanh-form GELU (PyTorch's approximate='tanh'); gelu(-Inf) = NaN (-Inf * 0), as in PyTorch. */
  gelu: { ref: (a) => a * sigmoid(GELU_C * (a + 0.044715 * a * a * a)), wgsl: `a * ${wgslSigmoid(geluWgslZ)}`, as: 'math.geluS(a)', asV: 'math.geluV(a)' },
} satisfies Record<string, UnarySpec>;

/**
 * torch.pow's special cases (C99 pow), which Math.pow does not all share: pow(1, NaN) = 1 and
 * pow(-1, +-Inf) = 1 here, NaN in JavaScript.
 */
const pow = (a: number, b: number): number => (b === 0 || a === 1 || (a === -1 && Math.abs(b) === Infinity) ? 1 : Math.pow(a, b));

export const BINARY = {
  add: { ref: (a, b) => a + b, wgsl: 'a + b', as: 'a + b', asV: 'f32x4.add(a, b)' },
  mul: { ref: (a, b) => a * b, wgsl: 'a * b', as: 'a * b', asV: 'f32x4.mul(a, b)' },
  sub: { ref: (a, b) => a - b, wgsl: 'a - b', as: 'a - b', asV: 'f32x4.sub(a, b)' },
  div: { ref: (a, b) => a / b, wgsl: 'a / b', as: 'a / b', asV: 'f32x4.div(a, b)' },
  // NaN in either operand gives NaN (torch.maximum); -0 < +0, as Wasm's max and Math.max order them.
  maximum: { ref: Math.max, wgsl: 'select(max(a, b), a + b, a != a || b != b)', as: 'max<f32>(a, b)', asV: 'f32x4.max(a, b)' },
  minimum: { ref: Math.min, wgsl: 'select(min(a, b), a + b, a != a || b != b)', as: 'min<f32>(a, b)', asV: 'f32x4.min(a, b)' },
  // WGSL's pow is undefined for a < 0 or a = 0: odd integer exponents get their sign here, the
  // rest of the special cases are the CPU's contract.
  pow: {
    ref: pow,
    wgsl: 'select(select(pow(abs(a), b), -pow(abs(a), b), a < 0.0 && fract(0.5 * b) == 0.5), 1.0, b == 0.0 || a == 1.0)',
    as: 'math.powS(a, b)',
    asV: 'math.powV(a, b)',
  },
} satisfies Record<string, BinarySpec>;

/** Comparisons with IEEE semantics: any comparison with NaN is false, except ne, which is true. */
export const COMPARE = {
  eq: { ref: (a, b) => a === b, wgsl: 'a == b', as: 'a == b', asV: 'f32x4.eq(a, b)' },
  ne: { ref: (a, b) => a !== b, wgsl: 'a != b', as: 'a != b', asV: 'f32x4.ne(a, b)' },
  lt: { ref: (a, b) => a < b, wgsl: 'a < b', as: 'a < b', asV: 'f32x4.lt(a, b)' },
  le: { ref: (a, b) => a <= b, wgsl: 'a <= b', as: 'a <= b', asV: 'f32x4.le(a, b)' },
  gt: { ref: (a, b) => a > b, wgsl: 'a > b', as: 'a > b', asV: 'f32x4.gt(a, b)' },
  ge: { ref: (a, b) => a >= b, wgsl: 'a >= b', as: 'a >= b', asV: 'f32x4.ge(a, b)' },
} satisfies Record<string, CompareSpec>;

export type UnaryOp = keyof typeof UNARY;
export type BinaryOp = keyof typeof BINARY;
export type CompareOp = keyof typeof COMPARE;
