// `npm run demo`: Tandem's main job end to end. Generate handwriting-style digits (nothing is
// downloaded), serve them through a DataLoader (shuffled, shifted, scaled by the Wasm kernels),
// train a 784-256-10 MLP on them with AdamW, report held-out accuracy, save the
// model as safetensors, reload it into a fresh model and check the accuracy again. Exits 1 if
// the held-out accuracy is below 97% or the reloaded model disagrees.
//
// Placement: with a hardware GPU, ops are placed by the cost model ('auto'); on a machine
// without one the gpu engine is SwiftShader (software), and training stays on the cpu engine.
//
//   npm run demo                  (options: --epochs=N --train=N --batch=N)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
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

// ---- data: u8 [n, 28, 28] images, served by a DataLoader ----
// Training batches: a fresh shuffle per epoch, each digit shifted by up to 2 pixels (a random
// 28x28 crop of the image padded by 2), scaled to [0, 1], by the Wasm kernels. Data workers get
// the cores the cpu engine leaves free: where the engine's threads take every core (2 of 2 here),
// a worker only takes time from the matmuls (measured: bench/results/data.json), so batches are
// made on this thread. Held-out batches are only scaled.
let t0 = performance.now();
const train = T.datasets.digits({ n: NTRAIN, seed: 1 }), test = T.datasets.digits({ n: NTEST, seed: 2 });
const { transforms } = T.data;
const scale = transforms.normalize({ mean: 0, std: 1 }); // v / 255
const workers = Math.max(0, availableParallelism() - info.cpu.threads);
const trainLoader = new T.data.DataLoader(new T.data.TensorDataset(train.images, train.labels), {
  batchSize: BATCH, shuffle: true, seed: 12345, dropLast: true, workers, persistentWorkers: true, prefetch: 4, device: hardwareGpu ? 'gpu' : 'cpu',
  transform: [transforms.randomCrop(28, { padding: 2 }), scale],
});
const testLoader = new T.data.DataLoader(new T.data.TensorDataset(test.images, test.labels), { batchSize: 500, transform: scale });
console.log(`  data: ${NTRAIN} training and ${NTEST} held-out digits generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${workers} data worker(s)`);

// ---- model, optimizer, schedule ----
const makeModel = () => new T.nn.Sequential(new T.nn.Linear(784, 256, { seed: 7, device }), new T.nn.ReLU(), new T.nn.Linear(256, 10, { seed: 8, device }));
const model = makeModel();
const optimizer = new T.optim.AdamW(model.parameters(), { lr: 2e-3, weightDecay: 0.01 });
const stepsPerEpoch = Math.floor(NTRAIN / BATCH);
const schedule = new T.optim.CosineAnnealingLR(optimizer, { tMax: EPOCHS * stepsPerEpoch });

/** How many rows of logits have their argmax at the label (f32 scalar; comparisons take floats). */
const hitCount = (logits, y) => T.sum(T.cast(T.eq(T.cast(T.argmax(logits, 1), 'f32'), T.cast(y, 'f32')), 'f32'));

/** [n, 1, 28, 28] images from the loader as the MLP's [n, 784] rows (a view). */
const flat = (x) => T.reshape(x, [x.shape[0], 784]);

/** Fraction of the held-out digits whose argmax under `m` is their label. */
async function accuracy(m) {
  let correct = 0;
  for await (const [x, y] of testLoader) {
    const hits = T.noGrad(() => T.tidy(() => hitCount(m.forward(flat(x)), y)));
    correct += (await hits.data())[0];
    hits.dispose();
  }
  return correct / NTEST;
}

const bar = (done, total, width = 24) => '#'.repeat(Math.round((done / total) * width)).padEnd(width, '.');
for (let epoch = 0; epoch < EPOCHS; epoch++) {
  t0 = performance.now();
  let lossSum = 0, hits = 0, seen = 0, step = 0;
  for await (const [x, y] of trainLoader) { // the loader frees each batch when the next one comes
    const [loss, correct] = T.tidy(() => {
      const logits = model.forward(flat(x));
      const l = T.nn.crossEntropy(logits, y);
      optimizer.zeroGrad(); l.backward(); optimizer.step();
      return [l, T.noGrad(() => hitCount(logits, y))];
    });
    schedule.step();
    lossSum += (await loss.data())[0]; hits += (await correct.data())[0]; seen += x.shape[0];
    loss.dispose(); correct.dispose();
    step++;
    if (step % 10 === 0 || step === stepsPerEpoch) {
      const secs = (performance.now() - t0) / 1000;
      process.stdout.write(`\r  epoch ${epoch + 1}/${EPOCHS} [${bar(step, stepsPerEpoch)}] loss ${(lossSum / step).toFixed(3)}  train acc ${((100 * hits) / seen).toFixed(1)}%  ${(step / secs).toFixed(0)} steps/s`);
    }
  }
  const st = trainLoader.stats;
  process.stdout.write(`  (waited for data ${st.waitMs.toFixed(0)} ms, ${((100 * st.waitMs) / st.elapsedMs).toFixed(1)}%)\n`);
}
const acc = await accuracy(model);
console.log(`  held-out accuracy: ${(100 * acc).toFixed(2)}% ${acc >= 0.97 ? '(>= 97%: ok)' : '(below 97%: FAIL)'}`);

// ---- save, reload into a fresh model, check again ----
const dir = mkdtempSync(join(tmpdir(), 'tandem-demo-'));
const file = join(dir, 'digits-mlp.safetensors');
writeFileSync(file, await T.save(model.stateDict()));
const reloaded = makeModel();
reloaded.loadStateDict(T.load(new Uint8Array(readFileSync(file))));
const acc2 = await accuracy(reloaded);
console.log(`  saved ${readFileSync(file).length} bytes of safetensors, reloaded: held-out accuracy ${(100 * acc2).toFixed(2)}% ${acc2 === acc ? '(same)' : '(DIFFERENT)'}`);
rmSync(dir, { recursive: true });
if (acc < 0.97 || acc2 !== acc) process.exitCode = 1;
T.shutdown();
