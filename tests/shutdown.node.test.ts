/**
 * Node only (it starts child processes): a process that calls shutdown() while work is still in
 * flight on the gpu exits by itself. The lazy calibration starts with the first auto-placed op
 * and compiles pipelines in the background; shutdown() destroyed the device under them, and
 * dropping Dawn's GPU object at that point deadlocked or crashed the process in Dawn's event loop.
 * The children also check that a child process finds the gpu its parent found: it inherits
 * VK_ICD_FILENAMES from the parent's loader, but not the Vulkan loader the parent preloaded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { REQUIRE_GPU, info } from './harness.ts';

const src = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/**
 * Exit code of a child running `body` after init, then collecting garbage (what made Dawn's
 * GPU object go too early), and its output (code null: killed after the timeout).
 */
function runChild(body: string, timeoutMs = 30000): Promise<{ code: number | null; out: string }> {
  const script = `import * as T from ${JSON.stringify(src)};\nconst info = await T.init({ threads: 'auto' });\nconsole.log('GPU ' + String(!!info.gpu));\n${body}\nfor (let i = 0; i < 5; i++) { gc(); await new Promise((r) => setTimeout(r, 20)); }\nconsole.log('END');`;
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('close', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

test('node: shutdown() during the lazy calibration, and with a gpu read and compile in flight, lets the process exit', async () => {
  if (!info.gpu) {
    if (REQUIRE_GPU) assert.unreachable('no gpu adapter: this test needs one (TANDEM_ALLOW_NO_GPU=1 skips it)');
    return;
  }
  const cases = [
    'const a = T.randn([64, 64]); T.matmul(a, a); T.shutdown();',
    "const a = T.randn([256, 256], { device: 'gpu' }); T.matmul(a, a).data().catch(() => {}); void T.warmup([{ op: 'matmul', m: 96, k: 96, n: 96 }]).catch(() => {}); T.shutdown();",
  ];
  for (const body of cases) {
    const r = await runChild(body);
    assert.is(r.code, 0, `${body}\nexit ${r.code}: ${r.out.slice(-400)}`);
    assert.match(r.out, /GPU true/, `the child finds the gpu its parent found: ${r.out.slice(0, 300)}`);
    assert.match(r.out, /END/);
  }
});

test.run();
