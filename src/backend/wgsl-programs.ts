/**
 * GPU kernels as pure functions: a kernel's params in, a program out (the WGSL source, entry
 * point, grid and uniform words). The pipeline cache keys on `key`, a descriptor derived from
 * everything that changes the code, never on shapes, so one pipeline serves every shape.
 */
import { WGSL } from '../gen/wgsl.js';
import { BINARY, UNARY } from '../ops/elementwise-spec.js';
import { DeviceError } from '../errors.js';
import type { KernelName, KernelParams, ReduceOp } from './backend.js';
import type { DescribeIndexError } from './gpu-index-errors.js';
import { OPS_PROGRAMS, argReduce } from './wgsl-ops.js';
import { CONV_PROGRAMS } from './wgsl-conv.js';
import type { ConvDriverKernel } from './conv-driver.js';
import { type TileLimits, matmulProgram } from './wgsl-matmul.js';
import { floatIO, floatStorage, withHalf } from './wgsl-half.js';
import { type GroupFold, groupVariant, maxFold, minFold, sumFold, withGroupFolds } from './wgsl-group.js';

export interface Program {
  /** Everything the generated code depends on; JSON of it is the pipeline cache key. */
  key: Record<string, string | number>;
  code: string;
  entry: string;
  grid: [number, number, number];
  uniforms: Uint32Array;
  /** Set by kernels that index by data: the backend binds a flag buffer last (gpu-index-errors.ts). */
  indexError?: DescribeIndexError;
  /**
   * A program with the same result and bindings whose pipeline compiles much faster: while
   * this one's pipeline is not compiled yet, the backend runs the fallback and compiles this
   * one in the background (the matmul ladder's naive rung for small products).
   */
  fallback?: Program;
}

/** A kernel over strided operands with the shared index arithmetic (kernels/strided.wgsl) appended. */
export const strided = (code: string): string => `${code}\n${WGSL.strided}`;

/**
 * A program whose code is spliced on first read. run() derives a program on every call, but
 * the backend reads `code` only to compile a key it has not seen, so templates are not
 * re-spliced on the dispatch path.
 */
export function lazyCode(prog: Omit<Program, 'code'>, build: () => string): Program {
  return Object.defineProperty(prog, 'code', { get: build, enumerable: true }) as Program;
}

/**
 * The adapter limits programs size their grids and tiles by (absent tile fields: core
 * minimums), whether f16 operands may use native f16 storage (the device has shader-f16
 * and the runtime's WGSL front end accepts `enable f16`; wgsl-half.ts), and whether the row
 * kernels' group folds may use subgroup operations (likewise for `subgroups`; wgsl-group.ts).
 * Absent flags mean no; a backend may turn `subgroups` off to run the workgroup tree instead.
 */
export interface GridLimits { maxWorkgroupsPerDim: number; tile?: Partial<TileLimits>; nativeF16?: boolean; subgroups?: boolean }

/** Spread `groups` workgroups over x, then y, within the per-dimension limit. */
export function grid1d(groups: number, lim: GridLimits): [number, number, number] {
  if (groups <= lim.maxWorkgroupsPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / lim.maxWorkgroupsPerDim);
  return [Math.ceil(groups / y), y, 1];
}

const WG = 256;

/** Identity, fold and row group fold of each reduction the WGSL reduce kernel implements. */
const REDUCE_WGSL: Partial<Record<ReduceOp, { identity: number; combine: string; group: GroupFold }>> = {
  sum: { identity: 0, combine: 'a + b', group: sumFold('groupFold') },
  mean: { identity: 0, combine: 'a + b', group: sumFold('groupFold') },
  max: { identity: -Infinity, combine: 'max(a, b)', group: maxFold('groupFold', 'P.identity') },
  min: { identity: Infinity, combine: 'min(a, b)', group: minFold('groupFold', 'P.identity') },
};
const splice = (tmpl: string, expr: string) => tmpl.replaceAll('{{EXPR}}', expr);

// The convolutions are drivers over several programs (conv-driver.ts), not one program.
type Programs = { [K in Exclude<KernelName, ConvDriverKernel>]: (p: KernelParams[K], lim: GridLimits) => Program };

/**
 * Programs for every kernel of the seam (`satisfies Programs` proves none is missing); those
 * beyond elementwise, reduce, matmul and copy come from wgsl-ops.ts. A program may still refuse
 * a params combination it has no code for with a DeviceError naming it.
 */

export const PROGRAMS = {
  ...OPS_PROGRAMS,
  ...CONV_PROGRAMS,
  binary({ op, shape, aStrides, bStrides, dtype }, lim) {
    const total = shape.reduce((x, y) => x * y, 1);
    const u = new Uint32Array(4 + 3 * 8);
    u[0] = shape.length;
    u[1] = total;
    u.set(shape, 4);
    u.set(aStrides, 12);
    u.set(bStrides, 20);
    const s = floatStorage(dtype, lim.nativeF16), per = s === 'f32' ? 1 : 2;
    const code = () => withHalf(s, strided(splice(WGSL.binary, BINARY[op].wgsl).replace('{{IO}}', floatIO(s, [['A', 0], ['B', 1]], ['Out', 2]))));
    return lazyCode({ key: { kernel: 'binary', op, storage: s }, entry: per === 1 ? 'main' : 'pairs', grid: grid1d(Math.ceil(total / per / WG), lim), uniforms: u }, code);
  },
  unary({ op, size, dtype }, lim) {
    // f16: one invocation per output word (two halves), so whole words are written at once.
    const s = floatStorage(dtype, lim.nativeF16), per = s === 'f32' ? 1 : 2;
    const code = () => withHalf(s, splice(WGSL.unary, UNARY[op].wgsl).replace('{{IO}}', floatIO(s, [['X', 0]], ['Out', 1])));
    return lazyCode({ key: { kernel: 'unary', op, storage: s }, entry: per === 1 ? 'main' : 'pairs', grid: grid1d(Math.ceil(size / per / WG), lim), uniforms: new Uint32Array([size, 0, 0, 0]) }, code);
  },
  reduce({ op, outer, reduce, inner, dtype }, lim) {
    if (op === 'argmax' || op === 'argmin') return argReduce({ op, outer, reduce, inner }, lim);
    const fold = REDUCE_WGSL[op];
    if (!fold) throw new DeviceError(`gpu: ${op} is not implemented on gpu yet`);
    const uniforms = new Uint32Array([outer, reduce, inner, 0, 0, 0, 0, 0]);
    const asF32 = new Float32Array(uniforms.buffer);
    asF32[3] = op === 'mean' ? reduce : 1;
    asF32[4] = fold.identity;
    const s = floatStorage(dtype, lim.nativeF16);
    // cols folds within one invocation: its module gets the tree fold (unused), so one
    // pipeline serves every device.
    const group = inner === 1 ? groupVariant(lim.subgroups) : 'tree';
    const code = () => withHalf(s, withGroupFolds(group, WGSL.reduce.replaceAll('{{COMBINE}}', fold.combine).replace('{{IO}}', floatIO(s, [['X', 0]], ['Out', 1])), [fold.group]));
    const kind = op === 'mean' ? 'sum' : op; // mean is sum with a divisor: one pipeline
    if (inner === 1) return lazyCode({ key: { kernel: 'reduce', op: kind, entry: 'rows', storage: s, group }, entry: 'rows', grid: grid1d(outer, lim), uniforms }, code);
    return lazyCode({ key: { kernel: 'reduce', op: kind, entry: 'cols', storage: s }, entry: 'cols', grid: grid1d(Math.ceil((outer * inner) / WG), lim), uniforms }, code);
  },
  // The ladder and its choice of rung by shape live in wgsl-matmul.ts.
  matmul: (p, lim) => matmulProgram(p, lim),
  copy({ itemBytes, shape, srcStrides, dstStrides, srcOffset, dstOffset }, lim) {
    const total = shape.reduce((x, y) => x * y, 1);
    const u = new Uint32Array(4 + 3 * 8 + 4);
    u[28] = itemBytes; // 1- and 2-byte items go through packed words (kernels/copy_bytes.wgsl)
    u.set([shape.length, total, srcOffset, dstOffset]);
    u.set(shape, 4);
    u.set(srcStrides, 12);
    u.set(dstStrides, 20);
    const kernel = itemBytes === 4 ? 'copy' : 'copy_bytes';
    return lazyCode({ key: { kernel }, entry: 'main', grid: grid1d(Math.ceil(total / WG), lim), uniforms: u }, () => strided(WGSL[kernel]));
  },
} satisfies Programs;

export const GPU_KERNELS: ReadonlySet<string> = new Set(Object.keys(PROGRAMS));
