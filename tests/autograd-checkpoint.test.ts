/**
 * T.checkpoint: gradients equal to the plain run's, a lower peak, parameters closed over by fn
 * get their gradients, inputs' gradients flow through, and no tensor outlives the step.
 * The issue's size (16 layers, width 256, batch 4096) is tests/autograd-checkpoint.node.test.ts.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as T from '../src/index.ts';
import { gradcheck } from '../src/autograd/gradcheck.ts';
import { RUNTIME, randomData } from './harness.ts';
import { maxRelDiff, mlpStep } from './checkpoint-mlp.ts';

test(`${RUNTIME}: checkpoint: a 16-layer MLP (width 32, batch 256) has the plain run's gradients and a peak at most half`, async () => {
  const live = T.memoryStats().cpu.liveTensors;
  const plain = await mlpStep('cpu', 16, 32, 256, false);
  const ckpt = await mlpStep('cpu', 16, 32, 256, true);
  assert.is(ckpt.loss, plain.loss);
  const rel = maxRelDiff(ckpt.grads, plain.grads);
  assert.ok(rel <= 1e-6, `grads differ by ${rel} relative`);
  assert.ok(plain.grads.every((g) => g.some((v) => v !== 0)), 'every parameter got a gradient');
  assert.ok(ckpt.peak <= 0.5 * plain.peak, `peak ${ckpt.peak} B checkpointed vs ${plain.peak} B plain`);
  assert.is(T.memoryStats().cpu.liveTensors, live, 'nothing outlives the steps');
});

test(`${RUNTIME}: checkpoint: gradients of inputs and closed-over leaves match central differences`, async () => {
  const w = T.tensor(randomData(6, 3), [3, 2], { device: 'ref' });
  w.requiresGrad = true;
  // Input gradients through a checkpointed composite.
  const r = await gradcheck((x, v) => T.checkpoint((a, b) => T.tanh(T.matmul(T.exp(a), b)), x, v), [
    { data: randomData(8, 1), shape: [4, 2] }, { data: randomData(6, 2), shape: [2, 3] },
  ]);
  assert.is(r.failure, null);
  // A closed-over leaf whose input needs no grad: the node is still recorded.
  const x = T.tensor(randomData(12, 4), [4, 3], { device: 'ref' });
  T.tidy(() => T.sum(T.checkpoint((a) => T.relu(T.matmul(a, w)), x)).backward());
  const viaCkpt = await w.grad!.data();
  w.grad!.dispose();
  w.grad = null;
  T.tidy(() => T.sum(T.relu(T.matmul(x, w))).backward());
  assert.equal([...viaCkpt], [...await w.grad!.data()]);
  // No parameter and no input needing grad: a plain no-grad result.
  const y = T.checkpoint((a) => T.exp(a), x);
  assert.not.ok(y.requiresGrad);
  [w, x, y].forEach((t) => t.dispose());
});

test.run();
