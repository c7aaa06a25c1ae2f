/**
 * The trace: `startTrace()` ... `stopTrace()` records spans of work as Chrome trace-event JSON
 * (`{ traceEvents }`, complete events `ph: 'X'`, ts and dur in microseconds), which Perfetto
 * and chrome://tracing open. One `tid` per stream, named by `thread_name` metadata events.
 *
 * Times are on the host's timeline (performance.now()), and every span says its clock in
 * `args.clock`. 'host': a cpu kernel's span is the kernel itself; a download's runs from the
 * readback's issue to its bytes on the host; a gpu batch's, where the GPU cannot time it, from
 * its submit to its completion, queue wait included. 'gpu-timestamp': a gpu batch timed by the
 * GPU's timestamp queries, from its first compute pass's beginning to its last one's end,
 * placed on the host timeline inside its submit-to-completion window (backend/gpu-timestamps.ts).
 *
 * The data loader adds a 'data' stream (its batch jobs, on a worker's clock moved onto the
 * host's timeline by performance.timeOrigin) and 'wait' spans named 'data' on the host stream
 * (the loop waiting for a batch that was not ready).
 *
 * Placement decisions are not in the trace: `startExplain()` / `explain()` (place.ts) keep them.
 *
 * Cost when off: callers test the exported `tracing` flag before reading the clock.
 */
export type TraceCategory = 'compute' | 'upload' | 'download' | 'compile' | 'wait' | 'data';
/** The streams spans belong to, each drawn as one thread. */
export type TraceStream = 'cpu' | 'gpu' | 'ref' | 'upload' | 'download' | 'compile' | 'host' | 'data';

export interface TraceEvent {
  name: string;
  cat: TraceCategory | '__metadata';
  ph: 'X' | 'M';
  ts: number;
  dur?: number;
  pid: number;
  tid: number;
  args?: Record<string, unknown>;
}

const TIDS: Record<TraceStream, number> = { cpu: 1, gpu: 2, upload: 3, download: 4, compile: 5, host: 6, ref: 7, data: 8 };

/** True between startTrace() and stopTrace(). */
export let tracing = false;
let events: TraceEvent[] = [];

/** Start recording (drops a trace in progress). */
export function startTrace(): void {
  events = [];
  tracing = true;
}

/** Stop recording; the spans since startTrace(), with one thread name per stream. */
export function stopTrace(): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms' } {
  tracing = false;
  const meta: TraceEvent[] = (Object.keys(TIDS) as TraceStream[]).map((s) => ({ name: 'thread_name', cat: '__metadata', ph: 'M', ts: 0, pid: 1, tid: TIDS[s], args: { name: s } }));
  const out = { traceEvents: [...meta, ...events], displayTimeUnit: 'ms' as const };
  events = [];
  return out;
}

/** Record a span from `t0` (performance.now() ms) to now, or to `t1`; `args.clock` is 'host' unless given. */
export function span(cat: TraceCategory, name: string, stream: TraceStream, t0: number, t1 = performance.now(), args?: Record<string, unknown>): void {
  if (!tracing) return;
  events.push({ name, cat, ph: 'X', ts: Math.round(t0 * 1000), dur: Math.max(0, Math.round((t1 - t0) * 1000)), pid: 1, tid: TIDS[stream], args: { clock: 'host', ...args } });
}
