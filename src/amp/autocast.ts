/**
 * Autocast (torch.autocast for f16): an op-level dtype policy that apply() consults through a
 * hook (src/apply.ts) while a region is open, and not at all otherwise. Inside the region:
 *   - F16 ops (matmul, linear): f32 inputs are cast to f16; the kernels read halves and
 *     accumulate in f32 (the f16 matmul contract in src/backend/backend.ts).
 *   - F32 ops (softmax, log-softmax, layer norm, cross-entropy, reductions, exp/log/pow, where,
 *     and conv2d, whose im2col + GEMM driver has no f16 path yet: halves would only add two
 *     roundings): f16 inputs are cast to f32, so they compute and return f32.
 *   - Any other op whose float inputs mix f16 and f32 gets its f16 inputs cast to f32 (outside
 *     autocast Tandem refuses the mix rather than promote).
 * Casts are ordinary `cast` ops made through apply(), so autograd records them and gradients
 * flow back through them to the f32 parameters (as f32). The dispatcher disposes the cast
 * copies right after the op (the tape keeps its own handles of what it saved).
 * Parameters stay f32: the f16 copies are made per use (PyTorch caches weight casts per region;
 * Tandem does not yet).
 */
import { apply, setCastHook } from '../apply.js';
import { TandemError } from '../errors.js';
import type { Tensor } from '../tensor.js';

const F16_OPS: ReadonlySet<string> = new Set(['matmul', 'linear']);
const F32_OPS: ReadonlySet<string> = new Set([
  'conv2d', 'softmaxLast', 'layerNorm', 'crossEntropy', 'sum', 'mean', 'max', 'min', 'argmax', 'argmin',
  'exp', 'log', 'pow', 'rsqrt', 'where',
]);

export interface AutocastOptions { dtype?: 'f16'; enabled?: boolean }

let depth = 0;

function castAll(inputs: Tensor[], from: 'f32' | 'f16', to: 'f32' | 'f16'): Tensor[] | null {
  let out: Tensor[] | null = null;
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].dtype !== from) continue;
    out ??= inputs.slice();
    out[i] = apply('cast', [inputs[i]], { dtype: to });
  }
  return out;
}

/** The policy: replacement inputs for `op`, or null to run it as it is. */
export function autocastInputs(op: string, inputs: Tensor[]): Tensor[] | null {
  if (op === 'cast') return null;
  if (F16_OPS.has(op)) return castAll(inputs, 'f32', 'f16');
  if (F32_OPS.has(op)) return castAll(inputs, 'f16', 'f32');
  let f16 = false, f32 = false;
  for (const t of inputs) { f16 ||= t.dtype === 'f16'; f32 ||= t.dtype === 'f32'; }
  return f16 && f32 ? castAll(inputs, 'f16', 'f32') : null;
}

/** True inside an enabled autocast region. */
export const isAutocastEnabled = (): boolean => depth > 0;

/**
 * Run fn with the f16 autocast policy on (or off, with enabled: false, inside a region).
 * fn must be synchronous: the region ends when it returns. Regions nest.
 */
export function autocast<R>(opts: AutocastOptions, fn: () => R): R {
  if (typeof fn !== 'function') throw new TandemError(`autocast: expects (options, fn), got a ${typeof fn} for fn`);
  const dtype = opts?.dtype ?? 'f16';
  if (dtype !== 'f16') throw new TandemError(`autocast: dtype must be 'f16', got ${JSON.stringify(dtype)}`);
  const on = opts?.enabled ?? true;
  const outer = depth;
  depth = on ? depth + 1 : 0;
  setCastHook(depth > 0 ? autocastInputs : null);
  try {
    const r = fn();
    if (r !== null && typeof (r as { then?: unknown })?.then === 'function') {
      throw new TandemError('autocast: fn returned a Promise; the region only covers synchronous code');
    }
    return r;
  } finally {
    depth = outer;
    setCastHook(depth > 0 ? autocastInputs : null);
  }
}
