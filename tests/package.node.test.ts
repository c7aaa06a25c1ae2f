/**
 * Node only: the built package as a user meets it, in fresh processes. `import('tandem')` from
 * the package root resolves through the exports map to dist/; the GPU loader finds Chromium's
 * SwiftShader with no environment variables set; and with no driver at all init() still works.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REQUIRE_GPU } from './harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const script = `
  const T = await import('tandem');
  const info = await T.init();
  const devs = info.gpu ? ['cpu', 'gpu'] : ['cpu'];
  const sums = [];
  for (const device of devs) {
    const c = T.matmul(T.randn([33, 17], { seed: 1, device }), T.randn([17, 9], { seed: 2, device }));
    sums.push((await T.sum(c).data())[0]);
  }
  console.log(JSON.stringify({ info, sums }));
`;

function run(env: Record<string, string | undefined>) {
  const clean = { ...process.env };
  delete clean.VK_ICD_FILENAMES;
  delete clean.XDG_RUNTIME_DIR;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env: { ...clean, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('node: import("tandem") from the package root runs cpu and gpu with no GPU environment set', () => {
  const { info, sums } = run({});
  assert.is(info.cpu.simd, true);
  if (REQUIRE_GPU) {
    assert.ok(info.gpu, 'the loader found a WebGPU adapter by itself');
    assert.equal(sums.length, 2);
    assert.ok(Math.abs(sums[0] - sums[1]) <= 1e-4 * Math.max(1, Math.abs(sums[0])), `cpu ${sums[0]} vs gpu ${sums[1]}`);
  }
});

test('node: with no usable Vulkan driver, init() succeeds and gpu is null', () => {
  const { info, sums } = run({ VK_ICD_FILENAMES: '/nonexistent/icd.json' });
  assert.is(info.gpu, null);
  assert.equal(sums.length, 1);
});

test.run();
