/**
 * Neural-network ops built on the table rows: softmax along any axis (through a view that
 * moves the axis last), layer norm, cross-entropy with a reduction, and index ops. Each takes
 * PyTorch's arguments in camelCase.
 */
import { apply } from '../apply.js';
import { checkShape, normAxis } from '../dtype.js';
import { TandemError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { permute } from './views.js';

function softmaxAlong(x: Tensor, axis: number, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  if (x?.rank === 0) return apply('softmaxLast', [x], { log });
  const ax = normAxis(axis, x.rank, op);
  if (ax === x.rank - 1) return apply('softmaxLast', [x], { log });
  // Move the axis last (a view), normalise rows, and move it back (a view of the result).
  const perm = x.shape.map((_, i) => i).filter((i) => i !== ax).concat(ax);
  const inv = perm.map((_, i) => perm.indexOf(i));
  const moved = permute(x, perm);
  const y = apply('softmaxLast', [moved], { log });
  const out = permute(y, inv);
  moved.dispose();
  y.dispose();
  return out;
}

/** exp(x) / sum(exp(x)) along an axis (last by default), computed stably. */
export const softmax = (x: Tensor, axis = -1): Tensor => softmaxAlong(x, axis, false);
/** log(softmax(x)) along an axis, computed as x - logsumexp(x). */
export const logSoftmax = (x: Tensor, axis = -1): Tensor => softmaxAlong(x, axis, true);

export interface LayerNormOptions { weight?: Tensor; bias?: Tensor; eps?: number }

/** Normalise over the trailing `normalizedShape` dims, then scale by weight and shift by bias. */
export function layerNorm(x: Tensor, normalizedShape: number | readonly number[], opts: LayerNormOptions = {}): Tensor {
  const normalized = checkShape(typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape, 'layerNorm');
  const eps = opts.eps ?? 1e-5;
  if (!(eps >= 0)) throw new TandemError(`layerNorm: eps must be >= 0, got ${eps}`);
  const inputs = [x, ...(opts.weight ? [opts.weight] : []), ...(opts.bias ? [opts.bias] : [])];
  return apply('layerNorm', inputs, { normalized, eps, weight: !!opts.weight, bias: !!opts.bias });
}

export interface CrossEntropyOptions { reduction?: 'mean' | 'sum' | 'none'; labelSmoothing?: number }

/** Cross-entropy of logits [N, C] against i32 class labels [N] (PyTorch's cross_entropy). */
export function crossEntropy(logits: Tensor, labels: Tensor, opts: CrossEntropyOptions = {}): Tensor {
  const reduction = opts.reduction ?? 'mean';
  const smoothing = opts.labelSmoothing ?? 0;
  if (!['mean', 'sum', 'none'].includes(reduction)) throw new TandemError(`crossEntropy: reduction must be 'mean', 'sum' or 'none', got ${JSON.stringify(reduction)}`);
  if (!(smoothing >= 0 && smoothing <= 1)) throw new TandemError(`crossEntropy: labelSmoothing must be in [0, 1], got ${smoothing}`);
  const perRow = apply('crossEntropy', [logits, labels], { smoothing });
  if (reduction === 'none') return perRow;
  const out = apply(reduction, [perRow], {});
  perRow.dispose();
  return out;
}

/** Slices of t along an axis picked by i32 indices (PyTorch's index_select; indices may be any shape). */
export const indexSelect = (t: Tensor, axis: number, indices: Tensor): Tensor => apply('gather', [t, indices], { axis });

/** Rows of weight [V, D] picked by i32 indices of any shape: [...indices.shape, D]. */
export function embedding(indices: Tensor, weight: Tensor): Tensor {
  if (weight?.rank !== 2) throw new TandemError(`embedding: weight must be [numEmbeddings, dim], got rank ${weight?.rank}`);
  return apply('gather', [weight, indices], { axis: 0 });
}

/** [...indices.shape, numClasses] with 1 at each index: i32 by default, or f32. */
export function oneHot(indices: Tensor, numClasses: number, opts: { dtype?: 'i32' | 'f32' } = {}): Tensor {
  const dtype = opts.dtype ?? 'i32';
  if (dtype !== 'i32' && dtype !== 'f32') throw new TandemError(`oneHot: dtype must be 'i32' or 'f32', got ${JSON.stringify(dtype)}`);
  return apply('oneHot', [indices], { classes: numClasses, dtype });
}

