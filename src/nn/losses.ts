/**
 * Losses (torch.nn.functional) from the ops, each with reduction 'mean' (default), 'sum' or
 * 'none'. Intermediates are freed at once (the tape keeps what backward needs). Under autocast they compute in f32 (f16 inputs are cast), as PyTorch's do.
 * crossEntropy is the fused kernel of src/ops/nn.ts.
 */
import { apply } from '../apply.js';
import { tensor } from '../create.js';
import { tidy } from '../lifetime.js';
import { ShapeError, TandemError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { isAutocastEnabled } from '../amp/autocast.js';

export { crossEntropy, type CrossEntropyOptions } from '../ops/nn.js';

export type Reduction = 'mean' | 'sum' | 'none';

function reduce(op: string, x: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (reduction === 'none') return x;
  if (reduction !== 'mean' && reduction !== 'sum') throw new TandemError(`${op}: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  return apply(reduction, [x], {});
}

function f32Pair(op: string, a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (a?.shape?.join() !== b?.shape?.join()) throw new ShapeError(`${op}: input [${a?.shape}] and target [${b?.shape}] must have the same shape`);
  const up = (t: Tensor) => (isAutocastEnabled() && t.dtype === 'f16' ? apply('cast', [t], { dtype: 'f32' }) : t);
  return [up(a), up(b)];
}

/** mean((input - target)^2) (mse_loss). */
export function mseLoss(input: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return tidy(() => mse(input, target, opts.reduction));
}
function mse(input: Tensor, target: Tensor, reduction?: Reduction): Tensor {
  const [x, y] = f32Pair('mseLoss', input, target);
  const d = apply('sub', [x, y]);
  return reduce('mseLoss', apply('mul', [d, d]), reduction);
}

/**
 * Binary cross-entropy of logits x against targets y in [0, 1]
 * (binary_cross_entropy_with_logits), in the stable form max(x, 0) - x y + log(1 + e^-|x|):
 * no exp of a large positive number, so logits of any size give a finite loss.
 */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, opts: { reduction?: Reduction } = {}): Tensor {
  return tidy(() => bce(logits, target, opts.reduction));
}
function bce(logits: Tensor, target: Tensor, reduction?: Reduction): Tensor {
  const [x, y] = f32Pair('binaryCrossEntropyWithLogits', logits, target);
  const one = tensor([1], [], { device: x.device, dtype: x.dtype });
  const softplusNegAbs = apply('log', [apply('add', [one, apply('exp', [apply('neg', [apply('abs', [x])])])])]);
  const loss = apply('add', [apply('sub', [apply('relu', [x]), apply('mul', [x, y])]), softplusNegAbs]);
  return reduce('binaryCrossEntropyWithLogits', loss, reduction);
}
