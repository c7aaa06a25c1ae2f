/**
 * The peer libraries of bench/gemm.bench.ts, each behind one small adapter: prepare a case
 * (operands resident in the library's own memory, laid out for its transposes), then `run()`
 * one product the way a user of that library would call it (allocating and freeing its
 * output), and `result()` for the cross-check. Every library loads its .wasm from
 * node_modules: no network at run time. All run single-threaded unless told otherwise.
 *
 * Quirks, found here:
 * - jax-js starts a worker pool when `Worker` and SharedArrayBuffer exist; Node 20 has no global
 *   Worker, but onnxruntime-web's Node build defines one, so the jax-js adapter hides `Worker`
 *   for the whole (parent) process: jax-js stays single-threaded and its kernels keep a
 *   plain memory import (it re-checks at every kernel compile). ORT runs 1 thread there.
 * - onnxruntime-web reads env.wasm.numThreads once, when its Wasm module starts: one process
 *   runs one thread count, so the 2-thread rows come from a child process of the same run.
 * - tfjs-backend-wasm picks its threaded binary when it can; WASM_HAS_MULTITHREAD_SUPPORT =
 *   false and setThreadsCount(1) keep it on tfjs-backend-wasm-simd.wasm, one thread.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gemmModel } from './onnx-model.ts';

/** One product; `fused` adds a bias of n values and a relu in each library's fused form. */
export interface GemmCase { name: string; m: number; k: number; n: number; tA: boolean; tB: boolean; iterations: number; fused?: boolean }
export interface Prepared { run(): unknown | Promise<unknown>; result(): Promise<Float32Array>; dispose(): void }
/** A peer; `prepare` may return null for a case it has nothing distinct to run on. */
export interface Peer { name: string; version: string; config: string; prepare(c: GemmCase, a: Float32Array, b: Float32Array, bias: Float32Array): Promise<Prepared | null> }

const nm = (p: string) => fileURLToPath(new URL(`../node_modules/${p}`, import.meta.url));
const version = (pkg: string) => (JSON.parse(readFileSync(nm(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
/** Stored shapes of the operands: A is [k, m] when transposed, B is [n, k]. */
export const storedShapes = (c: GemmCase): [number[], number[]] => [c.tA ? [c.k, c.m] : [c.m, c.k], c.tB ? [c.n, c.k] : [c.k, c.n]];

export async function jaxPeer(): Promise<Peer> {
  const jax = await import('@jax-js/jax');
  // jax-js asks `typeof Worker` at init (worker pool) and again whenever it compiles a kernel
  // (shared or plain memory import), so `Worker` must stay hidden in this process for good.
  Object.defineProperty(globalThis, 'Worker', { get: () => undefined, set: () => {}, configurable: true });
  await jax.init('wasm');
  jax.defaultDevice('wasm');
  const np = jax.numpy;
  return {
    name: 'jax-js', version: version('@jax-js/jax'), config: "device 'wasm', single-threaded (no worker pool), jit(np.matmul) with the transposes inside the jitted function (fused rows: jit(relu(matmul + bias)))",
    async prepare(c, a, b, bias) {
      const [sa, sb] = storedShapes(c);
      const A = np.array(a).reshape(sa), B = np.array(b).reshape(sb), C = np.array(bias);
      type Arr = InstanceType<typeof jax.Array>;
      const f = jax.jit((x: Arr, y: Arr, z: Arr) => {
        const p = np.matmul(c.tA ? x.transpose() : x, c.tB ? y.transpose() : y);
        if (!c.fused) { z.dispose(); return p; }
        return jax.nn.relu(p.add(z));
      });
      return {
        async run() { const out = f(A.ref, B.ref, C.ref); await out.blockUntilReady(); out.dispose(); },
        async result() { return new Float32Array(await f(A.ref, B.ref, C.ref).data() as Float32Array); },
        dispose() { A.dispose(); B.dispose(); C.dispose(); f.dispose(); },
      };
    },
  };
}

/**
 * tfjs-backend-wasm twice: through tf.matMul's transpose flags (its API for them), and, on the
 * transposed cases only, as 'tfjs-wasm-T': tf.transpose then an untransposed tf.matMul, each
 * call, because its matMul with a transpose flag leaves XNNPACK for a slow loop (~1 GFLOP/s
 * measured here), and a user who knows can avoid that.
 */
/** tfjs-core on tfjs-backend-wasm, its SIMD binary from node_modules, one thread. */
export async function tfjsWasm() {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(nm('@tensorflow/tfjs-backend-wasm/dist/'));
  wasm.setThreadsCount(1);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend did not initialise');
  await tf.ready();
  return { tf, version: version('@tensorflow/tfjs-backend-wasm') };
}

export async function tfjsPeers(): Promise<Peer[]> {
  const { tf } = await tfjsWasm();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const base: Peer = {
    name: 'tfjs-wasm', version: version('@tensorflow/tfjs-backend-wasm'), config: `tfjs-backend-wasm (XNNPACK), ${simd ? 'SIMD binary' : 'NO SIMD'}, 1 thread, tf.matMul(a, b, transposeA, transposeB); fused rows tf.fused.matMul with bias and relu`,
    prepare: async (c, a, b, bias) => prepare(c, a, b, bias, false),
  };
  const explicit: Peer = {
    name: 'tfjs-wasm-T', version: base.version, config: 'as tfjs-wasm, but transposed operands go through tf.transpose (each call, inside tf.tidy) and an untransposed tf.matMul / tf.fused.matMul; run on transposed cases only',
    prepare: async (c, a, b, bias) => (c.tA || c.tB ? prepare(c, a, b, bias, true) : null),
  };
  return [base, explicit];

  async function prepare(c: GemmCase, a: Float32Array, b: Float32Array, bias: Float32Array, transposeFirst: boolean): Promise<Prepared> {
    const [sa, sb] = storedShapes(c);
    const A = tf.tensor(a, sa), B = tf.tensor(b, sb), C = tf.tensor(bias, [bias.length]);
    const mm = () => tf.tidy(() => {
      const x = transposeFirst && c.tA ? tf.transpose(A) : A, y = transposeFirst && c.tB ? tf.transpose(B) : B;
      const tA = c.tA && !transposeFirst, tB = c.tB && !transposeFirst;
      return c.fused ? tf.fused.matMul({ a: x, b: y, transposeA: tA, transposeB: tB, bias: C, activation: 'relu' }) : tf.matMul(x, y, tA, tB);
    });
    return {
      run() { const out = mm(); out.dataSync(); out.dispose(); },
      async result() { const out = mm(); const d = new Float32Array(out.dataSync() as Float32Array); out.dispose(); return d; },
      dispose() { A.dispose(); B.dispose(); C.dispose(); },
    };
  }
}

export async function ortPeer(threads: number): Promise<Peer> {
  const ort = await import('onnxruntime-web');
  ort.env.wasm.wasmPaths = nm('onnxruntime-web/dist/');
  ort.env.wasm.numThreads = threads;
  return {
    name: threads === 1 ? 'ort-wasm' : `ort-wasm-${threads}t`, version: version('onnxruntime-web'),
    config: `onnxruntime-web wasm EP, numThreads ${threads}, a one-node ONNX Gemm(transA, transB) model (fused rows: Gemm with C + Relu); session.run per product (copies inputs in and the output out)`,
    async prepare(c, a, b, bias) {
      const [sa, sb] = storedShapes(c);
      const session = await ort.InferenceSession.create(gemmModel(c.m, c.k, c.n, c.tA, c.tB, c.fused), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const feeds: Record<string, InstanceType<typeof ort.Tensor>> = { A: new ort.Tensor('float32', a, sa), B: new ort.Tensor('float32', b, sb) };
      if (c.fused) feeds.C = new ort.Tensor('float32', bias, [bias.length]);
      return {
        async run() { const r = await session.run(feeds); r.Y.dispose(); },
        async result() { const r = await session.run(feeds); return new Float32Array(r.Y.data as Float32Array); },
        dispose() { void session.release(); },
      };
    },
  };
}
