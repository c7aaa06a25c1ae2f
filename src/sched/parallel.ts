/**
 * Data parallelism across engines (DataParallel's idea, over one gpu and the cpu):
 * `splitBatch(fn, inputs)` runs one batched step with the batch split between engines in
 * proportion to their calibrated throughput, each slice on its engine, and joins the results.
 *
 *   const y = T.splitBatch((x) => model(x), [batch]);               // ['gpu', 'cpu'], axis 0
 *   const y = T.splitBatch((x, w) => T.matmul(x, w), [x, w], { split: [true, false] });
 *
 * Each engine's slice is a view of the inputs copied to it (unsplit inputs, e.g. weights, are
 * copied whole; reuse pinned copies to pay that once); fn runs inside `onDevice(engine)`, so
 * every op it issues is placed there. Both halves are issued before either is awaited: the
 * gpu's work is encoded and submitted while the cpu computes its rows. The results are joined
 * along `axis` on `join` (default: the first input's device), pending until both land.
 *
 * The split: `weights` if given, else the calibration's rate named by `rate` ('gflops', the
 * matmul throughput, for matmul-heavy steps; 'gbps' for streaming ones), rounded to whole rows
 * (largest remainders). An engine whose share rounds to zero rows is skipped, so on a software
 * gpu the whole batch usually stays on the cpu. This module is a helper on the public ops,
 * above the scheduler proper.
 */
import type { DeviceKind } from '../backend/backend.js';
import { normAxis } from '../dtype.js';
import { DeviceError, TandemError } from '../errors.js';
import { concat, narrow } from '../ops/views.js';
import { backendFor } from '../runtime.js';
import { Tensor } from '../tensor.js';
import { onDevice, placement, rates } from './place.js';
import { copyTo } from './stream.js';

export interface SplitOptions {
  /** The batch axis of the split inputs and of fn's result (default 0). */
  axis?: number;
  /** Engines to split over, in the order their rows are taken (default ['gpu', 'cpu']). */
  devices?: DeviceKind[];
  /** Relative throughput per device (overrides the calibration). */
  weights?: number[];
  /** Which calibrated rate sets the split (default 'gflops'). */
  rate?: 'gflops' | 'gbps';
  /** Per input: split along axis (true, default) or pass whole to every engine. */
  split?: boolean[];
  /** Where the joined result goes (default: the first input's device). */
  join?: DeviceKind;
}

/** Rows per device for a batch of `n` (see the file comment); sums to n. */
export function splitSizes(n: number, opts: Pick<SplitOptions, 'devices' | 'weights' | 'rate'> = {}): { device: DeviceKind; rows: number }[] {
  const devices = checkDevices(opts.devices ?? ['gpu', 'cpu']);
  let w = opts.weights;
  if (w === undefined) {
    const c = rates(), k = opts.rate ?? 'gflops';
    if (k !== 'gflops' && k !== 'gbps') throw new TandemError(`splitBatch: rate must be 'gflops' or 'gbps', got ${JSON.stringify(k)}`);
    w = devices.map((d) => (d === 'cpu' ? c?.cpu[k] : c?.gpu?.[k]) ?? (d === 'cpu' ? 1 : 0));
  }
  if (w.length !== devices.length || w.some((x) => !(x >= 0) || !Number.isFinite(x)) || !w.some((x) => x > 0)) {
    throw new TandemError(`splitBatch: weights must be ${devices.length} finite numbers >= 0, not all 0; got ${JSON.stringify(w)}`);
  }
  const total = w.reduce((a, b) => a + b, 0);
  const exact = w.map((x) => (n * x) / total);
  const rows = exact.map(Math.floor);
  const order = exact.map((x, i) => [x - Math.floor(x), i]).sort((a, b) => b[0] - a[0]);
  for (let left = n - rows.reduce((a, b) => a + b, 0), j = 0; left > 0; left--, j++) rows[order[j % order.length][1]]++;
  return devices.map((device, i) => ({ device, rows: rows[i] }));
}

export function splitBatch(fn: (...xs: Tensor[]) => Tensor, inputs: Tensor[], opts: SplitOptions = {}): Tensor {
  if (typeof fn !== 'function') throw new TandemError('splitBatch: fn must be a function of the inputs');
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.some((t) => !(t instanceof Tensor))) throw new TandemError('splitBatch: inputs must be a non-empty array of tensors');
  const split = opts.split ?? inputs.map(() => true);
  if (split.length !== inputs.length) throw new TandemError(`splitBatch: split needs one flag per input (${inputs.length}), got ${split.length}`);
  const first = inputs.findIndex((_, i) => split[i]);
  if (first < 0) throw new TandemError('splitBatch: no input is split');
  const ax = normAxis(opts.axis ?? 0, inputs[first].rank, 'splitBatch');
  const n = inputs[first].shape[ax];
  inputs.forEach((t, i) => {
    if (split[i] && t.shape[ax] !== n) throw new TandemError(`splitBatch: split inputs disagree on axis ${ax} (${n} and ${t.shape[ax]})`);
  });
  const join = opts.join ?? inputs[0].device;
  const parts: Tensor[] = [];
  const temps: Tensor[] = [];
  try {
    let at = 0;
    for (const { device, rows } of splitSizes(n, opts)) {
      if (rows === 0) continue;
      const args = inputs.map((t, i) => {
        const piece = split[i] ? keep(temps, narrow(t, ax, at, rows)) : t;
        return piece.device === device ? piece : keep(temps, copyTo(piece, device, 'splitBatch'));
      });
      at += rows;
      const out = placement() === 'manual' ? fn(...args) : onDevice(device, () => fn(...args));
      if (!(out instanceof Tensor)) throw new TandemError('splitBatch: fn must return a Tensor');
      parts.push(out);
    }
    if (parts.length === 1 && parts[0].device === join) {
      const only = parts.pop()!;
      const k = temps.indexOf(only); // fn returned its argument
      if (k >= 0) temps.splice(k, 1);
      return only;
    }
    const joined = parts.map((p) => (p.device === join ? p : keep(temps, copyTo(p, join, 'splitBatch'))));
    return concat(joined, ax);
  } finally {
    for (const t of [...temps, ...parts]) if (!inputs.includes(t)) t.dispose(); // pending work holds its own references
  }
}

function keep(list: Tensor[], t: Tensor): Tensor {
  list.push(t);
  return t;
}

function checkDevices(devices: DeviceKind[]): DeviceKind[] {
  if (!Array.isArray(devices) || devices.length === 0) throw new DeviceError('splitBatch: devices must be a non-empty array');
  for (const d of devices) {
    if (d !== 'cpu' && d !== 'gpu') throw new DeviceError(`splitBatch: devices must be 'cpu' or 'gpu', got ${JSON.stringify(d)}`);
    backendFor(d, 'splitBatch'); // a DeviceError when there is no gpu
  }
  if (new Set(devices).size !== devices.length) throw new DeviceError(`splitBatch: devices repeat: ${devices.join(', ')}`);
  return devices;
}
