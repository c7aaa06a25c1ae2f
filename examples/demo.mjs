// `npm run demo`: Tandem's main job end to end. Generate handwriting-style digits (nothing is
// downloaded), train a 784-256-10 MLP on them with AdamW, report held-out accuracy, save the
// model as safetensors, reload it into a fresh model and check the accuracy again. Exits 1 if
// the held-out accuracy is below 97% or the reloaded model disagrees.
//
// Placement: with a hardware GPU, ops are placed by the cost model ('auto'); on a machine
// without one the gpu engine is SwiftShader (software), and training stays on the cpu engine.
//
//   npm run demo                  (options: --epochs=N --train=N --batch=N)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as T from '../dist/tandem.js';

const opt = (name, dflt) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? dflt);
const EPOCHS = opt('epochs', 3), NTRAIN = opt('train', 20000), NTEST = 2000, BATCH = opt('batch', 128);

const info = await T.init({ threads: 'auto' });
const hardwareGpu = info.gpu && !info.gpu.fallback;
console.log('Tandem');
console.log(`  cpu: WebAssembly ${info.cpu.relaxedSimd ? 'relaxed SIMD' : 'SIMD'}, ${info.cpu.threads} thread(s)`);
console.log(info.gpu ? `  gpu: ${info.gpu.adapter}${info.gpu.fallback ? ' (software fallback: training stays on the cpu)' : ' (auto placement)'}` : '  gpu: none');
const device = hardwareGpu ? undefined : 'cpu'; // undefined: the scheduler places each op

// ---- data: u8 [n, 28, 28] images -> f32 [n, 784] in [0, 1] ----
let t0 = performance.now();
const toInputs = (images) => T.tidy(() => T.mul(T.cast(T.reshape(images, [images.shape[0], 784]), 'f32'), T.tensor([1 / 255])));
const train = T.datasets.digits({ n: NTRAIN, seed: 1 }), test = T.datasets.digits({ n: NTEST, seed: 2 });
const xTrain = toInputs(train.images), xTest = toInputs(test.images);
const yTrain = train.labels, yTest = test.labels;
train.images.dispose(); test.images.dispose();
console.log(`  data: ${NTRAIN} training and ${NTEST} held-out digits generated in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

// ---- model, optimizer, schedule ----
const makeModel = () => new T.nn.Sequential(new T.nn.Linear(784, 256, { seed: 7, device }), new T.nn.ReLU(), new T.nn.Linear(256, 10, { seed: 8, device }));
const model = makeModel();
const optimizer = new T.optim.AdamW(model.parameters(), { lr: 2e-3, weightDecay: 0.01 });
const stepsPerEpoch = Math.floor(NTRAIN / BATCH);
const schedule = new T.optim.CosineAnnealingLR(optimizer, { tMax: EPOCHS * stepsPerEpoch });

/** How many rows of logits have their argmax at the label (f32 scalar; comparisons take floats). */
const hitCount = (logits, y) => T.sum(T.cast(T.eq(T.cast(T.argmax(logits, 1), 'f32'), T.cast(y, 'f32')), 'f32'));

/** Fraction of rows of x whose argmax under `m` equals y, in chunks of 500. */
async function accuracy(m, x, y) {
  let correct = 0;
  for (let i = 0; i < x.shape[0]; i += 500) {
    const n = Math.min(500, x.shape[0] - i);
    const hits = T.noGrad(() => T.tidy(() => hitCount(m.forward(T.narrow(x, 0, i, n)), T.narrow(y, 0, i, n))));
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / x.shape[0];
}

const bar = (done, total, width = 24) => '#'.repeat(Math.round((done / total) * width)).padEnd(width, '.');
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  // A seeded permutation per epoch; each batch is gathered from it.
  const order = Int32Array.from({ length: NTRAIN }, (_, i) => i);
  let s = 12345 + epoch;
  for (let i = NTRAIN - 1; i > 0; i--) { s = (s * 1103515245 + 12345) >>> 0; const j = s % (i + 1); [order[i], order[j]] = [order[j], order[i]]; }
  t0 = performance.now();
  let lossSum = 0, hits = 0, seen = 0;
  for (let step = 0; step < stepsPerEpoch; step++) {
    const [loss, correct] = T.tidy(() => {
      const idx = T.tensor(order.subarray(step * BATCH, (step + 1) * BATCH), [BATCH], { dtype: 'i32' });
      const x = T.indexSelect(xTrain, 0, idx), y = T.indexSelect(yTrain, 0, idx);
      const logits = model.forward(x);
      const l = T.nn.crossEntropy(logits, y);
      optimizer.zeroGrad(); l.backward(); optimizer.step();
      return [l, T.noGrad(() => hitCount(logits, y))];
    });
    schedule.step();
    lossSum += (await loss.data())[0]; hits += (await correct.data())[0]; seen += BATCH;
    loss.dispose(); correct.dispose();
    if (step % 10 === 9 || step === stepsPerEpoch - 1) {
      const secs = (performance.now() - t0) / 1000;
      process.stdout.write(`\r  epoch ${epoch + 1}/${EPOCHS} [${bar(step + 1, stepsPerEpoch)}] loss ${(lossSum / (step + 1)).toFixed(3)}  train acc ${((100 * hits) / seen).toFixed(1)}%  ${((step + 1) / secs).toFixed(0)} steps/s`);
    }
  }
  process.stdout.write('\n');
}
const acc = await accuracy(model, xTest, yTest);
console.log(`  held-out accuracy: ${(100 * acc).toFixed(2)}% ${acc >= 0.97 ? '(>= 97%: ok)' : '(below 97%: FAIL)'}`);

// ---- save, reload into a fresh model, check again ----
const dir = mkdtempSync(join(tmpdir(), 'tandem-demo-'));
const file = join(dir, 'digits-mlp.safetensors');
writeFileSync(file, await T.save(model.stateDict()));
const reloaded = makeModel();
reloaded.loadStateDict(T.load(new Uint8Array(readFileSync(file))));
const acc2 = await accuracy(reloaded, xTest, yTest);
console.log(`  saved ${readFileSync(file).length} bytes of safetensors, reloaded: held-out accuracy ${(100 * acc2).toFixed(2)}% ${acc2 === acc ? '(same)' : '(DIFFERENT)'}`);
rmSync(dir, { recursive: true });
if (acc < 0.97 || acc2 !== acc) process.exitCode = 1;
T.shutdown();
