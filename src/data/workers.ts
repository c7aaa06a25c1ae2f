/**
 * Data workers: threads that run planned batches (executor.ts) on the cpu engine's own Wasm
 * module and shared memory, so a batch is written straight into the tensors the loader hands
 * out. A job goes out by postMessage; its completion comes back twice: as a shared-memory flag
 * (the job id, stored with Atomics in a ring of slots, with its start and end times beside it)
 * and as a message. `poll()` reads the flags: a training loop that never yields to the event
 * loop between steps would otherwise see a finished batch only one event-loop turn later,
 * which measured as long as making the batch. Errors come back by message only.
 *
 * Failure: a job that throws comes back as an error naming its sample; a worker that dies (an
 * uncaught error, process.exit in Node) fails every job it holds and refuses new ones, so the
 * loader's iterator throws instead of waiting forever.
 *
 * Node: a worker is ref'd only while it holds a job, so an abandoned iterator does not keep the
 * process alive. `shutdown()` ends every data worker (Deno waits for live workers).
 */
import { DataError } from '../errors.js';
import { type AnyWorker, spawnWorker, workerPort } from '../backend/pool.js';
import { type BatchJob, runJob } from './executor.js';

const START_TIMEOUT_MS = 10_000;
/** Completion slots: job id % RING. More jobs than this in flight at once would share a slot. */
const RING = 1024;

// The worker's program: the executor's own text, and a message loop around it.
const WORKER_SOURCE = `
var __name = (f) => f; // tsx wraps named functions with __name(); the worker has no such helper
${runJob.toString()}
let post, exports = null, memory = null, status = null, times = null;
const compiled = new Map();
const fnOf = (src) => {
  let f = compiled.get(src);
  if (!f) { f = (0, eval)('(' + src + ')'); compiled.set(src, f); }
  return f;
};
const clock = () => performance.timeOrigin + performance.now();
function onMessage(m) {
  if (m.type === 'init') {
    exports = new WebAssembly.Instance(m.module, { env: { memory: m.memory } }).exports;
    memory = m.memory;
    status = new Int32Array(m.status);
    times = new Float64Array(m.times);
    post({ type: 'ready' });
    return;
  }
  const t0 = clock();
  try {
    runJob(exports, memory, m.job, m.sources.map(fnOf));
    const t1 = clock(), slot = m.id % ${RING};
    times[2 * slot] = t0;
    times[2 * slot + 1] = t1;
    Atomics.store(status, slot, m.id); // after the times: a reader that sees the id sees them
    post({ type: 'done', id: m.id, t0, t1 });
  } catch (e) {
    post({ type: 'error', id: m.id, message: String((e && e.message) || e), sample: e && e.sample });
  }
}
${workerPort('onMessage')}
`;

/** What a finished job reports: its run time on the worker, on this thread's clock (ms). */
export interface JobTiming { worker: number; t0: number; t1: number }

interface Pending { resolve(t: JobTiming): void; reject(e: Error): void }

type NodeWorker = AnyWorker & { on(ev: string, f: (x: unknown) => void): void; ref(): void; unref(): void };

class Slot {
  readonly jobs = new Map<number, Pending>();
  dead: Error | null = null;
  constructor(readonly index: number, readonly worker: AnyWorker) {}
}

const live = new Set<DataWorkers>();

/** End every data worker at once (shutdown()). */
export function destroyDataWorkers(): void {
  for (const w of [...live]) w.terminate();
}

export class DataWorkers {
  private nextId = 1;
  private readonly origin = performance.timeOrigin;
  private readonly status = new Int32Array(new SharedArrayBuffer(4 * RING));
  private readonly times = new Float64Array(new SharedArrayBuffer(16 * RING));

  private constructor(private readonly slots: Slot[]) {}

  get count(): number { return this.slots.length; }

  /** Start `n` workers on `module` and the shared `memory`; null where workers cannot start. */
  static async start(n: number, module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<DataWorkers | null> {
    const slots: Slot[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let i = 0; i < n; i++) {
        const slot = new Slot(i, await spawnWorker(WORKER_SOURCE));
        slots.push(slot);
        ready.push(new Promise<void>((resolve, reject) => {
          slot.jobs.set(0, { resolve: () => resolve(), reject });
        }));
      }
      const pool = new DataWorkers(slots);
      for (const s of slots) pool.listen(s);
      for (const s of slots) s.worker.postMessage({ type: 'init', module, memory, status: pool.status.buffer, times: pool.times.buffer });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('data workers did not start')), START_TIMEOUT_MS); });
      try {
        await Promise.race([Promise.all(ready), late]);
      } finally {
        clearTimeout(timer);
      }
      for (const s of slots) (s.worker as NodeWorker).unref?.();
      live.add(pool);
      return pool;
    } catch {
      for (const s of slots) s.worker.terminate();
      return null;
    }
  }

  private listen(slot: Slot): void {
    const onMessage = (m: { type: string; id?: number; t0?: number; t1?: number; message?: string; sample?: number }) => {
      const id = m.type === 'ready' ? 0 : (m.id as number);
      const p = slot.jobs.get(id);
      if (!p) return;
      slot.jobs.delete(id);
      if (slot.jobs.size === 0) (slot.worker as NodeWorker).unref?.();
      if (m.type === 'error') {
        p.reject(Object.assign(new DataError(m.message ?? 'a data worker failed'), { sample: m.sample }));
      } else {
        p.resolve({ worker: slot.index, t0: (m.t0 ?? 0) - this.origin, t1: (m.t1 ?? 0) - this.origin });
      }
    };
    const die = (why: string) => {
      if (slot.dead) return;
      // unsafe: the thread may still be writing the job's buffers, so they must not be reused.
      slot.dead = Object.assign(new DataError(`DataLoader: data worker ${slot.index} crashed (${why})`), { unsafe: true });
      for (const p of slot.jobs.values()) p.reject(slot.dead);
      slot.jobs.clear();
      slot.worker.terminate();
    };
    const w = slot.worker as NodeWorker;
    if (typeof w.on === 'function') {
      w.on('message', onMessage as (x: unknown) => void);
      w.on('error', (e) => die((e as Error)?.message ?? String(e)));
      w.on('exit', (code) => die(`it exited with code ${code}`));
    } else {
      const web = w as unknown as { onmessage: unknown; onerror: unknown; onmessageerror: unknown };
      web.onmessage = (e: { data: Parameters<typeof onMessage>[0] }) => onMessage(e.data);
      // preventDefault: Deno would otherwise rethrow a worker's uncaught error in this thread.
      web.onerror = (e: { message?: string; preventDefault?(): void }) => { e.preventDefault?.(); die(e.message ?? 'an uncaught error'); };
      web.onmessageerror = () => die('a message could not be read');
    }
  }

  /** Settle every job whose worker has flagged it done, now, without waiting for its message. */
  poll(): void {
    for (const slot of this.slots) {
      if (slot.dead) continue;
      for (const [id, p] of slot.jobs) {
        const at = id % RING;
        if (id === 0 || Atomics.load(this.status, at) !== id) continue;
        slot.jobs.delete(id);
        if (slot.jobs.size === 0) (slot.worker as NodeWorker).unref?.();
        p.resolve({ worker: slot.index, t0: this.times[2 * at] - this.origin, t1: this.times[2 * at + 1] - this.origin });
      }
    }
  }

  /** Jobs a worker holds now. */
  load(worker: number): number { return this.slots[worker].jobs.size; }

  /** Run `job` on the least busy live worker (ties: the lowest index). */
  run(job: BatchJob, sources: readonly string[]): Promise<JobTiming> {
    if (this.failure) return Promise.reject(this.failure);
    const slot = this.slots.reduce((a, b) => (b.jobs.size < a.jobs.size ? b : a));
    const id = this.nextId++;
    return new Promise<JobTiming>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject });
      (slot.worker as NodeWorker).ref?.();
      slot.worker.postMessage({ type: 'job', id, job, sources });
    });
  }

  /** A worker has died: later batches cannot trust the pool. */
  get failure(): Error | null { return this.slots.find((s) => s.dead)?.dead ?? null; }

  terminate(): void {
    for (const s of this.slots) {
      s.dead ??= Object.assign(new DataError('DataLoader: data workers were shut down'), { unsafe: true });
      for (const p of s.jobs.values()) p.reject(s.dead);
      s.jobs.clear();
      s.worker.terminate();
    }
    live.delete(this);
  }
}

/** @internal Data worker threads alive now (tests check that a finished loop ends its workers). */
export function liveDataWorkers(): number {
  let n = 0;
  for (const w of live) n += w.count;
  return n;
}
