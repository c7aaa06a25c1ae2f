/**
 * Declarative per-sample transforms, the data loader's `transform` and `targetTransform`.
 * They are descriptions, not code, so a worker thread can run them with the Wasm kernels:
 *
 *   image (u8 [H, W] or [H, W, C], C <= 4):  randomCrop, randomFlip, normalize
 *                                            -> f32 [C, h, w] (torchvision's ToTensor + Normalize)
 *   label (u8 or i32, one value):            oneHot(classes) -> f32 [classes]
 *   anything:                                custom(fn), after the steps above
 *
 * `compileColumn` checks a pipeline against a column's item shape and dtype once per epoch;
 * `drawWindows` makes each sample's random choices on the planning thread, from a generator
 * keyed by (seed, epoch, position in the epoch): the same seed gives the same bytes whatever
 * ran the batch.
 */
import type { DType } from '../dtype.js';
import { ITEM_BYTES, fmtShape, numel } from '../dtype.js';
import { DTypeError, ShapeError, TandemError } from '../errors.js';
import { Rng } from '../random.js';
import type { CustomFn } from './executor.js';

export type Transform =
  | { readonly kind: 'randomCrop'; readonly height: number; readonly width: number; readonly padding: number }
  | { readonly kind: 'randomFlip'; readonly p: number }
  | { readonly kind: 'normalize'; readonly mean: readonly number[]; readonly std: readonly number[] }
  | { readonly kind: 'oneHot'; readonly classes: number }
  | { readonly kind: 'custom'; readonly fn: CustomFn; readonly source: string };

const posInt = (v: unknown, what: string, min = 1): number => {
  if (!Number.isInteger(v) || (v as number) < min) throw new TandemError(`${what} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
  return v as number;
};

/**
 * A window of `size` (a side, or [height, width]) at a uniformly random position in the image
 * padded by `padding` zero pixels on every side (torchvision's RandomCrop(size, padding)).
 */
export function randomCrop(size: number | readonly [number, number], opts: { padding?: number } = {}): Transform {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  return { kind: 'randomCrop', height: posInt(h, 'randomCrop: height'), width: posInt(w, 'randomCrop: width'), padding: posInt(opts.padding ?? 0, 'randomCrop: padding', 0) };
}

/** Mirror the image left-right with probability `p` (default 0.5). */
export function randomFlip(opts: { p?: number } = {}): Transform {
  const p = opts.p ?? 0.5;
  if (!(p >= 0 && p <= 1)) throw new TandemError(`randomFlip: p must be in [0, 1], got ${JSON.stringify(opts.p)}`);
  return { kind: 'randomFlip', p };
}

/** out[c] = (v / 255 - mean[c]) / std[c]; one number applies to every channel. */
export function normalize(opts: { mean: number | readonly number[]; std: number | readonly number[] }): Transform {
  const list = (v: unknown, name: string): number[] => {
    const a = typeof v === 'number' ? [v] : Array.isArray(v) ? v : null;
    if (!a || a.length < 1 || a.length > 4 || a.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
      throw new TandemError(`normalize: ${name} must be a finite number or 1 to 4 of them, got ${JSON.stringify(v)}`);
    }
    return a as number[];
  };
  const mean = list(opts?.mean, 'mean'), std = list(opts?.std, 'std');
  if (std.some((s) => s === 0)) throw new TandemError('normalize: std has a 0');
  return { kind: 'normalize', mean, std };
}

/** An integer label (u8 or i32, one value per item) as f32 [classes] with a 1 at the label. */
export function oneHot(classes: number): Transform {
  return { kind: 'oneHot', classes: posInt(classes, 'oneHot: classes') };
}

/**
 * Your own step, run on each sample in place: `fn(x, { shape, index, random })`, x a typed array
 * of the sample's dtype at that point of the pipeline (Float32Array after normalize). It runs in
 * worker threads from its source text, so it must be self-contained: no outer variables or
 * imports. random() is seeded per sample, so results are deterministic.
 */
export function custom(fn: CustomFn): Transform {
  if (typeof fn !== 'function') throw new TandemError(`custom: expects a function, got ${typeof fn}`);
  const source = fn.toString();
  // Method shorthand ("f(x) {...}") is not an expression on its own: say so now, not in a worker.
  if (!/^(async\s+)?(function\b|\(|[A-Za-z_$][\w$]*\s*=>)/.test(source)) {
    throw new TandemError('custom: pass a function expression or an arrow function (its text is run in worker threads)');
  }
  return { kind: 'custom', fn, source };
}

/** A column after its pipeline: what a worker needs, and the sample's output shape and dtype. */
export interface ColumnPlan {
  kind: 'image' | 'copy' | 'oneHot';
  inShape: number[];
  inDType: DType;
  outShape: number[];
  outDType: DType;
  /** Bytes of one input item and one output sample. */
  inBytes: number;
  outBytes: number;
  h: number; w: number; ch: number; oh: number; ow: number;
  padding: number;
  flipP: number;
  cropped: boolean;
  affine: number[];
  classes: number;
  customs: CustomFn[];
  customSources: string[];
}

/** Check `steps` against an item of `shape` and `dtype` (column `name`); throws naming what does not fit. */
export function compileColumn(steps: readonly Transform[], shape: readonly number[], dtype: DType, name: string): ColumnPlan {
  for (const t of steps) {
    if (!t || typeof t !== 'object' || !['randomCrop', 'randomFlip', 'normalize', 'oneHot', 'custom'].includes((t as Transform).kind)) {
      throw new TandemError(`DataLoader: ${name} has ${typeof t === 'function' ? 'a function; wrap it in T.data.transforms.custom(fn)' : `an unknown step ${JSON.stringify(t)}`}`);
    }
  }
  const customs = steps.filter((t): t is Extract<Transform, { kind: 'custom' }> => t.kind === 'custom');
  const firstCustom = steps.findIndex((t) => t.kind === 'custom');
  if (firstCustom >= 0 && steps.slice(firstCustom).some((t) => t.kind !== 'custom')) {
    throw new TandemError(`DataLoader: ${name}: custom steps come after the built-in ones`);
  }
  const plan: ColumnPlan = {
    kind: 'copy', inShape: [...shape], inDType: dtype, outShape: [...shape], outDType: dtype,
    inBytes: numel(shape) * ITEM_BYTES[dtype], outBytes: numel(shape) * ITEM_BYTES[dtype],
    h: 0, w: 0, ch: 0, oh: 0, ow: 0, padding: 0, flipP: 0, cropped: false, affine: [], classes: 0,
    customs: customs.map((c) => c.fn), customSources: customs.map((c) => c.source),
  };
  const image = steps.filter((t) => t.kind === 'randomCrop' || t.kind === 'randomFlip' || t.kind === 'normalize');
  const hot = steps.filter((t) => t.kind === 'oneHot');
  if (image.length > 0 && hot.length > 0) throw new TandemError(`DataLoader: ${name} mixes image steps with oneHot`);
  if (hot.length > 0) {
    if (hot.length > 1) throw new TandemError(`DataLoader: ${name} has oneHot twice`);
    if (dtype !== 'u8' && dtype !== 'i32') throw new DTypeError(`DataLoader: oneHot needs u8 or i32 labels; ${name} items are ${dtype}`);
    if (numel(shape) !== 1) throw new ShapeError(`DataLoader: oneHot needs one label per item; ${name} items have shape ${fmtShape(shape)}`);
    const classes = (hot[0] as { classes: number }).classes;
    Object.assign(plan, { kind: 'oneHot', outShape: [classes], outDType: 'f32', outBytes: classes * 4, classes });
  } else if (image.length > 0) {
    if (dtype !== 'u8') throw new DTypeError(`DataLoader: image steps need u8 images; ${name} items are ${dtype}`);
    if (shape.length !== 2 && !(shape.length === 3 && shape[2] >= 1 && shape[2] <= 4)) {
      throw new ShapeError(`DataLoader: image steps need items [H, W] or [H, W, C] with 1 to 4 channels; ${name} items have shape ${fmtShape(shape)}`);
    }
    const [h, w] = shape, ch = shape.length === 3 ? shape[2] : 1;
    let oh = h, ow = w, padding = 0, flipP = 0, cropped = false, mean: readonly number[] = [0], std: readonly number[] = [1];
    for (const t of image) {
      if (t.kind === 'randomCrop') {
        if (cropped) throw new TandemError(`DataLoader: ${name} has randomCrop twice`);
        if (t.height > h + 2 * t.padding || t.width > w + 2 * t.padding) {
          throw new ShapeError(`DataLoader: randomCrop(${t.height}x${t.width}, padding ${t.padding}) does not fit ${name} images of ${h}x${w}`);
        }
        ({ height: oh, width: ow, padding } = t);
        cropped = true;
      } else if (t.kind === 'randomFlip') flipP = t.p;
      else if (t.kind === 'normalize') ({ mean, std } = t);
    }
    const per = (v: readonly number[], what: string) => {
      if (v.length !== 1 && v.length !== ch) throw new ShapeError(`DataLoader: normalize ${what} has ${v.length} values for ${ch}-channel ${name} images`);
      return Array.from({ length: 4 }, (_, c) => v[v.length === 1 ? 0 : Math.min(c, ch - 1)]);
    };
    const m = per(mean, 'mean'), s = per(std, 'std');
    const affine = [...s.map((sd) => 1 / (255 * sd)), ...m.map((mu, c) => -mu / s[c])];
    Object.assign(plan, { kind: 'image', outShape: [ch, oh, ow], outDType: 'f32', outBytes: ch * oh * ow * 4, h, w, ch, oh, ow, padding, flipP, cropped, affine });
  }
  return plan;
}

/** Mix (seed, epoch, position, column) into one u32 key for a sample's generator. */
function key(seed: number, epoch: number, pos: number, col: number): number {
  const step = (h: number, v: number) => {
    h = Math.imul(h ^ (v >>> 0), 0x85ebca6b) >>> 0;
    return (h ^ (h >>> 13)) >>> 0;
  };
  return step(step(step((seed >>> 0) ^ 0x9e3779b9, epoch), pos), col);
}

/** Number `i` of the u32 stream keyed by `k`: counter-based (splitmix32's finaliser), no state to allocate. */
function draw(k: number, i: number): number {
  let z = (k + Math.imul(i + 1, 0x9e3779b9)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/**
 * Each sample's [top, left, flip] for an image column and its custom-step seed, for the samples
 * at epoch positions `first` .. `first + n - 1`.
 */
export function drawSamples(plan: ColumnPlan, seed: number, epoch: number, first: number, n: number, col: number): { window: Int32Array | null; seeds: Uint32Array | null } {
  const window = plan.kind === 'image' ? new Int32Array(3 * n) : null;
  const seeds = plan.customs.length > 0 ? new Uint32Array(n) : null;
  if (!window && !seeds) return { window, seeds };
  const p = plan.padding, rows = plan.h + 2 * p - plan.oh + 1, cols = plan.w + 2 * p - plan.ow + 1;
  for (let s = 0; s < n; s++) {
    const k = key(seed, epoch, first + s, col);
    if (window) {
      // An offset in the padded image, shifted back to source coordinates (negative: padding).
      window[3 * s] = plan.cropped ? (draw(k, 0) % rows) - p : 0;
      window[3 * s + 1] = plan.cropped ? (draw(k, 1) % cols) - p : 0;
      window[3 * s + 2] = plan.flipP > 0 && draw(k, 2) / 4294967296 < plan.flipP ? 1 : 0;
    }
    if (seeds) seeds[s] = draw(k, 3);
  }
  return { window, seeds };
}

/** A seeded permutation of 0..n-1 for an epoch (Fisher-Yates). */
export function permutation(n: number, seed: number, epoch: number): Int32Array {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(key(seed, epoch, 0x7fffffff, 0xffff));
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextU32() % (i + 1);
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return order;
}
