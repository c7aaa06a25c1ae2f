/**
 * The shipped bundle, dist/tandem.js, imported as-is by the runtime running this file (Node by
 * package name, Deno by file URL, Chromium from the test server), running a matmul on both
 * engines and checking them against each other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { REQUIRE_GPU, RUNTIME } from './harness.ts';

const spec = RUNTIME === 'node' ? 'tandem' : RUNTIME === 'deno' ? new URL('../dist/tandem.js', import.meta.url).href : '/dist/tandem.js';

test(`${RUNTIME}: dist/tandem.js imports and runs matmul on cpu and gpu`, async () => {
  const D = await import(/* not bundled */ spec);
  const info = await D.init();
  if (REQUIRE_GPU) assert.ok(info.gpu, 'gpu found by the shipped bundle');
  const out: Float32Array[] = [];
  for (const device of info.gpu ? ['cpu', 'gpu'] : ['cpu']) {
    const c = D.matmul(D.randn([19, 23], { seed: 3, device }), D.randn([23, 29], { seed: 4, device }));
    out.push(await c.data());
  }
  const ref = D.matmul(D.randn([19, 23], { seed: 3, device: 'ref' }), D.randn([23, 29], { seed: 4, device: 'ref' }));
  const want = await ref.data();
  for (const got of out) {
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-4 * (1 + Math.abs(want[i])), `index ${i}`);
  }
});

test.run();
