/**
 * The checkpointing claim at its size, Node only (three runtimes would triple a
 * multi-second step): a 16-layer relu MLP, width 256, batch 4096, on the cpu engine. Every
 * layer checkpointed: peak bytes in use at least 50% lower, gradients equal to the plain run's
 * within 1e-6 relative. The measured peaks are printed (see tests/checkpoint-mlp.ts for why).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { maxRelDiff, mlpStep } from './checkpoint-mlp.ts';

test('node: checkpoint: 16-layer MLP, width 256, batch 4096: peak at least 50% lower, same gradients', async () => {
  const plain = await mlpStep('cpu', 16, 256, 4096, false);
  const ckpt = await mlpStep('cpu', 16, 256, 4096, true);
  const rel = maxRelDiff(ckpt.grads, plain.grads);
  console.log(`checkpoint MLP 16x256, batch 4096: peak ${(plain.peak / 2 ** 20).toFixed(1)} MiB plain, ${(ckpt.peak / 2 ** 20).toFixed(1)} MiB checkpointed (${(100 * (1 - ckpt.peak / plain.peak)).toFixed(1)}% lower); max relative grad difference ${rel}`);
  assert.ok(rel <= 1e-6, `grads differ by ${rel} relative`);
  assert.ok(ckpt.peak <= 0.5 * plain.peak, `peak ${ckpt.peak} B checkpointed vs ${plain.peak} B plain`);
});

test.run();
