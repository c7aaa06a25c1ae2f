/**
 * Gradient clipping by global norm (torch.nn.utils.clip_grad_norm_): the 2-norm of all grads
 * taken together; when it exceeds maxNorm every grad is scaled by maxNorm / (norm + 1e-6).
 * Computed with ops and no readback: per device, the sum of squares of its grads; the partial
 * sums meet on the first grad's device; the clip coefficient min(1, maxNorm / (norm + 1e-6))
 * stays a tensor (as PyTorch's clip_coef_clamped) and multiplies each grad on its own device.
 * Each grad is replaced by the clipped one (the old grad is disposed; the new one is kept out
 * of tidy scopes like the grads backward() makes).
 */
import { apply } from '../apply.js';
import { tensor } from '../create.js';
import { TandemError } from '../errors.js';
import { keep, tidy } from '../lifetime.js';
import { copyTo } from '../sched/stream.js';
import type { Tensor } from '../tensor.js';
import type { DeviceKind } from '../backend/backend.js';

const scalar = (v: number, device: DeviceKind): Tensor => tensor([v], [], { device });

/** Clip the grads of `params` in place to a global 2-norm of at most maxNorm; returns the norm before clipping (a scalar f32 tensor). */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (typeof maxNorm !== 'number' || !(maxNorm >= 0)) throw new TandemError(`clipGradNorm: maxNorm must be a number >= 0, got ${String(maxNorm)}`);
  const withGrad = [...params].filter((p) => p.grad !== null);
  if (withGrad.length === 0) return tensor([0], []);
  const home = withGrad[0].grad!.device;
  const total = tidy(() => {
    let sq: Tensor | null = null;
    for (const p of withGrad) {
      const g = p.grad!;
      const flat = apply('sum', [apply('mul', [g, g])]);
      const here = flat.device === home ? flat : copyTo(flat, home, 'clipGradNorm');
      sq = sq === null ? here : apply('add', [sq, here]);
    }
    return apply('sqrt', [sq!]);
  });
  const coef = tidy(() => apply('minimum', [apply('div', [scalar(maxNorm, home), apply('add', [total, scalar(1e-6, home)])]), scalar(1, home)]));
  const onDevice = new Map<DeviceKind, Tensor>([[home, coef]]);
  for (const p of withGrad) {
    const g = p.grad!;
    let c = onDevice.get(g.device);
    if (!c) onDevice.set(g.device, (c = copyTo(coef, g.device, 'clipGradNorm')));
    p.grad = keep(apply('mul', [g, c]));
    g.dispose();
  }
  for (const c of onDevice.values()) c.dispose();
  return total;
}
