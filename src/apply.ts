/**
 * The op dispatcher: check the inputs (tensors, not disposed, one device, dtypes the op
 * accepts), ask the op's table row for a plan, make non-contiguous inputs contiguous, allocate
 * the output and run one kernel on the inputs' device.
 */
import { type DType, ITEM_BYTES, type Shape, checkShape, numel } from './dtype.js';
import { DeviceError, TandemError } from './errors.js';
import { OPS, type OpName, type Plan, checkInputDTypes } from './ops/ops.js';
import { Storage, Tensor } from './tensor.js';

export function apply(op: OpName, inputs: Tensor[], attrs?: unknown): Tensor {
  const row = OPS[op];
  const [lo, hi] = typeof row.arity === 'number' ? [row.arity, row.arity] : row.arity;
  if (inputs.length < lo || inputs.length > hi) throw new TandemError(`${op}: expects ${lo === hi ? lo : `${lo} to ${hi}`} tensor(s), got ${inputs.length}`);
  checkInputs(op, inputs);
  checkInputDTypes(op, inputs.map((t) => t.dtype));
  const plan = (row.plan as (s: Shape[], a: unknown, d: DType[]) => Plan)(inputs.map((t) => t.shape), attrs ?? {}, inputs.map((t) => t.dtype));
  return run(op, inputs, plan);
}

/** Inputs are Tensors, alive, and on one device. */
export function checkInputs(op: string, inputs: Tensor[]): void {
  inputs.forEach((t, i) => {
    if (!(t instanceof Tensor)) throw new TandemError(`${op}: argument ${i} is not a Tensor (got ${t === null ? 'null' : typeof t})`);
    t.storage(op);
  });
  const device = inputs[0]?.device;
  if (inputs.some((t) => t.device !== device)) {
    throw new DeviceError(`${op}: inputs are on different devices (${inputs.map((x) => x.device).join(', ')}); move one with \`await t.to('${device}')\``);
  }
}

/** Run a planned kernel on contiguous copies of the inputs where needed. */
export function run(op: string, inputs: Tensor[], plan: Plan): Tensor {
  const dtype = plan.dtype ?? inputs[0].dtype;
  const backend = inputs[0].backend;
  const size = numel(plan.shape);
  const bytes = size * ITEM_BYTES[dtype];
  const out = backend.alloc(bytes);
  const temps: unknown[] = [];
  try {
    if (size > 0) {
      const bufs = inputs.map((t) => {
        const m = t.materialize(op);
        if (m.temp) temps.push(m.buf);
        return m.buf;
      });
      backend.run(plan.kernel, bufs, out, plan.params as never);
    }
  } catch (e) {
    backend.free(out);
    throw e;
  } finally {
    for (const b of temps) backend.free(b);
  }
  return new Tensor(checkShape(plan.shape as number[], op), dtype, inputs[0].device, new Storage(backend, out, bytes));
}
