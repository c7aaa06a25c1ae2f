/**
 * The elementwise spec table: one row per op, the single source for every engine.
 * - `ref` is the reference (plain TypeScript, f64) used as the test oracle;
 * - `wgsl` is an f32 expression in `a` (and `b`), spliced into the WGSL templates;
 * - `as` / `asV` are the scalar and f32x4 AssemblyScript expressions that
 *   scripts/gen-assembly.ts stamps into assembly/gen/elementwise.ts at build time.
 * Quirk: relu keeps NaN (PyTorch does), so it is written as a select on `a < 0`, never max().
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

export const UNARY = {
  relu: {
    ref: (a) => (a < 0 ? 0 : a),
    wgsl: 'select(a, 0.0, a < 0.0)',
    as: 'a < 0 ? <f32>0 : a',
    asV: 'v128.bitselect(f32x4.splat(0), a, f32x4.lt(a, f32x4.splat(0)))',
  },
} satisfies Record<string, UnarySpec>;

export const BINARY = {
  add: { ref: (a, b) => a + b, wgsl: 'a + b', as: 'a + b', asV: 'f32x4.add(a, b)' },
  mul: { ref: (a, b) => a * b, wgsl: 'a * b', as: 'a * b', asV: 'f32x4.mul(a, b)' },
} satisfies Record<string, BinarySpec>;

export type UnaryOp = keyof typeof UNARY;
export type BinaryOp = keyof typeof BINARY;
