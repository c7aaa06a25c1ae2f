/**
 * Shape rules of the matrix products (`matmul`, `linear`) and their plan: one `matmul` kernel
 * call (backend.ts KernelParams['matmul']).
 *
 * Semantics are PyTorch's torch.matmul: operands of rank >= 2 are stacks of matrices whose
 * batch dimensions (all but the last two) broadcast; a 1-D first operand [k] is a row vector
 * (its dimension dropped from the result), a 1-D second operand [k] a column vector (likewise);
 * two 1-D operands give their dot product as a 0-D tensor. transposeA / transposeB swap the
 * last two dimensions of that operand (a free relayout for the kernels: they transpose while
 * packing); a 1-D operand has nothing to swap and ignores its flag, as NumPy's v.T does.
 *
 * When B has no batch of its own and A is not transposed, A's batch dims are folded into the
 * row count (one [batch*m, k] @ [k, n] product), so the kernel packs B once, not per batch.
 */
import { ShapeError, TandemError } from '../errors.js';
import { type Shape, fmtShape, numel } from '../dtype.js';
import type { KernelParams } from '../backend/backend.js';
import { ACTIVATIONS, type Activation } from './activation.js';
import { collapseBroadcast } from './broadcast.js';

export interface MatmulAttrs {
  transposeA?: boolean;
  transposeB?: boolean;
  /** Fused epilogue activation (T.linear's option). */
  activation?: Activation;
  /** @internal The user-facing op name for messages ('matmul' or 'linear'). */
  name?: string;
}

export interface MatmulPlan { shape: number[]; kernel: 'matmul'; params: KernelParams['matmul'] }

export function planMatmul(a: Shape, b: Shape, attrs: MatmulAttrs, bias: Shape | null): MatmulPlan {
  const op = attrs.name ?? 'matmul';
  const activation = attrs.activation ?? 'none';
  if (!Object.hasOwn(ACTIVATIONS, activation)) {
    throw new TandemError(`${op}: unknown activation ${JSON.stringify(activation)}; supported: ${Object.keys(ACTIVATIONS).join(', ')}`);
  }
  if (a.length === 0 || b.length === 0) {
    throw new ShapeError(`${op}: operands need at least one dimension, got ${fmtShape(a)} and ${fmtShape(b)}`);
  }
  const tA = !!attrs.transposeA && a.length >= 2, tB = !!attrs.transposeB && b.length >= 2;
  const [m, ka] = a.length === 1 ? [1, a[0]] : tA ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
  const [kb, n] = b.length === 1 ? [b[0], 1] : tB ? [b[b.length - 1], b[b.length - 2]] : [b[b.length - 2], b[b.length - 1]];
  const desc = (s: Shape, t: boolean, which: string) => `${fmtShape(s)}${t ? ` (${which} transposed)` : ''}`;
  if (ka !== kb) {
    throw new ShapeError(`${op}: inner dimensions differ: ${desc(a, tA, 'first')} @ ${desc(b, tB, 'second')} (${ka} vs ${kb})`);
  }
  const aBatch = a.slice(0, -2), bBatch = b.slice(0, -2);
  const batch = broadcastBatch(aBatch, bBatch, a, b, op);
  const shape = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  if (bias !== null && (bias.length !== 1 || bias[0] !== n)) {
    throw new ShapeError(`${op}: bias must have shape [${n}] (one value per output column), got ${fmtShape(bias)}`);
  }
  const common = { k: ka, n, transposeA: tA, transposeB: tB, bias: bias !== null, activation };
  if (numel(bBatch) === 1 && !tA) {
    return { shape, kernel: 'matmul', params: { ...common, m: m * numel(batch) } };
  }
  const c = collapseBroadcast(batch, aBatch, bBatch);
  return {
    shape, kernel: 'matmul',
    params: { ...common, m, batchShape: c.shape, aBatchStrides: c.aStrides.map((s) => s * m * ka), bBatchStrides: c.bStrides.map((s) => s * ka * n) },
  };
}

function broadcastBatch(x: Shape, y: Shape, a: Shape, b: Shape, op: string): number[] {
  const rank = Math.max(x.length, y.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const dx = x[x.length - rank + i] ?? 1, dy = y[y.length - rank + i] ?? 1;
    if (dx !== dy && dx !== 1 && dy !== 1) {
      throw new ShapeError(`${op}: batch dimensions of ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast (${dx} vs ${dy})`);
    }
    out.push(dx === 1 ? dy : dx);
  }
  return out;
}

/** T.linear(x, w, bias): x [..., in] @ w[out, in]^T + bias[out], w 2-D as in torch.nn.functional.linear. */
export function planLinear(x: Shape, w: Shape, bias: Shape | null, activation: Activation | undefined): MatmulPlan {
  if (w.length !== 2) throw new ShapeError(`linear: weight must be 2-D [out, in], got ${fmtShape(w)}`);
  if (x.length === 0) throw new ShapeError('linear: input needs at least one dimension, got []');
  return planMatmul(x, w, { transposeB: true, activation, name: 'linear' }, bias);
}
