/**
 * The op dispatcher: check the inputs (tensors, not disposed, dtypes the op accepts), ask the
 * op's table row for a plan, place it (src/sched/place.ts: the inputs' device, a forced one, or
 * the cost model's choice), copy inputs that live elsewhere, make non-contiguous inputs
 * contiguous, allocate the output and run one kernel. With a pending input the kernel is
 * deferred on its engine's stream and the output returned pending (src/sched/stream.ts).
 *
 * The hot path is the common case of small ops: inputs ready, not pinned, on one device that
 * placement keeps them on (`stays`: manual mode, one engine, or the mode's own device). It pays
 * one pass over the inputs (alive, pending, pinned, device, dtype), the plan, and the output;
 * no decision record unless one is being kept (explain / trace), no array but the plan's
 * arguments. Everything else (the cost model, copies, deferral) takes the general path.
 */
import type { Backend, DeviceKind } from './backend/backend.js';
import { type DType, ITEM_BYTES, type Shape, checkShape, numel } from './dtype.js';
import { DeviceError, TandemError } from './errors.js';
import { OPS, type OpName, type Plan, checkInputDTypes } from './ops/ops.js';
import { backendFor } from './runtime.js';
import { forcedPlacement, place, stays } from './sched/place.js';
import { STREAMS, anyPending, copyTo, defer } from './sched/stream.js';
import { span, tracing } from './sched/trace.js';
import { Storage, Tensor } from './tensor.js';
import { record, state as grad } from './autograd/tape.js';

type PlanFn = (s: Shape[], a: unknown, d: DType[]) => Plan;
const NO_ATTRS = Object.freeze({});

export function apply(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  if (castHook !== null) return applyCast(op, inputs, attrs);
  const out = dispatch(op, inputs, attrs);
  if (grad.recording) record(op, inputs, out, attrs ?? NO_ATTRS); // the tape (src/autograd/tape.ts)
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
    if (grad.recording) record(op, inputs, out, attrs ?? NO_ATTRS);
    return out;
  }
  try {
    const out = dispatch(op, cast, attrs);
    if (grad.recording) record(op, cast, out, attrs ?? NO_ATTRS);
    return out;
  } finally {
    for (let i = 0; i < cast.length; i++) if (cast[i] !== inputs[i]) cast[i].dispose();
  }
}

function dispatch(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  const row = OPS[op];
  const n = inputs.length, arity = row.arity;
  if (typeof arity === 'number' ? n !== arity : n < arity[0] || n > arity[1]) {
    const [lo, hi] = typeof arity === 'number' ? [arity, arity] : arity;
    throw new TandemError(`${op}: expects ${lo === hi ? lo : `${lo} to ${hi}`} tensor(s), got ${n}`);
  }
  // One pass: alive Tensors, the plan's arguments, and whether the hot path applies.
  const shapes = new Array<Shape>(n), dtypes = new Array<DType>(n);
  const device = n > 0 && inputs[0] instanceof Tensor ? inputs[0].device : 'cpu';
  let plain = true;
  for (let i = 0; i < n; i++) {
    const t = inputs[i];
    if (!(t instanceof Tensor)) throw new TandemError(`${op}: argument ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    if (t.storage(op).fence !== null || t.pinned || t.device !== device) plain = false;
    shapes[i] = t.shape;
    dtypes[i] = t.dtype;
  }
  checkInputDTypes(op, dtypes);
  const plan = (row.plan as PlanFn)(shapes, attrs ?? NO_ATTRS, dtypes);
  if (plain && stays(op, device)) return runReady(op, inputs, plan, device, inputs[0].backend, false);
  return placeAndRun(op, inputs, plan);
}

/** The general path: the placement decision, inserted copies, pins, deferral. */
function placeAndRun(op: OpName, inputs: Tensor[], plan: Plan): Tensor {
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
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (!(t instanceof Tensor)) throw new TandemError(`${op}: argument ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    t.storage(op);
  }
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
  const backend = device === inputs[0].device ? inputs[0].backend : backendFor(device, op);
  if (!anyPending(inputs, op)) return runReady(op, inputs, plan, device, backend, pinned);
  const dtype = plan.dtype ?? inputs[0].dtype;
  const size = numel(plan.shape);
  const bytes = size * ITEM_BYTES[dtype];
  const shape = checkShape(plan.shape as number[], op);
  const storage = new Storage(backend, backend.alloc(bytes), bytes);
  const result = new Tensor(shape, dtype, device, storage);
  result.pinned = pinned;
  const deps = inputs.map((t) => t.storage(op));
  defer(STREAMS[device], deps, [storage], () => {
    if (size > 0) runNow(op, inputs, deps, plan, backend, storage.buf);
  });
  return result;
}

/** Run now: every input is ready and on `backend`. */
function runReady(op: string, inputs: Tensor[], plan: Plan, device: DeviceKind, backend: Backend, pinned: boolean): Tensor {
  const dtype = plan.dtype ?? inputs[0].dtype;
  const size = numel(plan.shape);
  const bytes = size * ITEM_BYTES[dtype];
  const shape = checkShape(plan.shape as number[], op);
  const out = backend.alloc(bytes);
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

function runNow(op: string, inputs: Tensor[], storages: Storage[] | null, plan: Plan, backend: Backend, out: unknown): void {
  const t0 = tracing ? performance.now() : 0;
  let temps: unknown[] | null = null;
  try {
    const bufs = new Array<unknown>(inputs.length);
    for (let i = 0; i < inputs.length; i++) {
      const t = inputs[i], s = storages ? storages[i] : t.storage(op);
      if (t.isContiguous) bufs[i] = s.buf;
      else {
        const m = t.materialize(op, s);
        bufs[i] = m.buf;
        if (m.temp) (temps ??= []).push(m.buf);
      }
    }
    backend.run(plan.kernel, bufs, out, plan.params as never);
  } finally {
    if (temps) for (const b of temps) backend.free(b);
    // gpu spans are the batches' (webgpu.ts); here the host's encode time would mislead.
    if (tracing && backend.kind !== 'gpu') span('compute', op, backend.kind, t0);
  }
}
