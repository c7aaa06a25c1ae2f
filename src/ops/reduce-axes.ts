/**
 * Reductions over several axes at once (`T.sum(x, [0, 2])`, torch's `dim=(0, 2)`), composed
 * from the one-axis kernel: the axes are grouped into runs of adjacent axes, each run is merged
 * into one axis by a reshape (a free view of a contiguous tensor) and reduced by one kernel
 * call, last run first. sum/max/min compose exactly in meaning; mean is a mean of means over
 * equal-sized groups, which is the mean. Intermediates are disposed here, so this is safe
 * inside and outside tidy(). argmax/argmin take one axis (as in PyTorch).
 */
import { apply } from '../apply.js';
import { normAxis } from '../dtype.js';
import { ShapeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { reshape } from './views.js';

export type MultiReduceOp = 'sum' | 'mean' | 'max' | 'min';

export function reduceAxes(op: MultiReduceOp, x: Tensor, axes: readonly number[], keepDims: boolean): Tensor {
  const rank = x.shape.length;
  const norm = axes.map((a) => normAxis(a, rank, op));
  if (norm.length === 0) throw new ShapeError(`${op}: an empty axis list; omit axis to reduce over every element`);
  const sorted = [...norm].sort((a, b) => a - b);
  const dup = sorted.find((a, i) => i > 0 && sorted[i - 1] === a);
  if (dup !== undefined) throw new ShapeError(`${op}: axis ${dup} appears more than once in [${axes.join(', ')}]`);
  // Runs [lo, hi] of adjacent axes, reduced from the last so earlier axis numbers stay valid.
  const runs: [number, number][] = [];
  for (const a of sorted) {
    const last = runs[runs.length - 1];
    if (last && last[1] === a - 1) last[1] = a;
    else runs.push([a, a]);
  }
  const kept = [...x.shape];
  let t = x;
  for (const [lo, hi] of runs.reverse()) {
    const extent = kept.slice(lo, hi + 1).reduce((p, d) => p * d, 1);
    const merged = hi > lo ? reshape(t, [...kept.slice(0, lo), extent, ...kept.slice(hi + 1)]) : t;
    let next: Tensor;
    try {
      next = apply(op, [merged], { axis: lo, keepDims: true });
    } finally {
      if (merged !== t) merged.dispose();
      if (t !== x) t.dispose();
    }
    kept.splice(lo, hi - lo + 1, ...new Array<number>(hi - lo + 1).fill(1));
    t = hi > lo ? reshapeOwned(next, kept) : next;
  }
  return keepDims ? t : reshapeOwned(t, kept.filter((_, i) => !sorted.includes(i)));
}

/** A reshaped view of a tensor this module owns; the original handle is disposed. */
function reshapeOwned(t: Tensor, shape: number[]): Tensor {
  try {
    return reshape(t, shape);
  } finally {
    t.dispose();
  }
}
