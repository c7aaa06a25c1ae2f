/**
 * The checkpointing experiment shared by tests/autograd-checkpoint.test.ts (small, every
 * runtime) and tests/autograd-checkpoint.node.test.ts (the size, Node only): an MLP of
 * `layers` relu layers h -> relu(h @ w^T + b), trained one step with and without
 * T.checkpoint around every layer. Returns the peak bytes above the baseline and the grads.
 *
 * Why the plain run holds more: everything an eager forward makes inside a tidy scope lives
 * until the scope ends (matmul's output, the biased sum, the relu), three activations per
 * layer; checkpointed, a layer's temporaries are disposed when it returns and only its output
 * (the next layer's saved input) stays, and backward recomputes one layer at a time.
 */
import * as T from '../src/index.ts';
import { randomData } from './harness.ts';

export interface Run { peak: number; grads: Float32Array[]; loss: number }

export async function mlpStep(device: T.Device, layers: number, width: number, batch: number, checkpointed: boolean): Promise<Run> {
  const params = Array.from({ length: layers }, (_, i) => {
    const w = T.tidy(() => T.mul(T.tensor(randomData(width * width, 100 + i), [width, width], { device }), T.tensor([1 / Math.sqrt(width)], [1], { device })));
    const b = T.tensor(randomData(width, 200 + i).map((v) => v * 0.1), [width], { device });
    w.requiresGrad = b.requiresGrad = true;
    return [w, b] as const;
  });
  const x = T.tensor(randomData(batch * width, 7), [batch, width], { device });
  const layer = (w: T.Tensor, b: T.Tensor) => (h: T.Tensor) => T.relu(T.add(T.matmul(h, w, { transposeB: true }), b));
  T.resetPeak();
  const stats = () => (device === 'gpu' ? T.memoryStats().gpu! : T.memoryStats().cpu);
  const base = stats().bytesInUse;
  const loss = T.tidy(() => {
    let h = x;
    for (const [w, b] of params) h = checkpointed ? T.checkpoint(layer(w, b), h) : layer(w, b)(h);
    const l = T.mean(h);
    l.backward();
    return l.detach();
  });
  const peak = stats().peakBytesInUse - base;
  const grads = await Promise.all(params.flatMap(([w, b]) => [w.grad!.data(), b.grad!.data()]));
  const lossValue = (await loss.data())[0];
  loss.dispose();
  x.dispose();
  params.forEach(([w, b]) => { w.dispose(); b.dispose(); });
  return { peak, grads, loss: lossValue };
}

/** Largest |a - b| / max(|b|, tiny) over all gradients. */
export function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  let worst = 0;
  a.forEach((g, i) => g.forEach((v, j) => {
    const r = Math.abs(v - b[i][j]) / Math.max(Math.abs(b[i][j]), 1e-30);
    worst = Math.max(worst, v === b[i][j] ? 0 : r);
  }));
  return worst;
}
