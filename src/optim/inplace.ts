/**
 * In-place kernel calls on tensors' own storage: the fused optimizer updates, the GradScaler's
 * unscale pass and state-dict loads write into a parameter (or gradient) buffer rather than a
 * new tensor, so apply() (which always allocates an output) does not fit them.
 *
 * Contract: `target` (the kernel's output, read and written) and every tensor in `written`
 * (inputs the kernel also writes: optimizer state) are contiguous and on one device; other
 * inputs are copied there when they live elsewhere. Ready operands run at once. With a pending
 * operand, or a `gate` (a promise the GradScaler resolves to true to skip the update), the call
 * is deferred on the device's stream like any deferred op (src/sched/stream.ts): it holds its
 * storages, and the written tensors are pending until it has run, so later ops on them wait.
 * Inputs may be disposed meanwhile (a tidy scope ending): their storage is held.
 */
import type { KernelName, KernelParams } from '../backend/backend.js';
import { DeviceError, TandemError } from '../errors.js';
import { STREAMS, copyTo } from '../sched/stream.js';
import type { Storage, Tensor } from '../tensor.js';

export interface InPlaceOptions<K extends KernelName> {
  /** Inputs the kernel also writes (they must be contiguous and on the target's device). */
  written?: readonly Tensor[];
  /** Resolves to true to skip the call; the call waits for it. */
  gate?: Promise<boolean>;
  /** Called when the call runs (not when skipped), just before the kernel. */
  onRun?: () => void;
  /** Params made when the call runs (so they may depend on state updated by earlier calls). */
  params: KernelParams[K] | (() => KernelParams[K]);
}

export function runInPlace<K extends KernelName>(op: string, kernel: K, target: Tensor, inputs: readonly Tensor[], opts: InPlaceOptions<K>): void {
  const device = target.device;
  for (const t of [target, ...(opts.written ?? [])]) {
    if (!t.isContiguous) throw new TandemError(`${op}: ${t} must be contiguous to be updated in place`);
    if (t.device !== device) throw new DeviceError(`${op}: ${t} is not on ${device} with the tensor it updates`);
  }
  const moved = inputs.map((t) => (t.device === device ? t : copyTo(t, device, op)));
  try {
    const deps = moved.map((t) => t.storage(op));
    const outs = [target, ...(opts.written ?? [])].map((t) => t.storage(op));
    const backend = target.backend;
    const work = (): void => {
      opts.onRun?.();
      const params = typeof opts.params === 'function' ? opts.params() : opts.params;
      const temps: unknown[] = [];
      try {
        const bufs = moved.map((t, i) => {
          const m = t.materialize(op, deps[i]);
          if (m.temp) temps.push(m.buf);
          return m.buf;
        });
        backend.run(kernel, bufs, outs[0].buf, params);
      } finally {
        for (const b of temps) backend.free(b);
      }
    };
    // Autograd refuses a backward through tensors saved before this write (Storage.version).
    for (const o of outs) o.version++;
    const all = [...deps, ...outs];
    if (opts.gate === undefined && all.every((s) => s.fence === null)) return work();
    deferWork(device, all, outs, opts.gate, work);
  } finally {
    moved.forEach((t, i) => { if (t !== inputs[i]) t.dispose(); });
  }
}

/** Enqueue work behind the fences of `holds` and the gate; `outs` are pending until it has run. */
function deferWork(device: Tensor['device'], holds: Storage[], outs: Storage[], gate: Promise<boolean> | undefined, work: () => void): void {
  let skip = false;
  const fences: Promise<unknown>[] = holds.map((s) => s.fence).filter((f): f is Promise<void> => f !== null);
  if (gate) fences.push(gate.then((s) => { skip = s; }));
  for (const s of holds) s.refs++;
  const done = STREAMS[device].enqueue(Promise.all(fences), () => { if (!skip) work(); });
  for (const o of outs) o.fence = done;
  const release = (): void => { for (const s of holds) s.release(); };
  done.then(() => {
    for (const o of outs) if (o.fence === done) o.fence = null;
    release();
  }, release);
}
