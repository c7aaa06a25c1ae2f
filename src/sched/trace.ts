/**
 * The trace: `startTrace()` ... `stopTrace()` records spans of work as Chrome trace-event JSON
 * (`{ traceEvents }`, complete events `ph: 'X'`, ts and dur in microseconds), which Perfetto
 * and chrome://tracing open. One `tid` per stream, named by `thread_name` metadata events.
 *
 * Times are host times (performance.now()): a cpu kernel's span is the kernel itself; a gpu
 * batch's span runs from its submit to onSubmittedWorkDone, so it includes the queue's wait;
 * a download's from the readback's issue to its bytes on the host. GPU timestamp queries are
 * not used yet (they need query sets written by webgpu.ts' compute passes; SwiftShader lists
 * `timestamp-query`), so a gpu span cannot tell queue wait from execution.
 *
 * Placement decisions are not in the trace: `startExplain()` / `explain()` (place.ts) keep them.
 *
 * Cost when off: callers test the exported `tracing` flag before reading the clock.
 */
export type TraceCategory = 'compute' | 'upload' | 'download' | 'compile' | 'wait';
/** The streams spans belong to, each drawn as one thread. */
export type TraceStream = 'cpu' | 'gpu' | 'ref' | 'upload' | 'download' | 'compile' | 'host';

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

const TIDS: Record<TraceStream, number> = { cpu: 1, gpu: 2, upload: 3, download: 4, compile: 5, host: 6, ref: 7 };

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

/** Record a span from `t0` (performance.now() ms) to now, or to `t1`. */
export function span(cat: TraceCategory, name: string, stream: TraceStream, t0: number, t1 = performance.now(), args?: Record<string, unknown>): void {
  if (!tracing) return;
  events.push({ name, cat, ph: 'X', ts: Math.round(t0 * 1000), dur: Math.max(0, Math.round((t1 - t0) * 1000)), pid: 1, tid: TIDS[stream], ...(args ? { args } : {}) });
}
