/**
 * The op dispatcher: check the inputs (tensors, not disposed, dtypes the op accepts), ask the
 * op's table row for a plan, place it (src/sched/place.ts: the inputs' device, a forced one, or
 * the cost model's choice), copy inputs that live elsewhere, make non-contiguous inputs
 * contiguous, allocate the output and run one kernel. With a pending input the kernel is
 * deferred on its engine's stream and the output returned pending (src/sched/stream.ts).
 */
import type { DeviceKind } from './backend/backend.js';
import { type DType, ITEM_BYTES, type Shape, checkShape, numel } from './dtype.js';
import { DeviceError, TandemError } from './errors.js';
import { OPS, type OpName, type Plan, checkInputDTypes } from './ops/ops.js';
import { backendFor } from './runtime.js';
import { forcedPlacement, place } from './sched/place.js';
import { STREAMS, anyPending, copyTo, defer } from './sched/stream.js';
import { span, tracing } from './sched/trace.js';
import { Storage, Tensor } from './tensor.js';
import { record, state as grad } from './autograd/tape.js';

export function apply(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  if (castHook !== null) return applyCast(op, inputs, attrs);
  const out = dispatch(op, inputs, attrs);
  if (grad.recording) record(op, inputs, out, attrs); // the tape (src/autograd/tape.ts)
  return out;
}

/**
 * apply() inside an autocast region: the op runs (and is recorded) on the policy's casts, which
 * are disposed after (the tape holds its own handles of what it saved).
 */
function applyCast(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  checkInputs(op, inputs);
  const cast = castHook!(op, inputs);
  if (cast === null) {
    const out = dispatch(op, inputs, attrs);
    if (grad.recording) record(op, inputs, out, attrs);
    return out;
  }
  try {
    const out = dispatch(op, cast, attrs);
    if (grad.recording) record(op, cast, out, attrs);
    return out;
  } finally {
    for (let i = 0; i < cast.length; i++) if (cast[i] !== inputs[i]) cast[i].dispose();
  }
}

function dispatch(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  const row = OPS[op];
  const [lo, hi] = typeof row.arity === 'number' ? [row.arity, row.arity] : row.arity;
  if (inputs.length < lo || inputs.length > hi) throw new TandemError(`${op}: expects ${lo === hi ? lo : `${lo} to ${hi}`} tensor(s), got ${inputs.length}`);
  checkInputs(op, inputs);
  checkInputDTypes(op, inputs.map((t) => t.dtype));
  const plan = (row.plan as (s: Shape[], a: unknown, d: DType[]) => Plan)(inputs.map((t) => t.shape), attrs ?? {}, inputs.map((t) => t.dtype));
  const device = place(op, inputs, plan);
  let moved: Tensor[] | null = null;
  for (let i = 0; i < inputs.length; i++) {
    if (inputs[i].device !== device) {
      moved ??= inputs.slice();
      moved[i] = copyTo(inputs[i], device, op);
    }
  }
  if (moved === null) return run(op, inputs, plan, device, forcedPlacement(inputs));
  try {
    return run(op, moved, plan, device, forcedPlacement(inputs));
  } finally {
    for (let i = 0; i < moved.length; i++) if (moved[i] !== inputs[i]) moved[i].dispose(); // deferred work holds its own reference
  }
}

/**
 * @internal The autocast policy while a region is open (src/amp/autocast.ts sets it): it may
 * return the inputs replaced by casts. Null otherwise, so the dispatcher pays one check.
 */
let castHook: ((op: OpName, inputs: Tensor[]) => Tensor[] | null) | null = null;
/** @internal */
export function setCastHook(hook: typeof castHook): void { castHook = hook; }

/** Inputs are Tensors and alive. */
export function checkInputs(op: string, inputs: Tensor[]): void {
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TandemError(`${op}: argument ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    t.storage(op);
  });
}

/** Inputs are on one device (ops outside the table, which do not place: concat). */
export function checkSameDevice(op: string, inputs: readonly Tensor[]): void {
  const device = inputs[0]?.device;
  if (inputs.some((t) => t.device !== device)) {
    throw new DeviceError(`${op}: inputs are on different devices (${inputs.map((x) => x.device).join(', ')}); move one with \`T.to(t, '${device}')\``);
  }
}

/**
 * Run a planned kernel on `device` (default: the first input's), on contiguous copies of the
 * inputs where needed; every input must already be on that device.
 */
export function run(op: string, inputs: Tensor[], plan: Plan, device: DeviceKind = inputs[0].device, pinned = false): Tensor {
  const dtype = plan.dtype ?? inputs[0].dtype;
  const backend = device === inputs[0].device ? inputs[0].backend : backendFor(device, op);
  const size = numel(plan.shape);
  const bytes = size * ITEM_BYTES[dtype];
  const shape = checkShape(plan.shape as number[], op);
  const out = backend.alloc(bytes);
  if (anyPending(inputs, op)) {
    const storage = new Storage(backend, out, bytes);
    const result = new Tensor(shape, dtype, device, storage);
    result.pinned = pinned;
    const deps = inputs.map((t) => t.storage(op));
    defer(STREAMS[device], deps, [storage], () => {
      if (size > 0) runNow(op, inputs, deps, plan, backend, storage.buf);
    });
    return result;
  }
  try {
    if (size > 0) runNow(op, inputs, null, plan, backend, out);
  } catch (e) {
    backend.free(out);
    throw e;
  }
  const result = new Tensor(shape, dtype, device, new Storage(backend, out, bytes));
  if (pinned) result.pinned = true;
  return result;
}

function runNow(op: string, inputs: Tensor[], storages: Storage[] | null, plan: Plan, backend: ReturnType<typeof backendFor>, out: unknown): void {
  const t0 = tracing ? performance.now() : 0;
  const temps: unknown[] = [];
  try {
    const bufs = inputs.map((t, i) => {
      const m = t.materialize(op, storages ? storages[i] : t.storage(op));
      if (m.temp) temps.push(m.buf);
      return m.buf;
    });
    backend.run(plan.kernel, bufs, out, plan.params as never);
  } finally {
    for (const b of temps) backend.free(b);
    // gpu spans are the batches' (webgpu.ts); here the host's encode time would mislead.
    if (tracing && backend.kind !== 'gpu') span('compute', op, backend.kind, t0);
  }
}
