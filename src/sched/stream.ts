/**
 * Streams and fences: how an op returns its tensor at once when its inputs are not there yet.
 *
 * Work whose inputs are ready runs (or, on the gpu, is encoded) synchronously, as before: the
 * fast path only checks one field per input. Work with a pending input (a Storage whose
 * `fence` is set, see src/tensor.ts) is *deferred*: its output storage is allocated now and
 * gets a fence of its own, and the work runs on its engine's stream once the inputs' fences
 * resolve. A stream is a FIFO: deferred work on one engine runs in issue order. If a fence
 * rejects, the work is skipped and its outputs' fences reject with the same error, so the
 * error reaches the `data()` of every tensor downstream; nothing is ever read as zeros.
 *
 * Lifetimes: deferred work holds a reference on its inputs' and outputs' storage until it has
 * run, so disposing a pending tensor (or an input of pending work) is safe; the buffer is freed
 * when the work completes.
 *
 * Copies between devices (`copyTo`): ready host data (cpu, ref) goes to the gpu synchronously,
 * through the gpu backend's upload ring; a gpu source is read back asynchronously (the copy is
 * pending until the readback lands), its read issued at once so it sees exactly the work issued
 * before it.
 */
import type { Backend, DeviceKind } from '../backend/backend.js';
import { TandemError } from '../errors.js';
import { backendFor } from '../runtime.js';
import { Storage, Tensor } from '../tensor.js';
import { span, tracing } from './trace.js';

const noop = (): void => {};

/** One engine's queue of deferred work. */
export class Stream {
  private tail: Promise<void> = Promise.resolve();
  constructor(readonly name: string) {}

  /** Run `work` after everything enqueued before and after `wait`; rejects as either does. */
  enqueue(wait: Promise<unknown>, work: () => void): Promise<void> {
    const done = this.tail.then(() => wait).then(work);
    this.tail = done.then(noop, noop);
    return done;
  }
}

export const STREAMS: Record<DeviceKind, Stream> = { cpu: new Stream('cpu'), gpu: new Stream('gpu'), ref: new Stream('ref') };

/** True when any input's storage is pending (the one check the fast path pays). */
export function anyPending(inputs: readonly Tensor[], op: string): boolean {
  for (let i = 0; i < inputs.length; i++) if (inputs[i].storage(op).fence !== null) return true;
  return false;
}

/**
 * Run `work` once the fences of `deps` resolve: on `stream` in issue order, or (stream null)
 * as soon as they do, at once when none is pending (async work such as a readback). `outs`
 * are pending until it completes and fail with its error. deps and outs are held meanwhile.
 */
export function defer(stream: Stream | null, deps: readonly Storage[], outs: readonly Storage[], work: () => void | Promise<void>): Promise<void> {
  for (const s of deps) s.refs++;
  for (const s of outs) s.refs++;
  const fences = deps.map((s) => s.fence).filter((f): f is Promise<void> => f !== null);
  let done: Promise<void>;
  if (stream) done = stream.enqueue(fences.length ? Promise.all(fences) : Promise.resolve(), work);
  else if (fences.length) done = Promise.all(fences).then(work);
  else {
    try {
      done = Promise.resolve(work());
    } catch (e) {
      done = Promise.reject(e);
    }
  }
  for (const o of outs) o.fence = done;
  const release = (): void => {
    for (const s of deps) s.release();
    for (const s of outs) s.release();
  };
  done.then(() => {
    for (const o of outs) if (o.fence === done) o.fence = null;
    release();
  }, release);
  return done;
}

/** Await a fence; errors that are not Tandem's own (a DOMException from a lost map) are wrapped. */
export async function waitFence(fence: Promise<void>, op: string): Promise<void> {
  const t0 = tracing ? performance.now() : 0;
  try {
    await fence;
  } catch (e) {
    if (e instanceof TandemError) throw e;
    throw new TandemError(`${op}: the work producing this tensor failed: ${(e as Error)?.message ?? e}`);
  } finally {
    if (tracing) span('wait', op, 'host', t0);
  }
}

/**
 * A copy of `t` on `device`, returned at once (pending until it lands; see the file comment).
 * Not pinned: callers that mean a placement (Tensor.to, T.to) pin it.
 */
export function copyTo(t: Tensor, device: DeviceKind, op: string): Tensor {
  const s = t.storage(op);
  const dst = backendFor(device, op);
  const bytes = t.byteLength;
  const out = new Storage(dst, dst.alloc(bytes), bytes);
  const result = new Tensor(t.shape, t.dtype, device, out);
  if (bytes === 0) return result;
  const src = s.backend;
  if (src.readSync) {
    const copy = (): void => hostCopy(t, s, src, dst, out.buf, bytes, op);
    if (s.fence === null) {
      try {
        copy();
      } catch (e) {
        result.dispose();
        throw e;
      }
    } else defer(STREAMS[device], [s], [out], copy);
  } else {
    defer(null, [s], [out], async () => {
      const t0 = tracing ? performance.now() : 0;
      const { buf, temp } = t.materialize(op, s);
      try {
        const got = src.read(buf, bytes);
        if (temp) src.free(buf); // ordered after the read on the source's queue
        dst.write(out.buf, await got);
      } finally {
        if (tracing) span('download', `${op} ${bytes} B`, 'download', t0);
      }
    });
  }
  return result;
}

/** Copy a host-visible source's elements into dst's buffer now (upload ring on the gpu). */
function hostCopy(t: Tensor, s: Storage, src: Backend, dst: Backend, into: unknown, bytes: number, op: string): void {
  const t0 = tracing ? performance.now() : 0;
  const { buf, temp } = t.materialize(op, s);
  try {
    dst.write(into, src.readSync!(buf, bytes));
  } finally {
    if (temp) src.free(buf);
    if (tracing) span(dst.kind === 'gpu' ? 'upload' : 'compute', `${op} ${bytes} B`, dst.kind === 'gpu' ? 'upload' : dst.kind, t0);
  }
}
