/**
 * Layout ops. reshape, permute/transpose, slice and narrow return views that share storage
 * (no copy) whenever the layout allows; reshape of a non-contiguous view copies, as PyTorch's
 * does. concat writes each input into its slab of a new tensor with the copy kernel.
 */
import { checkInputs, checkSameDevice } from '../apply.js';
import { placement } from '../sched/place.js';
import { STREAMS, copyTo, defer } from '../sched/stream.js';
import { ITEM_BYTES, type Shape, checkShape, fmtShape, normAxis, numel, stridesOf } from '../dtype.js';
import { ShapeError, TandemError } from '../errors.js';
import { Storage, Tensor } from '../tensor.js';
import { isContiguous } from './layout.js';
import { recorded } from '../autograd/tape.js';

/** A view with a new shape; one dimension may be -1 (inferred). Copies only when it must. */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  checkInputs('reshape', [t]);
  if (!Array.isArray(shape)) throw new ShapeError(`reshape: shape must be an array of integers`);
  const free = shape.filter((d) => d === -1).length;
  if (free > 1) throw new ShapeError(`reshape: only one dimension can be -1, got [${shape.join(', ')}]`);
  let target = shape;
  if (free === 1) {
    const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
    if (known === 0 || t.size % known !== 0) throw new ShapeError(`reshape: cannot infer -1 in [${shape.join(', ')}] for ${t.size} elements`);
    target = shape.map((d) => (d === -1 ? t.size / known : d));
  }
  const s = checkShape(target, 'reshape');
  if (numel(s) !== t.size) throw new ShapeError(`reshape: ${fmtShape(t.shape)} has ${t.size} elements, ${fmtShape(s)} needs ${numel(s)}`);
  if (isContiguous(t.shape, t.strides)) return recorded('reshape', [t], t.view('reshape', s, stridesOf(s), t.offset));
  const c = contiguousCopy(t); // not contiguous(): the reshape's own node covers the copy
  const v = c.view('reshape', s, stridesOf(s), 0);
  c.dispose();
  return recorded('reshape', [t], v);
}

/** Dimensions reordered: result dim i is input dim perm[i]. A view. */
export function permute(t: Tensor, perm: readonly number[]): Tensor {
  checkInputs('permute', [t]);
  const r = t.rank;
  if (!Array.isArray(perm) || perm.length !== r) throw new ShapeError(`permute: perm must list all ${r} axes of ${fmtShape(t.shape)}, got [${perm}]`);
  const axes = perm.map((a) => normAxis(a, r, 'permute'));
  if (new Set(axes).size !== r) throw new ShapeError(`permute: perm [${perm}] repeats an axis`);
  return recorded('permute', [t], t.view('permute', axes.map((a) => t.shape[a]), axes.map((a) => t.strides[a]), t.offset), { perm: axes });
}

/** permute with the axes reversed by default (NumPy's transpose). A view. */
export function transpose(t: Tensor, perm?: readonly number[]): Tensor {
  checkInputs('transpose', [t]);
  return permute(t, perm ?? t.shape.map((_, i) => t.rank - 1 - i));
}

/**
 * Python-style slicing of the leading axes: begin[i]..end[i] (end exclusive), negative
 * indices count from the end, out-of-range bounds are clamped, step 1. A view.
 */
export function slice(t: Tensor, begin: readonly number[], end?: readonly number[]): Tensor {
  checkInputs('slice', [t]);
  if (!Array.isArray(begin) || begin.length > t.rank || (end && (!Array.isArray(end) || end.length !== begin.length))) {
    throw new ShapeError(`slice: begin${end ? ' and end' : ''} must be arrays of at most ${t.rank} integers (of equal length) for ${fmtShape(t.shape)}`);
  }
  const shape = t.shape.slice();
  const starts = t.shape.map(() => 0);
  let offset = t.offset;
  begin.forEach((b, i) => {
    const n = t.shape[i];
    const e = end ? end[i] : n;
    if (!Number.isInteger(b) || !Number.isInteger(e)) throw new ShapeError(`slice: bounds must be integers, got ${b}..${e} on axis ${i}`);
    const lo = Math.min(n, Math.max(0, b < 0 ? b + n : b));
    const hi = Math.min(n, Math.max(lo, e < 0 ? e + n : e));
    shape[i] = hi - lo;
    starts[i] = lo;
    offset += lo * t.strides[i];
  });
  return recorded('slice', [t], t.view('slice', shape, t.strides, offset), { starts });
}

/** length elements of one axis from start (PyTorch's narrow; out of range is an error). A view. */
export function narrow(t: Tensor, axis: number, start: number, length: number): Tensor {
  checkInputs('narrow', [t]);
  const ax = normAxis(axis, t.rank, 'narrow');
  const n = t.shape[ax];
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new ShapeError(`narrow: start ${start} and length ${length} do not fit axis ${axis} of size ${n}`);
  }
  const shape = t.shape.slice();
  shape[ax] = length;
  const starts = t.shape.map((_, i) => (i === ax ? s : 0));
  return recorded('narrow', [t], t.view('narrow', shape, t.strides, t.offset + s * t.strides[ax]), { starts });
}

/** A row-major copy of t (or t itself as a new view when it already is contiguous). */
export function contiguous(t: Tensor): Tensor {
  checkInputs('contiguous', [t]);
  return recorded('contiguous', [t], contiguousCopy(t));
}

function contiguousCopy(t: Tensor): Tensor {
  if (t.isContiguous) return t.view('contiguous', t.shape, t.strides, 0);
  const s = t.storage('contiguous');
  if (s.fence !== null) { // pending: copy on the device's stream once it lands
    const out = new Storage(s.backend, s.backend.alloc(t.byteLength), t.byteLength);
    defer(STREAMS[t.device], [s], [out], () => {
      if (t.size > 0) s.backend.run('copy', [s.buf], out.buf, t.copyParams(stridesOf(t.shape), 0));
    });
    return pinnedLike(t, new Tensor(t.shape, t.dtype, t.device, out));
  }
  const { buf } = t.materialize('contiguous');
  return pinnedLike(t, new Tensor(t.shape, t.dtype, t.device, new Storage(s.backend, buf, t.byteLength)));
}

function pinnedLike(src: Tensor, t: Tensor): Tensor {
  t.pinned = src.pinned;
  return t;
}

/**
 * Tensors joined along an axis; all other dimensions and the dtype must agree. The result is
 * on the first input's device: others are copied there, except in placement 'manual', where
 * mixing devices is a DeviceError.
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TandemError('concat: needs a non-empty array of tensors');
  checkInputs('concat', tensors as Tensor[]);
  const device = tensors[0].device;
  if (placement() === 'manual' || tensors.some((t) => t.device === 'ref')) checkSameDevice('concat', tensors);
  const moved = tensors.map((t) => (t.device === device ? t : copyTo(t, device, 'concat')));
  try {
    return recorded('concat', tensors, concatOn(moved, axis), { axis });
  } finally {
    moved.forEach((t, i) => { if (t !== tensors[i]) t.dispose(); });
  }
}

function concatOn(tensors: readonly Tensor[], axis: number): Tensor {
  const first: Tensor = tensors[0];
  const ax = normAxis(axis, first.rank, 'concat');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d: number, i: number) => i !== ax && d !== first.shape[i])) {
      throw new ShapeError(`concat: ${fmtShape(t.shape)} does not match ${fmtShape(first.shape)} outside axis ${axis}`);
    }
    if (t.dtype !== first.dtype) throw new TandemError(`concat: dtypes differ (${first.dtype} and ${t.dtype})`);
  }
  const shape: Shape = first.shape.map((d, i) => (i === ax ? tensors.reduce((s: number, t: Tensor) => s + t.shape[ax], 0) : d));
  const backend = first.backend;
  const strides = stridesOf(shape);
  const bytes = numel(shape) * ITEM_BYTES[first.dtype];
  const out = backend.alloc(bytes);
  const storages = tensors.map((t) => t.storage('concat'));
  const copyAll = (into: unknown): void => {
    let at = 0;
    tensors.forEach((t, i) => {
      if (t.size > 0) backend.run('copy', [storages[i].buf], into, t.copyParams(strides, at * strides[ax]));
      at += t.shape[ax];
    });
  };
  const result = new Tensor(shape, first.dtype, first.device, new Storage(backend, out, bytes));
  result.pinned = tensors.some((t) => t.pinned);
  if (storages.some((s) => s.fence !== null)) {
    defer(STREAMS[first.device], storages, [result.storage('concat')], () => copyAll(out));
    return result;
  }
  try {
    copyAll(out);
  } catch (e) {
    result.dispose();
    throw e;
  }
  return result;
}
