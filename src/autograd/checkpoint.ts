/**
 * Gradient checkpointing (torch.utils.checkpoint): `checkpoint(fn, ...inputs)` runs fn without
 * recording and keeps only the inputs; its one tape node re-runs fn with grad on during
 * backward and backpropagates through the recomputed graph, which is freed as it goes.
 * Memory traded for one more forward of fn.
 *
 * fn's temporaries are disposed when it returns (it runs in its own tidy scope), so only its
 * output outlives the forward. Parameters fn closes over (requiresGrad leaves) receive their
 * gradients during the recompute's backward; the forward runs in probe mode to learn whether
 * any exist, so a node is recorded when an input or a closed-over leaf requires grad. fn must
 * be deterministic (the recompute must see the same values) and return one Tensor.
 */
import { checkInputs } from '../apply.js';
import { TandemError } from '../errors.js';
import { tidy } from '../lifetime.js';
import { Tensor } from '../tensor.js';
import { type GradRule, RULES, record, state, withGradMode } from './tape.js';

type Fn = (...inputs: Tensor[]) => Tensor;

export function checkpoint(fn: Fn, ...inputs: Tensor[]): Tensor {
  if (typeof fn !== 'function') throw new TandemError(`checkpoint: expects a function, got ${typeof fn}`);
  checkInputs('checkpoint', inputs);
  if (!state.enabled) return fn(...inputs);
  const sawBefore = state.sawGrad;
  state.sawGrad = false;
  let out: Tensor, saw: boolean;
  try {
    out = withGradMode(false, () => tidy(() => fn(...inputs)), true);
  } finally {
    saw = state.sawGrad;
    state.sawGrad = sawBefore || saw;
  }
  if (!(out instanceof Tensor)) throw new TandemError(`checkpoint: fn must return one Tensor, got ${out === null ? 'null' : typeof out}`);
  if (inputs.includes(out)) out = out.view('checkpoint', out.shape, out.strides, out.offset); // fn returned an input as is
  if (saw) record('checkpoint', inputs, out, { fn }, true); // a node even when only closed-over leaves need grad
  return out;
}

/** Recompute fn on detached copies of the inputs with grad on, then backprop g through it. */
const checkpointRule: GradRule<{ fn: Fn }> = {
  save: (inputs) => [...inputs],
  grad(g, { saved, attrs: { fn }, needs }) {
    const xs = saved.map((s, i) => {
      const x = s!.detach();
      x.requiresGrad = needs[i];
      return x;
    });
    const y = withGradMode(true, () => fn(...xs), false);
    if (!(y instanceof Tensor) || y.shape.join() !== g.shape.join()) throw new TandemError('checkpoint: fn returned a different result when recomputed; it must be deterministic');
    if (y.gradFn !== null) y.backward(g);
    return xs.map((x) => {
      const gx = x.grad;
      x.grad = null; // taken over by the engine, not disposed with x
      return gx;
    });
  },
};

RULES.checkpoint = checkpointRule;
