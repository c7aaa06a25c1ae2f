/**
 * `DataLoader`: batches of a dataset, prepared ahead of the loop that consumes them.
 *
 *   for await (const [x, y] of new T.data.DataLoader(ds, { batchSize: 128, shuffle: true,
 *       seed: 1, workers: 2, prefetch: 4, transform: [T.data.transforms.normalize(...)] })) { ... }
 *
 * Each `for await` is one epoch (the loader counts them; the epoch keys the shuffle and the
 * random transforms). Up to `prefetch` batches past the one the loop waits for are in flight.
 * A batch is planned here (indices, every sample's random choices, output tensors allocated on
 * the cpu engine), then run by the executor: on a data worker that shares the engine's Wasm
 * memory, or, without workers or SharedArrayBuffer, on this thread in a later task. With
 * `device: 'gpu'` a finished batch is uploaded at once through the staging ring, so batch k+1
 * travels while step k computes.
 *
 * Ownership: the loader owns the tensors it yields and frees them when the loop asks for the
 * next batch or ends. Views and op results made from them hold their own reference to the
 * storage, so `T.reshape(x, x.shape)` keeps a batch's data past that point. Breaking out of
 * the loop waits for batches in flight, frees them and ends the workers. Errors (a bad item, a
 * transform that throws, a crashed worker) end the epoch and come out of the loop as DataError
 * naming the item's index.
 *
 * Workers pay where cores are free: on a machine whose cores the cpu engine's threads already
 * use, a data worker's time comes out of the engine's (bench/data.bench.ts measures both).
 */
import { backends } from '../runtime.js';
import { DataError, DeviceError, TandemError } from '../errors.js';
import { type DType, ITEM_BYTES, fmtShape, numel } from '../dtype.js';
import { Storage, Tensor } from '../tensor.js';
import { copyTo } from '../sched/stream.js';
import { span, tracing } from '../sched/trace.js';
import type { WasmBackend, WasmBuf } from '../backend/wasm.js';
import { type BatchJob, type ColumnJob, runJob } from './executor.js';
import { type Column, Dataset, type Item, TensorDataset, columnValue } from './dataset.js';
import { type ColumnPlan, type Transform, compileColumn, drawSamples, permutation } from './transforms.js';
import { DataWorkers, type JobTiming } from './workers.js';

export type Batch = Tensor | Tensor[];

export interface DataLoaderOptions {
  /** Samples per batch (default 1). */
  batchSize?: number;
  /** A new seeded order every epoch (default false; not for iterable datasets). */
  shuffle?: boolean;
  /** Keys the shuffle and random transforms; default: a random seed per loader. */
  seed?: number;
  /** Drop a last batch smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Batches prepared ahead of the one the loop waits for (default 2; 0 prepares on demand). */
  prefetch?: number;
  /** Data worker threads (default 0: this thread). Needs SharedArrayBuffer; without it, 0. */
  workers?: number;
  /**
   * Keep the workers from one epoch to the next (default false: each epoch starts its own and
   * ends them). `loader.close()` or `T.shutdown()` ends kept workers.
   */
  persistentWorkers?: boolean;
  /** Your own batching of the items, on this thread; replaces the built-in one and transforms. */
  collate?: (items: Item[]) => Batch | Promise<Batch>;
  /** Where batches land (default 'cpu'). */
  device?: 'cpu' | 'gpu';
  /** Steps for column 0 of each item (the input), see transforms.ts. */
  transform?: Transform | readonly Transform[];
  /** Steps for column 1 (the target). */
  targetTransform?: Transform | readonly Transform[];
}

/** What the last (or current) epoch did. */
export interface EpochStats {
  epoch: number;
  batches: number;
  samples: number;
  /** Data workers that ran batches (0: this thread did). */
  workers: number;
  /** Time the loop spent waiting in next() for a batch that was not ready, ms. */
  waitMs: number;
  /** Time spent running batch jobs, summed over workers, ms. */
  prepareMs: number;
  /** Time this thread spent planning batches (indices, random choices, allocation, the job), ms. */
  planMs: number;
  /** From the first next() to the end of the epoch, ms. */
  elapsedMs: number;
}

/**
 * Resolve in a later macrotask without setTimeout's clamp (>= 1 ms in Node and browsers):
 * setImmediate where it exists, else a MessageChannel message.
 */
function laterTask(): Promise<void> {
  const g = globalThis as { setImmediate?: (f: () => void) => unknown };
  if (typeof g.setImmediate === 'function') return new Promise((r) => g.setImmediate!(r));
  return new Promise((r) => {
    const c = new MessageChannel();
    c.port1.onmessage = () => { c.port1.close(); r(); };
    c.port2.postMessage(0);
  });
}

/** Close after waiting this long for batches still running on workers. */
const CLOSE_WAIT_MS = 5_000;

export class DataLoader implements AsyncIterable<Batch> {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly workers: number;
  readonly device: 'cpu' | 'gpu';
  /** The next epoch's number; each iteration takes one. */
  epoch = 0;
  /** The most recent epoch's figures. */
  stats: EpochStats | null = null;
  private readonly steps: [readonly Transform[], readonly Transform[]];
  /** Kept workers (persistentWorkers), started by the first epoch that needs them, and the memory they write. */
  private kept: Promise<DataWorkers | null> | null = null;
  private keptMemory: WebAssembly.Memory | null = null;

  constructor(readonly dataset: Dataset | AsyncIterable<Item> | Iterable<Item>, readonly opts: DataLoaderOptions = {}) {
    const int = (v: unknown, name: string, dflt: number, min: number) => {
      if (v === undefined) return dflt;
      if (!Number.isInteger(v) || (v as number) < min) throw new TandemError(`DataLoader: ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
      return v as number;
    };
    if (!dataset || typeof dataset !== 'object') throw new TandemError(`DataLoader: dataset must be a Dataset, a TensorDataset or an iterable, got ${dataset === null ? 'null' : typeof dataset}`);
    const random = typeof (dataset as Dataset).get === 'function' && typeof (dataset as Dataset).length === 'number';
    if (!random && !(Symbol.asyncIterator in dataset) && !(Symbol.iterator in dataset)) {
      throw new TandemError('DataLoader: dataset has neither length and get(i) nor an iterator');
    }
    this.batchSize = int(opts.batchSize, 'batchSize', 1, 1);
    this.prefetch = int(opts.prefetch, 'prefetch', 2, 0);
    this.workers = int(opts.workers, 'workers', 0, 0);
    this.shuffle = opts.shuffle ?? false;
    if (this.shuffle && !random) throw new TandemError('DataLoader: shuffle needs a random-access dataset (length and get(i)); this one is iterable');
    this.dropLast = opts.dropLast ?? false;
    const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (!Number.isFinite(seed)) throw new TandemError(`DataLoader: seed must be a finite number, got ${seed}`);
    this.seed = seed >>> 0;
    if (opts.device !== undefined && opts.device !== 'cpu' && opts.device !== 'gpu') throw new DeviceError(`DataLoader: device must be 'cpu' or 'gpu', got ${JSON.stringify(opts.device)}`);
    this.device = opts.device ?? 'cpu';
    const list = (t: DataLoaderOptions['transform']) => (t === undefined ? [] : Array.isArray(t) ? t : [t]) as readonly Transform[];
    this.steps = [list(opts.transform), list(opts.targetTransform)];
    if (opts.collate !== undefined && typeof opts.collate !== 'function') throw new TandemError('DataLoader: collate must be a function');
    if (opts.collate && (this.steps[0].length || this.steps[1].length)) {
      throw new TandemError('DataLoader: collate replaces the built-in batching, transforms included; apply them inside collate');
    }
  }

  /** Batches per epoch; undefined for an iterable dataset. */
  get length(): number | undefined {
    const n = (this.dataset as Dataset).length;
    if (typeof n !== 'number') return undefined;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  [Symbol.asyncIterator](): AsyncIterator<Batch> {
    return new EpochIterator(this, this.epoch++, this.steps);
  }

  /** End kept workers (persistentWorkers); a later epoch starts new ones. */
  async close(): Promise<void> {
    const k = this.kept;
    this.kept = null;
    (await k)?.terminate();
  }

  /** @internal Workers for an epoch: the kept ones, or new ones the epoch ends itself. */
  async startWorkers(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<{ workers: DataWorkers | null; kept: boolean }> {
    if (!this.opts.persistentWorkers) return { workers: await DataWorkers.start(this.workers, module, memory), kept: false };
    const had = this.kept && (await this.kept);
    // A new engine (init() with other threads) has a new memory: kept workers would write the old one.
    if (!had || had.failure || this.keptMemory !== memory) {
      had?.terminate();
      this.kept = DataWorkers.start(this.workers, module, memory);
      this.keptMemory = memory;
    }
    return { workers: await this.kept, kept: true };
  }
}

interface Ready { value: Batch; tensors: Tensor[] }

/** One column's layout for this epoch: from the TensorDataset, or fixed by the first item seen. */
interface ColumnInfo { shape: number[]; dtype: DType; plan: ColumnPlan | null }

class EpochIterator implements AsyncIterator<Batch> {
  private cpu!: WasmBackend;
  private workers: DataWorkers | null = null;
  private keptWorkers = false;
  private started: Promise<void> | null = null;
  private order: Int32Array | null = null;
  private total = Infinity; // batches; known up front for random-access datasets
  private planned = 0;
  private yielded = 0;
  private readonly inflight = new Map<number, Promise<Ready | null>>();
  private last: Tensor[] = [];
  private done = false;
  private columns: ColumnInfo[] | null = null;
  /** True when an item is a tuple of columns (yield an array), false for a single column. */
  private tuple = true;
  private sources: Tensor[] = []; // TensorDataset sources on the cpu, contiguous (owned views/copies)
  private iter: AsyncIterator<Item> | Iterator<Item> | null = null;
  private pull: Promise<unknown> = Promise.resolve();
  private ended = false; // the iterable dataset ran out
  private readonly t0 = performance.now();
  private readonly stats: EpochStats;

  constructor(private readonly loader: DataLoader, private readonly epoch: number, private readonly steps: [readonly Transform[], readonly Transform[]]) {
    this.stats = { epoch, batches: 0, samples: 0, workers: 0, waitMs: 0, prepareMs: 0, planMs: 0, elapsedMs: 0 };
    loader.stats = this.stats;
  }

  async next(): Promise<IteratorResult<Batch>> {
    if (this.done) return { done: true, value: undefined };
    this.release();
    try {
      await (this.started ??= this.start());
    } catch (e) {
      await this.close();
      throw e;
    }
    // Planned ahead by the previous call unless prefetch is 0 (or this is the first call).
    if (!this.inflight.has(this.yielded)) this.fill(true);
    const k = this.yielded, p = this.inflight.get(k);
    if (!p) {
      await this.close();
      return { done: true, value: undefined };
    }
    const t0 = performance.now();
    this.workers?.poll(); // finished batches settle now, not an event-loop turn later
    let ready: Ready | null;
    try {
      ready = await p;
    } catch (e) {
      this.inflight.delete(k);
      await this.close();
      throw e;
    }
    const t1 = performance.now();
    // A worker died, even one that held no batch: the epoch cannot go on as planned.
    const died = this.workers?.failure;
    if (died) {
      this.inflight.delete(k);
      if (ready) this.last = ready.tensors;
      await this.close();
      throw died;
    }
    this.stats.waitMs += t1 - t0;
    if (tracing && t1 - t0 > 0.01) span('wait', 'data', 'host', t0, t1, { batch: k });
    this.inflight.delete(k);
    this.yielded++;
    if (ready === null) {
      await this.close();
      return { done: true, value: undefined };
    }
    this.last = ready.tensors;
    this.stats.batches++;
    this.stats.samples += ready.tensors[0]?.shape[0] ?? 0;
    this.fill(false);
    return { done: false, value: ready.value };
  }

  async return(): Promise<IteratorResult<Batch>> {
    await this.close();
    return { done: true, value: undefined };
  }

  /** Engine, workers, order and sources for the epoch. */
  private async start(): Promise<void> {
    this.cpu = backends('DataLoader').cpu;
    const ds = this.loader.dataset;
    if (this.loader.device === 'gpu' && !backends('DataLoader').gpu) throw new DeviceError("DataLoader: device 'gpu' but init() found no WebGPU adapter");
    if (ds instanceof TensorDataset) {
      this.columns = [];
      for (const [i, t] of ds.tensors.entries()) {
        if (t.disposed) throw new DataError(`DataLoader: TensorDataset tensor ${i} was disposed`);
        // Workers read rows in place: the source must be a contiguous cpu buffer for the epoch.
        let src = t.device === 'cpu' ? t.view('DataLoader', t.shape, t.strides, t.offset) : await t.to('cpu');
        if (!src.isContiguous) {
          const c = copyTo(src, 'cpu', 'DataLoader');
          src.dispose();
          src = c;
        }
        this.sources.push(src);
        this.columns.push(this.column(i, t.shape.slice(1), t.dtype));
      }
      this.tuple = true;
    }
    const random = typeof (ds as Dataset).get === 'function';
    if (random) {
      const n = (ds as Dataset).length;
      if (!Number.isInteger(n) || n < 0) throw new TandemError(`DataLoader: dataset.length must be a non-negative integer, got ${n}`);
      this.order = this.loader.shuffle ? permutation(n, this.loader.seed, this.epoch) : Int32Array.from({ length: n }, (_, i) => i);
      this.total = this.loader.length as number;
    } else {
      const it = ds as Partial<AsyncIterable<Item> & Iterable<Item>>;
      this.iter = it[Symbol.asyncIterator] !== undefined ? it[Symbol.asyncIterator]!() : it[Symbol.iterator]!();
    }
    const raw = this.cpu.raw;
    if (this.loader.workers > 0 && raw.shared && !this.loader.opts.collate) {
      ({ workers: this.workers, kept: this.keptWorkers } = await this.loader.startWorkers(raw.module, raw.memory));
    }
    this.stats.workers = this.workers?.count ?? 0;
  }

  private column(i: number, shape: number[], dtype: DType): ColumnInfo {
    const steps = this.steps[i] ?? [];
    return { shape, dtype, plan: this.loader.opts.collate ? null : compileColumn(steps, shape, dtype, i === 0 ? 'transform (column 0)' : i === 1 ? 'targetTransform (column 1)' : `column ${i}`) };
  }

  /**
   * Plan batches up to `prefetch` past the next one the loop will take, and that one too when
   * the loop is asking for it now (`asking`): with prefetch 0, a batch is made only on demand.
   */
  private fill(asking: boolean): void {
    const upTo = this.yielded + this.loader.prefetch + (asking ? 1 : 0);
    while (!this.done && this.planned < Math.min(this.total, upTo) && !this.ended) {
      const k = this.planned++;
      const p = this.prepare(k);
      p.catch(() => {}); // awaited by next(); a batch that fails before then must not be "unhandled"
      this.inflight.set(k, p);
    }
  }

  /** Batch k: its sample ids, raw items if any, the job, and its run. Null past the end. */
  private async prepare(k: number): Promise<Ready | null> {
    await null; // allocate outside the caller's synchronous frame (and any tidy scope in it)
    const B = this.loader.batchSize;
    let ids: Int32Array, items: Item[] | null = null;
    if (this.order) {
      ids = this.order.subarray(k * B, Math.min((k + 1) * B, this.order.length));
    } else {
      items = await this.take(B);
      ids = Int32Array.from({ length: items.length }, (_, i) => k * B + i);
      if (items.length === 0 || (this.loader.dropLast && items.length < B)) return null;
    }
    if (ids.length === 0) return null;
    if ((!(this.loader.dataset instanceof TensorDataset) || this.loader.opts.collate) && items === null) {
      const ds = this.loader.dataset as Dataset;
      items = await Promise.all(Array.from(ids, async (i) => {
        try {
          return await ds.get(i);
        } catch (e) {
          throw new DataError(`DataLoader: dataset.get(${i}) threw: ${(e as Error)?.message ?? e}`);
        }
      }));
    }
    if (this.loader.opts.collate) return this.collated(items as Item[]);
    const staged = items ? await this.stage(items, ids) : null;
    const tPlan = performance.now();
    const outs: Tensor[] = [];
    let safe = true;
    try {
      const cols = this.columns as ColumnInfo[];
      const job: BatchJob = { n: ids.length, ids: Int32Array.from(ids), cols: [] };
      // Where each sample's item is: its dataset index (rows read in place), or its row of the staged batch.
      const index = staged ? Int32Array.from({ length: ids.length }, (_, s) => s) : job.ids;
      const fns: ColumnPlan['customs'] = [], sources: string[] = [];
      cols.forEach((c, i) => {
        const plan = c.plan as ColumnPlan;
        const out = this.alloc([ids.length, ...plan.outShape], plan.outDType);
        outs.push(out);
        const { window, seeds } = drawSamples(plan, this.loader.seed, this.epoch, k * B, ids.length, i);
        const customs = plan.customs.map((fn, j) => { fns.push(fn); sources.push(plan.customSources[j]); return fns.length - 1; });
        const src = staged ? staged[i] : this.sources[i];
        job.cols.push({
          kind: plan.kind, src: this.ptr(src), srcStride: plan.inBytes, dst: this.ptr(out), dstStride: plan.outBytes,
          index,
          h: plan.h, w: plan.w, ch: plan.ch, oh: plan.oh, ow: plan.ow, window, affine: plan.affine,
          classes: plan.classes, labelDType: plan.inDType === 'u8' ? 'u8' : 'i32',
          customs, viewDType: plan.outDType as ColumnJob['viewDType'], viewShape: plan.outShape, seeds,
        });
      });
      let timing: JobTiming;
      try {
        const tPlanned = performance.now();
        this.stats.planMs += tPlanned - tPlan;
        if (tracing) span('data', `plan ${k}`, 'host', tPlan, tPlanned, { batch: k });
        timing = await this.run(job, fns, sources);
      } catch (e) {
        const err = e as Error & { sample?: number; unsafe?: boolean };
        // A worker that died may still have been writing: its buffers are not reused.
        if (err.unsafe) safe = false;
        const at = err.sample !== undefined ? `item ${ids[err.sample]} (batch ${k}, sample ${err.sample}): ` : `batch ${k}: `;
        throw new DataError(`DataLoader: ${at}${err.message.replace(/^DataLoader: /, '')}`);
      }
      this.stats.prepareMs += timing.t1 - timing.t0;
      if (tracing) span('data', `batch ${k}`, 'data', timing.t0, timing.t1, { batch: k, worker: timing.worker });
    } catch (e) {
      if (safe) for (const t of outs) t.dispose();
      throw e;
    } finally {
      if (staged && safe) for (const t of staged) t.dispose();
    }
    return this.land(outs);
  }

  /** Run a job on a worker, or here in a later task (so the loop's own work goes first). */
  private async run(job: BatchJob, fns: ColumnPlan['customs'], sources: string[]): Promise<JobTiming> {
    if (this.workers) {
      return this.workers.run(job, sources);
    }
    // Prefetched batches wait for a later task, so the loop gets the batch it asked for first.
    if (this.loader.prefetch > 0) await laterTask();
    if (this.done) throw new DataError('DataLoader: the loop ended');
    const raw = this.cpu.raw, t0 = performance.now();
    runJob(raw.exports, raw.memory, job, fns);
    return { worker: -1, t0, t1: performance.now() };
  }

  /** The next up to n items of an iterable dataset, in order across concurrent batches. */
  private take(n: number): Promise<Item[]> {
    const got = this.pull.then(async () => {
      const out: Item[] = [];
      while (!this.ended && out.length < n) {
        const r = await (this.iter as AsyncIterator<Item>).next();
        if (r.done) this.ended = true;
        else out.push(r.value);
      }
      return out;
    });
    this.pull = got.catch(() => {});
    return got;
  }

  /** Items' columns checked against the epoch's layout (set by the first item) and packed into raw batch tensors. */
  private async stage(items: Item[], ids: Int32Array): Promise<Tensor[]> {
    const values = await Promise.all(items.map(async (item, s) => {
      const cols = Array.isArray(item) ? (item as readonly Column[]) : [item as Column];
      if (this.columns === null) this.tuple = Array.isArray(item);
      return Promise.all(cols.map((c, i) => columnValue(c, ids[s], Array.isArray(item) ? i : -1)));
    }));
    this.columns ??= values[0].map((v, i) => this.column(i, v.shape, v.dtype));
    const cols = this.columns;
    values.forEach((row, s) => {
      if (row.length !== cols.length) throw new DataError(`DataLoader: item ${ids[s]} has ${row.length} columns, earlier items had ${cols.length}`);
      row.forEach((v, i) => {
        const c = cols[i];
        if (v.dtype !== c.dtype) throw new DataError(`DataLoader: item ${ids[s]} (column ${i}) is ${v.dtype}, earlier items were ${c.dtype}`);
        if (v.shape.length !== c.shape.length || v.shape.some((d, j) => d !== c.shape[j])) {
          throw new DataError(`DataLoader: item ${ids[s]} (column ${i}) has shape ${fmtShape(v.shape)}, earlier items had ${fmtShape(c.shape)}`);
        }
      });
    });
    const staged = cols.map((c) => this.alloc([items.length, ...c.shape], c.dtype));
    const mem = new Uint8Array(this.cpu.raw.memory.buffer);
    cols.forEach((c, i) => {
      const at = this.ptr(staged[i]), bytes = numel(c.shape) * ITEM_BYTES[c.dtype];
      values.forEach((row, s) => mem.set(row[i].bytes, at + s * bytes));
    });
    return staged;
  }

  /** A user collate's batch, moved to the device. */
  private async collated(items: Item[]): Promise<Ready> {
    const value = await (this.loader.opts.collate as NonNullable<DataLoaderOptions['collate']>)(items);
    const list = Array.isArray(value) ? value : [value];
    if (list.length === 0 || !list.every((t) => t instanceof Tensor)) throw new DataError('DataLoader: collate must return a tensor or an array of tensors');
    return this.land(list, !Array.isArray(value));
  }

  /** Move a finished batch to the device: uploads start now, queued by the scheduler. */
  private land(tensors: Tensor[], single = !this.tuple): Ready {
    if (this.loader.device !== 'cpu') {
      tensors = tensors.map((t) => {
        if (t.device === this.loader.device) return t;
        const moved = copyTo(t, this.loader.device, 'DataLoader');
        moved.pinned = true;
        t.dispose();
        return moved;
      });
    }
    return { value: single ? tensors[0] : tensors, tensors };
  }

  private alloc(shape: number[], dtype: DType): Tensor {
    const bytes = numel(shape) * ITEM_BYTES[dtype];
    return new Tensor(shape, dtype, 'cpu', new Storage(this.cpu, this.cpu.alloc(bytes), bytes));
  }

  private ptr(t: Tensor): number {
    return ((t.storage('DataLoader').buf as WasmBuf).ptr) + t.offset * ITEM_BYTES[t.dtype];
  }

  /** Free the batch the loop had. */
  private release(): void {
    for (const t of this.last) t.dispose();
    this.last = [];
  }

  /** End the epoch: wait (bounded) for batches in flight, free them, end the workers and sources. */
  private async close(): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.release();
    const pending = [...this.inflight.values()];
    this.inflight.clear();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<'late'>((r) => { timer = setTimeout(() => r('late'), CLOSE_WAIT_MS); });
    const settled = await Promise.race([Promise.allSettled(pending.map(async (p) => {
      const r = await p;
      if (r) for (const t of r.tensors) t.dispose();
    })), late]);
    clearTimeout(timer);
    // Kept workers stay for the next epoch unless one died or a batch is still running on them.
    if (!this.keptWorkers || settled === 'late' || this.workers?.failure) {
      this.workers?.terminate();
      if (this.keptWorkers) await this.loader.close();
    }
    this.workers = null;
    for (const t of this.sources) t.dispose();
    this.sources = [];
    if (this.iter && !this.ended) await (this.iter as AsyncIterator<Item>).return?.();
    this.stats.elapsedMs = performance.now() - this.t0;
  }
}
