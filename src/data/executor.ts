/**
 * The one routine that turns a planned batch into bytes: it runs on a data worker (its source
 * is sent as text, see workers.ts) and, without workers, on the main thread against the cpu
 * engine's own instance. Both see the same Wasm module on the same linear memory, and every
 * sample's random choices were drawn by the planner (plan.ts), so a batch's bytes do not
 * depend on where it ran.
 *
 * Contract: `job.cols[c]` reads item `index[s]` of a source laid out at `src` with `srcStride`
 * bytes per item and writes sample s at `dst + s * dstStride`. Nothing here allocates in Wasm.
 * A sample that fails throws an Error carrying `sample` (its row in the batch).
 *
 * Quirk: this function must stay self-contained (no imports, no outer names, no classes): its
 * text is evaluated in a worker. tsx's `__name(...)` wrappers are defined there as identity.
 */

/** One column of a planned batch (structured-clone friendly). */
export interface ColumnJob {
  kind: 'image' | 'copy' | 'oneHot';
  src: number;
  srcStride: number;
  dst: number;
  dstStride: number;
  /** Source item of each sample (dataset indices, or rows of a staged raw batch). */
  index: Int32Array;
  /** image: source h, w, channels; output oh, ow; per-sample [top, left, flip]. */
  h: number; w: number; ch: number; oh: number; ow: number;
  window: Int32Array | null;
  /** image: scale s0..s3 then bias b0..b3 (out = v * s[c] + b[c]). */
  affine: number[];
  /** oneHot: classes; the label dtype is 'u8' or 'i32'. */
  classes: number;
  labelDType: 'u8' | 'i32';
  /** custom steps (indices into the caller's function list) and their view: dtype and shape of one sample. */
  customs: number[];
  viewDType: 'f32' | 'i32' | 'u8' | 'f16' | 'bool';
  viewShape: number[];
  /** One u32 seed per sample for the custom steps' random(). */
  seeds: Uint32Array | null;
}

export interface BatchJob {
  n: number;
  /** The dataset index of each sample: custom steps see it, and errors name it. */
  ids: Int32Array;
  cols: ColumnJob[];
}

export type CustomFn = (x: ArrayLike<number> & { [i: number]: number }, ctx: { shape: number[]; index: number; random(): number }) => void;

/** Run `job` with the module's exports on `memory`; `fns` resolves each column's custom steps. */
export function runJob(exports: Record<string, (...a: number[]) => unknown>, memory: WebAssembly.Memory, job: BatchJob, fns: CustomFn[]): void {
  const buf = memory.buffer;
  const u8 = new Uint8Array(buf);
  const fail = (s: number, e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    (err as Error & { sample?: number }).sample = s;
    return err;
  };
  for (const col of job.cols) {
    const kernel = exports.u8_crop_flip_normalize;
    const a = col.affine;
    const f32 = col.kind === 'oneHot' ? new Float32Array(buf, col.dst, job.n * col.classes) : null;
    for (let s = 0; s < job.n; s++) {
      const item = col.index[s];
      const from = col.src + item * col.srcStride, to = col.dst + s * col.dstStride;
      if (col.kind === 'image') {
        const wd = col.window as Int32Array;
        kernel(from, col.h, col.w, col.ch, to, col.oh, col.ow, wd[3 * s], wd[3 * s + 1], wd[3 * s + 2], a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
      } else if (col.kind === 'copy') {
        u8.copyWithin(to, from, from + col.srcStride);
      } else {
        const label = col.labelDType === 'u8' ? u8[from] : new Int32Array(buf, from, 1)[0];
        if (!(label >= 0 && label < col.classes)) throw fail(s, new RangeError(`label ${label} is outside 0..${col.classes - 1} of oneHot(${col.classes})`));
        if (col.labelDType === 'i32') {
          exports.one_hot(from, to, 1, col.classes, 0x3f800000); // the row: zeros and an f32 1
        } else {
          u8.fill(0, to, to + col.dstStride);
          (f32 as Float32Array)[s * col.classes + label] = 1;
        }
      }
      if (col.customs.length === 0) continue;
      // A custom step sees the sample in place, as a typed array of its dtype, with a seeded random().
      let state = (col.seeds as Uint32Array)[s] >>> 0;
      const random = () => {
        // mulberry32: small and good enough for augmentation choices.
        state = (state + 0x6d2b79f5) >>> 0;
        let t = state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      const count = col.viewShape.reduce((p, d) => p * d, 1);
      const vt = col.viewDType;
      const view = vt === 'f32' ? new Float32Array(buf, to, count) : vt === 'i32' ? new Int32Array(buf, to, count) : vt === 'f16' ? new Uint16Array(buf, to, count) : new Uint8Array(buf, to, count);
      for (const k of col.customs) {
        try {
          fns[k](view, { shape: col.viewShape.slice(), index: job.ids[s], random });
        } catch (e) {
          throw fail(s, e);
        }
      }
    }
  }
}
