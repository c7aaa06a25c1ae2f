/**
 * The pipelined loop of the scheduler issue, shared by bench/sched.bench.ts and a test: each
 * step decodes a u8 batch on the host, preprocesses it on the cpu (cast, scale, shift), uploads
 * it (T.to, through the staging ring), runs a linear + relu + row sum on the gpu, and reads the
 * small result ([batch] floats) back.
 *
 *   serialized: step i is issued, then its result awaited, then step i+1 is issued.
 *   pipelined:  step i+1 is issued (host preprocessing and upload staging included) before step
 *               i's result is awaited, so the host's half of step i+1 runs while the gpu
 *               computes step i, and the readback of step i shares a wait with that work.
 *
 * `overlaps(trace)` checks the trace's structure (not its times' values): the k-th upload span
 * belongs to step k, the k-th gpu batch with dispatches to step k; it counts the steps i whose
 * successor's upload span starts before step i's gpu batch completes as the host sees it (its
 * span's end for a host-timed span, `args.doneTs` for a gpu-timestamp one: the GPU's own end
 * can come earlier, when the GPU is faster than the host's issue of the next step). Plain
 * module: no Node imports, so the test runs it in every runtime.
 */
import * as T from '../src/index.ts';

export interface PipelineSize { batch: number; features: number; hidden: number }

/** The loop's fixed state: weights on the gpu, the host batches, the preprocessing constants. */
export function pipelineSetup(size: PipelineSize, steps: number) {
  const { batch, features, hidden } = size;
  let s = 12345;
  const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) - 0.5;
  const w = T.tensor(Float32Array.from({ length: hidden * features }, () => rnd() * 0.1), [hidden, features], { device: 'gpu' });
  const b = T.tensor(Float32Array.from({ length: hidden }, rnd), [hidden], { device: 'gpu' });
  const scale = T.tensor([1 / 255], [1], { device: 'cpu' }), shift = T.tensor([-0.5], [1], { device: 'cpu' });
  return { size, steps, w, b, scale, shift, dispose() { for (const t of [w, b, scale, shift]) t.dispose(); } };
}

type Setup = ReturnType<typeof pipelineSetup>;

/** Issue step k; returns its result's read (not awaited). */
function issue(p: Setup, k: number): Promise<Float32Array> {
  const { batch, features } = p.size;
  const host = new Uint8Array(batch * features); // the host's part: decode a batch, as a data loader would
  for (let i = 0, x = k + 1; i < host.length; i++) host[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  const y = T.tidy(() => {
    const x = T.onDevice('cpu', () => T.add(T.mul(T.cast(T.tensor(host, [batch, features], { dtype: 'u8' }), 'f32'), p.scale), p.shift));
    return T.sum(T.linear(T.to(x, 'gpu'), p.w, p.b, { activation: 'relu' }), -1);
  });
  const read = y.data() as Promise<Float32Array>;
  y.dispose(); // the read holds its own reference
  return read;
}

/** Run every step; returns the results, in order. */
export async function runLoop(p: Setup, mode: 'pipelined' | 'serialized'): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  let inFlight: Promise<Float32Array> | null = null;
  for (let k = 0; k < p.steps; k++) {
    const read = issue(p, k);
    if (mode === 'serialized') out.push(await read);
    else {
      // Step k's batch is submitted at the end of this task; the first step has no result to
      // wait on, so it yields once (otherwise steps 0 and 1 would share a submit).
      const prev = inFlight;
      inFlight = read;
      if (prev) out.push(await prev);
      else await null;
    }
  }
  if (inFlight) out.push(await inFlight);
  return out;
}

/** See the file comment. `steps` is how many step pairs could be checked. */
export function overlaps(trace: ReturnType<typeof T.stopTrace>): { steps: number; overlapped: number; uploads: number; batches: number } {
  const tid = (name: string) => trace.traceEvents.find((e) => e.ph === 'M' && (e.args as { name?: string })?.name === name)?.tid;
  const spans = trace.traceEvents.filter((e) => e.ph === 'X');
  const uploads = spans.filter((e) => e.tid === tid('upload') && e.cat === 'upload').sort((a, b) => a.ts - b.ts);
  const batches = spans.filter((e) => e.tid === tid('gpu') && e.cat === 'compute' && !/\(0 dispatches\)/.test(e.name)).sort((a, b) => a.ts - b.ts);
  const steps = Math.min(uploads.length, batches.length + 1) - 1;
  let overlapped = 0;
  const done = (e: T.TraceEvent) => (e.args?.doneTs as number | undefined) ?? e.ts + (e.dur ?? 0);
  for (let i = 0; i < steps; i++) if (uploads[i + 1].ts < done(batches[i])) overlapped++;
  return { steps, overlapped, uploads: uploads.length, batches: batches.length };
}
