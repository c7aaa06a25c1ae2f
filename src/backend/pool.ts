/**
 * A pool of workers running the same Wasm module on one shared memory. Work is handed out
 * through a control block of shared Int32/Float64 slots, one per worker, never through
 * postMessage: the caller writes a kernel index and its arguments, bumps the slot's sequence
 * number and notifies; the worker, parked in Atomics.wait, runs the export and publishes the
 * sequence as done. Starting a parallel kernel costs a few microseconds.
 *
 * The calling thread runs the first part itself, then waits for the others by spinning on
 * Atomics.load (a browser's main thread may not block in Atomics.wait).
 *
 * Workers: worker_threads in Node (eval'd source), module Workers from a Blob URL elsewhere.
 * Where SharedArrayBuffer or Worker is missing, or the workers do not start within
 * START_TIMEOUT_MS, `WorkerPool.create` returns null and the backend runs single-threaded.
 */
import { TandemError } from '../errors.js';

const SLOT = 8; // i32 per worker: seq, done, fn, argc, result, failed, busy microseconds, -
const MAX_ARGS = 16;
const START_TIMEOUT_MS = 10_000;
/** How long an idle worker spins for the next task before it parks in Atomics.wait. */
const SPIN_MS = 0.05;

// The worker's whole program. Plain JS (no imports) so it can run from a string anywhere.
const WORKER_SOURCE = `
const SLOT = ${SLOT}, MAX_ARGS = ${MAX_ARGS}, SPIN_MS = ${SPIN_MS};
let post;
function start(msg) {
  const { exports } = new WebAssembly.Instance(msg.module, { env: { memory: msg.memory } });
  const ctrl = new Int32Array(msg.ctrl), args = new Float64Array(msg.args);
  const fns = msg.names.map((n) => exports[n]);
  const base = msg.index * SLOT, abase = msg.index * MAX_ARGS;
  post('ready');
  // Park only after one turn of the event loop: some runtimes (Deno) send a worker's messages
  // from its event loop, and a thread parked at once would never deliver 'ready'.
  setTimeout(() => serve(ctrl, args, fns, base, abase), 0);
}
function serve(ctrl, args, fns, base, abase) {
  let seen = 0;
  for (;;) {
    // Spin a little before parking: kernels of one step come back to back, and a futex wake
    // costs tens of microseconds where a spinning worker starts in one.
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(ctrl, base) === seen && performance.now() < until) {}
    if (Atomics.load(ctrl, base) === seen) Atomics.wait(ctrl, base, seen);
    const seq = Atomics.load(ctrl, base);
    if (seq === seen) continue;
    seen = seq;
    const fi = ctrl[base + 2];
    if (fi < 0) return; // shutdown
    const a = [];
    for (let i = 0; i < ctrl[base + 3]; i++) a.push(args[abase + i]);
    const t0 = performance.now();
    try {
      ctrl[base + 4] = fns[fi](...a) | 0;
      ctrl[base + 5] = 0;
    } catch (e) {
      ctrl[base + 5] = 1;
    }
    ctrl[base + 6] = Math.min(2e9, (performance.now() - t0) * 1000) | 0;
    Atomics.store(ctrl, base + 1, seq);
    Atomics.notify(ctrl, base + 1);
  }
}
${workerPort('start')}
`;

/**
 * The worker side of a worker program given as source text: assigns `post(m)` (the program
 * declares `let post`) and hands each message's data to the function named `handler`, through
 * Node's parentPort or a Web Worker's `self`.
 */
export function workerPort(handler: string): string {
  return `if (typeof require === 'function') {
  const { parentPort } = require('node:worker_threads');
  post = (m) => parentPort.postMessage(m);
  parentPort.on('message', ${handler});
} else {
  post = (m) => self.postMessage(m);
  self.onmessage = (e) => ${handler}(e.data);
}`;
}

export interface AnyWorker {
  postMessage(m: unknown): void;
  terminate(): unknown;
  unref?(): void;
}

type NodeProcess = { versions?: { node?: string }; getBuiltinModule?(id: string): unknown };

/** Every pool not yet destroyed: shutdown() ends them all (Deno stays alive while a worker lives). */
const live = new Set<WorkerPool>();

export function destroyPools(): void {
  for (const p of [...live]) p.destroy();
}

export class WorkerPool {
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;
  private readonly seq: number[];
  private readonly index: Map<string, number>;
  /**
   * Milliseconds each part of the last `run` spent computing: [0] the calling thread's, then
   * each worker's as it measured it (from picking the task up, so without its wake-up).
   */
  readonly lastMs: number[] = [];

  private constructor(private readonly workers: AnyWorker[], ctrl: SharedArrayBuffer, args: SharedArrayBuffer, names: string[]) {
    this.ctrl = new Int32Array(ctrl);
    this.args = new Float64Array(args);
    this.seq = workers.map(() => 0);
    this.index = new Map(names.map((n, i) => [n, i]));
  }

  /** Threads in all, the calling one included. */
  get threads(): number { return this.workers.length + 1; }

  /** False once destroyed: its workers are gone and `run` would wait for them forever. */
  get alive(): boolean { return this.workers.length > 0; }

  /**
   * Start `threads - 1` workers on `module` and the shared `memory`, exporting `names` to them.
   * Null when this runtime cannot share memory with workers.
   */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, names: string[], threads: number): Promise<WorkerPool | null> {
    if (threads < 2 || !canShare() || !(memory.buffer instanceof SharedArrayBuffer)) return null;
    const n = threads - 1;
    const ctrl = new SharedArrayBuffer(n * SLOT * 4), args = new SharedArrayBuffer(n * MAX_ARGS * 8);
    const workers: AnyWorker[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const w = await spawnWorker(WORKER_SOURCE);
        workers.push(w);
        ready.push(new Promise<void>((resolve, reject) => {
          const on = (e: unknown) => ((e as { data?: unknown })?.data ?? e) === 'ready' ? resolve() : reject(new TandemError(`threads: worker ${i} said ${String(e)}`));
          if ('on' in w) (w as unknown as { once(ev: string, f: (e: unknown) => void): void; on(ev: string, f: (e: unknown) => void): void }).once('message', on);
          else (w as unknown as { onmessage: unknown }).onmessage = on;
          if ('on' in w) (w as unknown as { on(ev: string, f: (e: unknown) => void): void }).on('error', reject);
          else (w as unknown as { onerror: unknown }).onerror = (e: unknown) => reject(new TandemError(`threads: worker ${i} failed to start (${(e as { message?: string })?.message ?? e})`));
        }));
        w.postMessage({ module, memory, ctrl, args, names, index: i });
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('workers did not start')), START_TIMEOUT_MS);
      });
      try {
        await Promise.race([Promise.all(ready), late]);
      } finally {
        clearTimeout(timer);
      }
    } catch {
      // No Worker here, it refused our source, or it never started: run single-threaded.
      for (const w of workers) w.terminate();
      return null;
    }
    for (const w of workers) w.unref?.(); // parked workers must not keep Node alive
    const pool = new WorkerPool(workers, ctrl, args, names);
    live.add(pool);
    return pool;
  }

  /**
   * Run export `name` once per argument list, in parallel: parts[0] on the calling thread (via
   * `local`), parts[i] on worker i - 1. Returns each call's i32 result.
   */
  run(name: string, parts: number[][], local: (...a: number[]) => unknown): number[] {
    const fi = this.index.get(name);
    if (fi === undefined) throw new TandemError(`threads: ${name} is not a pooled kernel`);
    if (!this.alive && parts.length > 1) throw new TandemError('threads: the worker pool was shut down');
    if (parts.length > this.threads) throw new TandemError(`threads: ${parts.length} parts for ${this.threads} threads`);
    const posted: number[] = [];
    for (let i = 1; i < parts.length; i++) {
      const w = i - 1, base = w * SLOT, a = parts[i];
      if (a.length > MAX_ARGS) throw new TandemError(`threads: ${name} takes ${a.length} arguments, at most ${MAX_ARGS}`);
      this.args.set(a, w * MAX_ARGS);
      this.ctrl[base + 2] = fi;
      this.ctrl[base + 3] = a.length;
      const seq = ++this.seq[w];
      Atomics.store(this.ctrl, base, seq);
      Atomics.notify(this.ctrl, base);
      posted.push(w);
    }
    const t0 = performance.now();
    const results = [Number(local(...parts[0]) ?? 0) | 0];
    this.lastMs.length = 0;
    this.lastMs.push(performance.now() - t0);
    let failed = false;
    for (const w of posted) {
      const base = w * SLOT;
      while (Atomics.load(this.ctrl, base + 1) !== this.seq[w]) { /* spin: the parts are short */ }
      results.push(this.ctrl[base + 4]);
      this.lastMs.push(this.ctrl[base + 6] / 1000);
      failed ||= this.ctrl[base + 5] !== 0;
    }
    if (failed) throw new TandemError(`threads: ${name} trapped in a worker`);
    return results;
  }

  destroy(): void {
    this.workers.forEach((w, i) => {
      this.ctrl[i * SLOT + 2] = -1;
      Atomics.store(this.ctrl, i * SLOT, ++this.seq[i]);
      Atomics.notify(this.ctrl, i * SLOT);
      w.terminate();
    });
    this.workers.length = 0;
    live.delete(this);
  }
}

/** SharedArrayBuffer exists, and in a page, the page is cross-origin isolated. */
export function canShare(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  const g = globalThis as { crossOriginIsolated?: boolean; window?: unknown };
  return g.window === undefined || g.crossOriginIsolated === true;
}

/**
 * A worker running `source` (plain JS that talks through `require('node:worker_threads')`'s
 * parentPort under Node, through `self` elsewhere): a worker_thread in Node, a module Worker
 * from a Blob URL in Deno and browsers. Throws where there is no Worker.
 */
export async function spawnWorker(source: string): Promise<AnyWorker> {
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node && !('Deno' in globalThis)) {
    const { Worker } = (await import('node:worker_threads')) as typeof import('node:worker_threads');
    return new Worker(source, { eval: true }) as unknown as AnyWorker;
  }
  const W = (globalThis as { Worker?: new (url: string, o?: object) => AnyWorker }).Worker;
  if (!W) throw new Error('no Worker');
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  return new W(url, { type: 'module' });
}
