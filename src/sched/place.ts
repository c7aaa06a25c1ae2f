/**
 * Placement: which engine runs an op. `init({ placement })` sets the mode:
 *   'auto'   (default when a gpu exists): the cost model (cost.ts) picks the cheaper engine,
 *            counting the copies of inputs that live on the other one, which apply() inserts;
 *   'cpu' | 'gpu': every op on that engine (inputs copied there);
 *   'manual' (the behaviour before the scheduler): the inputs' device; mixing is a DeviceError.
 * Forcing, in every mode but 'manual': inside `T.onDevice(d, fn)` ops run on d; otherwise an op
 * with *pinned* inputs (made with an explicit `device`, moved by `to`, or results of forced ops)
 * runs on their device, and when pinned inputs disagree the model picks between their devices.
 * 'ref' (the test oracle) never mixes: all inputs on 'ref' or a DeviceError.
 *
 * Decisions are kept only between `startExplain()` and `explain({ stop: true })` (off by default,
 * so an op pays nothing for them): a ring of preallocated records, no allocation per op.
 * `explain()` copies out the recent ones with their estimates.
 *
 * `stays` is apply()'s hot path: ready, unpinned inputs on one device that the mode keeps them
 * on (manual, 'ref', the mode's own device, or auto with the cpu as the only engine), outside
 * any onDevice scope. It decides without the cost model; the general path is `place`.
 */
import type { DeviceKind } from '../backend/backend.js';
import { ITEM_BYTES } from '../dtype.js';
import { DeviceError, TandemError } from '../errors.js';
import { type OpName, type Plan, opFlops } from '../ops/ops.js';
import type { Tensor } from '../tensor.js';
import { type Calibration, computeUs } from './cost.js';

export type Placement = 'auto' | 'cpu' | 'gpu' | 'manual';
export const PLACEMENTS: readonly Placement[] = ['auto', 'cpu', 'gpu', 'manual'];

/** Why a device was chosen. */
export type Reason = 'model' | 'pinned' | 'scope' | 'placement' | 'manual' | 'only-engine' | 'ref';

export interface Decision {
  op: string;
  device: DeviceKind;
  reason: Reason;
  /** Estimated µs on each engine including input copies (NaN when the model was not asked). */
  cpuUs: number;
  gpuUs: number;
  flops: number;
  /** Bytes of inputs and output. */
  bytes: number;
  /** Bytes of inputs copied to `device` for this op. */
  movedBytes: number;
}

let mode: Placement = 'manual';
let calibration: Calibration | null = null;
let gpuBackend: { readonly lost: boolean } | null = null;
/** Set while no calibration is measured: starts the measurement (once); defaults meanwhile. */
let measure: (() => Calibration) | null = null;
let scope: DeviceKind | null = null;

const RING = 256;
const ring: Decision[] = Array.from({ length: RING }, () => ({ op: '', device: 'cpu', reason: 'manual', cpuUs: NaN, gpuUs: NaN, flops: 0, bytes: 0, movedBytes: 0 }));
let next = 0, recorded = 0;
/** True between startExplain() and explain({ stop: true }). */
let keeping = false;

/**
 * @internal Set by init(): the mode, the model's rates, and the gpu (asked whether it is lost).
 * `lazy`, when the rates are not measured yet: called on the first decision that needs the
 * model; it starts the measurement (which configures again when done) and returns the rates
 * to use meanwhile.
 */
export function configure(p: Placement, c: Calibration | null, gpu: { readonly lost: boolean } | null, lazy: (() => Calibration) | null = null): void {
  mode = p;
  calibration = c;
  gpuBackend = gpu;
  measure = c === null ? lazy : null;
}

export function placement(): Placement { return mode; }

/**
 * The rates the model decides with: the calibration, or (not measured yet) the defaults, after
 * starting the measurement in the background. null: no gpu and nothing given.
 */
export function rates(): Calibration | null {
  if (calibration === null && measure !== null) {
    const start = measure;
    measure = null;
    calibration = start();
  }
  return calibration;
}
export function currentCalibration(): Calibration | null { return calibration; }

/**
 * Run fn with every op placed on `device` (inputs copied there), whatever the mode but
 * 'manual'. fn must be synchronous (the scope ends when it returns); scopes nest.
 */
export function onDevice<R>(device: DeviceKind, fn: () => R): R {
  if (device !== 'cpu' && device !== 'gpu') throw new DeviceError(`onDevice: device must be 'cpu' or 'gpu', got ${JSON.stringify(device)}`);
  const outer = scope;
  scope = device;
  try {
    const r = fn();
    if (r !== null && typeof (r as { then?: unknown })?.then === 'function') {
      throw new TandemError('onDevice: fn returned a Promise; the scope only covers synchronous code (ops issued after an await are placed normally)');
    }
    return r;
  } finally {
    scope = outer;
  }
}

/** Keep placement decisions from now on (for `explain()`); drops those kept before. */
export function startExplain(): void {
  keeping = true;
  recorded = 0;
}

/**
 * The decisions kept since startExplain(), oldest first (the last 256); none when it was not
 * called. `clear` empties the record; `stop` stops keeping (ops cost nothing for it again).
 */
export function explain(opts: { clear?: boolean; stop?: boolean } = {}): Decision[] {
  const n = Math.min(recorded, RING);
  const out: Decision[] = [];
  for (let i = 0; i < n; i++) out.push({ ...ring[(next - n + i + RING) % RING] });
  if (opts.clear) recorded = 0;
  if (opts.stop) keeping = false;
  return out;
}

/**
 * apply()'s hot path (see the file comment): true when an op whose inputs are ready, unpinned
 * and all on `device` runs there without asking the model.
 */
export function stays(op: string, device: DeviceKind): boolean {
  if (scope !== null) return false;
  let reason: Reason;
  if (mode === 'manual') reason = device === 'ref' ? 'ref' : 'manual';
  else if (device === 'ref') reason = 'ref';
  else if (mode === device) reason = 'placement';
  else if (mode === 'auto' && device === 'cpu' && (gpuBackend === null || gpuBackend.lost || (calibration !== null && calibration.gpu === null))) reason = 'only-engine';
  else return false;
  if (keeping) record(op, device, reason, NaN, NaN, 0, 0, 0);
  return true;
}

/** True when the output of an op on these inputs is pinned (its placement was forced). */
export function forcedPlacement(inputs: readonly Tensor[]): boolean {
  if (scope !== null) return true;
  for (let i = 0; i < inputs.length; i++) if (inputs[i].pinned) return true;
  return false;
}

/** The device `op` runs on; see the file comment. */
export function place(op: OpName, inputs: readonly Tensor[], plan: Plan): DeviceKind {
  const first = inputs[0].device;
  let mixed = false, pinned: DeviceKind | null = null, conflict = false;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (t.device !== first) mixed = true;
    if (t.pinned && t.device !== pinned) {
      if (pinned === null) pinned = t.device;
      else conflict = true;
    }
  }
  if (first === 'ref' || (mixed && inputs.some((t) => t.device === 'ref')) || mode === 'manual') {
    if (mixed) throw new DeviceError(`${op}: inputs are on different devices (${inputs.map((x) => x.device).join(', ')}); move one with \`T.to(t, '${first}')\`${mode === 'manual' ? '' : ' (\'ref\' tensors never mix)'}`);
    return record(op, first, first === 'ref' ? 'ref' : 'manual', NaN, NaN, 0, 0, 0);
  }
  if (scope !== null) return record(op, scope, 'scope', NaN, NaN, 0, 0, movedTo(inputs, scope));
  if (!conflict) {
    if (pinned !== null) return record(op, pinned, 'pinned', NaN, NaN, 0, 0, movedTo(inputs, pinned));
    if (mode !== 'auto') return record(op, mode, 'placement', NaN, NaN, 0, 0, movedTo(inputs, mode));
  }
  const c = rates(), g = c?.gpu;
  if (!g || gpuBackend === null || gpuBackend.lost) return record(op, 'cpu', 'only-engine', NaN, NaN, 0, 0, movedTo(inputs, 'cpu'));
  // The model: each engine's compute estimate plus copying the inputs that live elsewhere.
  const flops = opFlops(op, plan);
  let bytes = outBytes(plan, inputs), cpuUs = 0, gpuUs = 0;
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i], b = t.byteLength;
    bytes += b;
    if (t.device === 'gpu') cpuUs += g.download.latencyUs + b / (g.download.gbps * 1e3);
    else gpuUs += g.upload.latencyUs + b / (g.upload.gbps * 1e3);
  }
  cpuUs += computeUs(c!.cpu, flops, bytes);
  gpuUs += computeUs(g, flops, bytes);
  const device: DeviceKind = gpuUs < cpuUs ? 'gpu' : 'cpu';
  return record(op, device, 'model', cpuUs, gpuUs, flops, bytes, device === first && !mixed ? 0 : movedTo(inputs, device));
}

/** Bytes of the planned output. */
function outBytes(plan: Plan, inputs: readonly Tensor[]): number {
  let n = 1;
  for (let i = 0; i < plan.shape.length; i++) n *= plan.shape[i];
  return n * ITEM_BYTES[plan.dtype ?? inputs[0].dtype];
}

function movedTo(inputs: readonly Tensor[], device: DeviceKind): number {
  let b = 0;
  for (let i = 0; i < inputs.length; i++) if (inputs[i].device !== device) b += inputs[i].byteLength;
  return b;
}

function record(op: string, device: DeviceKind, reason: Reason, cpuUs: number, gpuUs: number, flops: number, bytes: number, movedBytes: number): DeviceKind {
  if (!keeping) return device;
  const r = ring[next];
  r.op = op; r.device = device; r.reason = reason; r.cpuUs = cpuUs; r.gpuUs = gpuUs; r.flops = flops; r.bytes = bytes; r.movedBytes = movedBytes;
  next = (next + 1) % RING;
  recorded++;
  return device;
}
