/**
 * The trace's gpu batch spans (src/sched/trace.ts), timed by the GPU with timestamp queries
 * where the device has `timestamp-query`, by the host otherwise. webgpu.ts calls `begin` when
 * it opens a batch's encoder while tracing, `passDescriptor` for each compute pass it opens,
 * `submitting` just before the submit, `submitted` after it.
 *
 * Granularity: one span per batch (stream `gpu`, `gpu batch (N dispatches)`, as the host spans),
 * from the beginning of its first compute pass to the end of its last. Each compute pass of the
 * batch carries `timestampWrites` (two queries). A batch's passes are its runs of dispatches
 * between copies (a write or read ends the pass), so copies between passes are inside the span
 * and copies before the first pass or after the last are not. Not per dispatch: that needs a
 * pass per dispatch, which would change the encoding being measured.
 *
 * Read back without a sync point of its own: the batch resolves its queries into a resolve
 * buffer and copies them into the backend's readback ring (src/alloc/staging.ts), so they ride
 * in the batch's own mapAsync, shared with the data reads of that batch. One query set and one
 * resolve buffer serve every batch (a pool of one): queue order puts batch k's resolve and copy
 * before batch k+1's writes of the same queries. They are made by the first timed batch, so a
 * backend that never traces makes no query set.
 *
 * Clock: timestamps are nanoseconds on the GPU's clock; a span goes on the host timeline
 * (performance.now() ms) at `gpu time + offset`. Every batch bounds the offset: the GPU cannot
 * have begun before the host called submit (t_submit, read after encoder.finish(), just before
 * queue.submit) nor ended after the host saw the readback (t_done), so offset is in [t_submit - g_begin, t_done - g_end]. `ClockAnchor`
 * keeps the latest lower bound (the earliest placement every submit allows, as NTP's
 * minimum-delay filter does), lowered only as far as a batch's upper bound forces. So each span
 * lies inside its own batch's [t_submit, t_done] by construction, and spans keep submission
 * order (a forced lowering could move one before the last by less than a quantization step).
 * `args.anchorUs` is the width of the offset's interval so far: the placement's error bound
 * (plus the implementation's quantization); `args.submitTs` / `args.doneTs` are the batch's host
 * window, so the queue's wait and the readback's delay stay visible.
 *
 * Fallback to the host span ([t_submit, t_done], `args.clock: 'host'`, `args.fallback` saying
 * why): no `timestamp-query`; tracing off when the batch opened; a batch without a compute pass
 * (copies only); more than MAX_PASSES passes; values unusable: all zero (then the device's
 * timestamps are given up for good), a pass ending before it begins, a pass beginning before
 * the one submitted before it, or a GPU interval longer than the host's window.
 *
 * Quirks seen: SwiftShader under Dawn (Node) returns real values: a host clock in ns (~2.7e13,
 * about the machine's uptime) with the low 16 bits cleared (Dawn's timestamp quantization:
 * steps of 65.536 us), so a short pass often has begin == end, a duration of 0, and a bound
 * can be off by one step (the anchor then moves, or the batch falls back). Deno (wgpu) and
 * Chromium with --enable-unsafe-webgpu return the same clock unquantized. In Deno a batch's
 * submit-to-readback window is ~12 ms longer than its work (its event loop polls the device),
 * so anchorUs there is ~10 ms, against ~0.1-0.5 ms in Node and ~1 ms in Chromium. Ends are not compared across passes: a GPU may
 * overlap passes that share no resource, so a pass can end after the next one begins.
 */
import { span } from '../sched/trace.js';

// GPUBufferUsage values from the WebGPU spec; the globals are absent in Node.
const QUERY_RESOLVE = 0x200, COPY_SRC = 0x04;
/** Compute passes timed per batch (two queries each); a batch with more gets a host span. */
export const MAX_PASSES = 64;

/** Where the batch's timestamps go: the backend's readback ring (ReadbackRing.reserve). */
export type Reserve = (bytes: number) => { buffer: GPUBuffer; offset: number; data: Promise<Uint8Array> };

/** One batch being timed, from the opening of its encoder to its span. */
export interface TimedBatch { passes: number; overflow: boolean }

export class GPUTimestamps {
  /** Query sets made (for tests: 0 until a batch is timed, at most 1 after). */
  querySets = 0;
  /** Why this device's timestamps were given up for good, or null. */
  broken: string | null = null;
  private querySet: GPUQuerySet | null = null;
  private resolveBuffer: GPUBuffer | null = null;
  private readonly anchor = new ClockAnchor();
  /** The batches' spans are made in submission order along this chain. */
  private chain: Promise<void> = Promise.resolve();
  private batches = 0;

  constructor(private readonly device: GPUDevice) {}

  /** A batch to time (tracing is on), or null when this device's timestamps were given up. */
  begin(): TimedBatch | null {
    return this.broken === null ? { passes: 0, overflow: false } : null;
  }

  /** The descriptor of the batch's next compute pass: its two timestamp writes, while room lasts. */
  passDescriptor(b: TimedBatch): GPUComputePassDescriptor | undefined {
    if (b.passes === MAX_PASSES) {
      b.overflow = true;
      return undefined;
    }
    if (!this.querySet) {
      this.querySet = this.device.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES, label: 'tandem trace timestamps' });
      this.resolveBuffer = this.device.createBuffer({ size: 16 * MAX_PASSES, usage: QUERY_RESOLVE | COPY_SRC, label: 'tandem trace timestamps' });
      this.querySets++;
    }
    const p = b.passes++;
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: 2 * p, endOfPassWriteIndex: 2 * p + 1 } };
  }

  /**
   * Before the submit: resolve the batch's queries and copy them into the readback ring. Returns
   * the bytes' promise, or why the batch gets a host span instead.
   */
  submitting(b: TimedBatch, encoder: GPUCommandEncoder, reserve: Reserve): Promise<Uint8Array> | string {
    if (b.overflow) return `more than ${MAX_PASSES} compute passes`;
    if (b.passes === 0) return 'no compute pass (copies only)';
    const bytes = 16 * b.passes;
    const slot = reserve(bytes);
    encoder.resolveQuerySet(this.querySet!, 0, 2 * b.passes, this.resolveBuffer!, 0);
    encoder.copyBufferToBuffer(this.resolveBuffer!, 0, slot.buffer, slot.offset, bytes);
    return slot.data;
  }

  /** After the submit (at host time `t0`, read before it): the batch's span once its bytes are read. */
  submitted(b: TimedBatch, data: Promise<Uint8Array>, t0: number, dispatches: number): void {
    const batch = this.batches++;
    const done = data.then(() => performance.now());
    done.catch(() => {}); // awaited below; a rejection is handled there
    this.chain = this.chain.then(async () => {
      let bytes: Uint8Array, t1: number;
      try {
        [bytes, t1] = await Promise.all([data, done]);
      } catch {
        return; // the device was lost or destroyed: no span, the backend reports it
      }
      const raw = new BigUint64Array(bytes.buffer, bytes.byteOffset, 2 * b.passes);
      let why = timestampProblem(raw, this.anchor.lastBegin);
      if (why === 'all timestamps are zero') this.broken = why;
      const placed = why === null ? this.anchor.place(raw[0], maxEnd(raw), t0, t1) : null;
      if (why === null && placed === null) why = 'the gpu interval is longer than the host window from submit to readback';
      // submitTs / doneTs: the host window it was placed in (µs, as ts), so a reader sees the wait too.
      if (placed) span('compute', batchName(dispatches), 'gpu', placed.t0, placed.t1, { clock: 'gpu-timestamp', batch, passes: b.passes, anchorUs: Math.round(placed.widthMs * 1000), submitTs: Math.round(t0 * 1000), doneTs: Math.round(t1 * 1000) });
      else span('compute', batchName(dispatches), 'gpu', t0, t1, { clock: 'host', batch, fallback: why });
    });
  }

  /** Resolves once the spans of the batches submitted so far are made (tests wait on it). */
  settled(): Promise<void> { return this.chain; }

  /** Destroy the query set and resolve buffer (no timed batch may be open); made again on use. */
  release(): void {
    this.querySet?.destroy();
    this.resolveBuffer?.destroy();
    this.querySet = null;
    this.resolveBuffer = null;
  }
}

/** A batch's host span: from just before its submit (`t0`) until the queue has done it. */
export function hostBatchSpan(queue: GPUQueue, dispatches: number, t0: number, fallback: string): void {
  queue.onSubmittedWorkDone().then(() => span('compute', batchName(dispatches), 'gpu', t0, performance.now(), { clock: 'host', fallback }), () => {});
}

const batchName = (dispatches: number) => `gpu batch (${dispatches} dispatches)`;

function maxEnd(raw: BigUint64Array): bigint {
  let end = raw[1];
  for (let i = 3; i < raw.length; i += 2) if (raw[i] > end) end = raw[i];
  return end;
}

/**
 * Why a batch's raw timestamps [begin0, end0, begin1, end1, ...] are unusable, or null.
 * `after`: the first begin of the previous batch whose timestamps were used (begins follow
 * submission order: a pass starts after the one submitted before it has started).
 */
export function timestampProblem(raw: BigUint64Array, after: bigint | null): string | null {
  if (raw.every((v) => v === 0n)) return 'all timestamps are zero';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i + 1] < raw[i]) return `pass ${i / 2} ends before it begins`;
    if (i > 0 && raw[i] < raw[i - 2]) return `pass ${i / 2} begins before pass ${i / 2 - 1}`;
  }
  if (after !== null && raw[0] < after) return 'the batch begins before the batch submitted before it';
  return null;
}

/**
 * The offset from the GPU's clock to the host's (see the file comment). `place` takes a batch's
 * GPU interval (ns) and its host window (ms) and returns the span in host ms, or null when the
 * interval cannot fit the window (then nothing changes).
 */
export class ClockAnchor {
  /** First begin of the last placed batch. */
  lastBegin: bigint | null = null;
  /** GPU times are kept relative to the first one seen, so they stay exact as doubles. */
  private base: bigint | null = null;
  private offset: number | null = null;
  /** The interval of offsets every batch so far allows (restarted when they stop intersecting). */
  private lo = -Infinity;
  private hi = Infinity;

  place(begin: bigint, end: bigint, submit: number, done: number): { t0: number; t1: number; widthMs: number } | null {
    this.base ??= begin;
    const g0 = Number(begin - this.base) / 1e6, g1 = Number(end - this.base) / 1e6;
    const lo = submit - g0, hi = done - g1;
    if (lo > hi) return null;
    // Raising the offset moves later spans later: order kept. Lowering it (forced by this
    // batch's upper bound: clock drift, quantization) moves it only as far as it must; as the
    // true offset lies in every batch's interval, that is less than one quantization step.
    this.offset = Math.min(Math.max(this.offset ?? lo, lo), hi);
    if (lo > this.hi || hi < this.lo) [this.lo, this.hi] = [lo, hi];
    else [this.lo, this.hi] = [Math.max(this.lo, lo), Math.min(this.hi, hi)];
    this.lastBegin = begin;
    return { t0: g0 + this.offset, t1: g1 + this.offset, widthMs: this.hi - this.lo };
  }
}
