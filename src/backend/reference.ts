/**
 * The reference backend: plain TypeScript, accumulating in f64, storing f32. It is the oracle
 * every other backend is tested against, so it is written for obviousness, not speed.
 * f16 float kernels decode their inputs exactly, run the f32 kernel, and round to f16 once
 * (f16-compute.ts). An f64 mode for gradient checks stores f64 instead (reference-f64.ts).
 */
import { IndexError } from '../errors.js';
import { ACTIVATIONS } from '../ops/activation.js';
import { BINARY, UNARY } from '../ops/elementwise-spec.js';
import type { Backend, KernelName, KernelParams } from './backend.js';
import { BYTE_KERNELS, type ByteKernels } from './reference-bytes.js';
import { isHalfCall, runHalfViaF32 } from './f16-compute.js';
import { f64Mode, refuseInF64, slotBytes, words } from './reference-f64.js';

type Own = Exclude<KernelName, 'copy' | keyof ByteKernels>;
type Kernels = { [K in Own]: (inp: Uint8Array[], out: Uint8Array, p: KernelParams[K]) => void };

/** Reference buffers are plain bytes; kernels view them by dtype (BYTE_KERNELS, copy: as bytes). */
const f32 = words;
const i32 = (b: Uint8Array) => (f64Mode.on ? words(b) as unknown as Int32Array : new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2));

const kernels = {
  binary(inp, o, { op, shape, aStrides, bStrides }) {
    const f = BINARY[op].ref;
    const [a, b] = inp.map(f32), out = f32(o);
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < out.length; i++) {
      let ia = 0, ib = 0;
      for (let d = 0; d < shape.length; d++) { ia += idx[d] * aStrides[d]; ib += idx[d] * bStrides[d]; }
      out[i] = f(a[ia], b[ib]);
      for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
    }
  },
  unary([xb], o, { op, size }) {
    const f = UNARY[op].ref;
    const x = f32(xb), out = f32(o);
    for (let i = 0; i < size; i++) out[i] = f(x[i]);
  },
  reduce([xb], ob, { op, outer, reduce, inner }) {
    const x = f32(xb), out = op === 'argmax' || op === 'argmin' ? i32(ob) : f32(ob);
    const better = op === 'max' || op === 'argmax' ? (w: number, s: number) => w > s : (w: number, s: number) => w < s;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (r: number) => x[(o * reduce + r) * inner + i];
        let s = 0, arg = 0;
        if (op === 'sum' || op === 'mean') {
          for (let r = 0; r < reduce; r++) s += at(r);
          if (op === 'mean') s /= reduce;
        } else {
          s = at(0);
          for (let r = 1; r < reduce && !Number.isNaN(s); r++) {
            if (Number.isNaN(at(r)) || better(at(r), s)) { s = at(r); arg = r; }
          }
        }
        out[o * inner + i] = op === 'argmax' || op === 'argmin' ? arg : s;
      }
    }
  },
  matmul(inp, cb, p) {
    const [a, b, bias] = inp.map(f32), c = f32(cb);
    const { m, k, n, transposeA, transposeB, batchShape = [], aBatchStrides = [], bBatchStrides = [] } = p;
    const act = ACTIVATIONS[p.activation ?? 'none'].ref;
    const batches = batchShape.reduce((x, y) => x * y, 1);
    for (let t = 0; t < batches; t++) {
      let oa = 0, ob = 0;
      for (let d = batchShape.length - 1, rem = t; d >= 0; d--) {
        const idx = rem % batchShape[d];
        rem = Math.floor(rem / batchShape[d]);
        oa += idx * aBatchStrides[d];
        ob += idx * bBatchStrides[d];
      }
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let q = 0; q < k; q++) {
            s += a[oa + (transposeA ? q * m + i : i * k + q)] * b[ob + (transposeB ? j * k + q : q * n + j)];
          }
          if (p.bias) s += bias[j];
          c[t * m * n + i * n + j] = act(s);
        }
      }
    }
  },
  softmax([xb], ob, { rows, n, log }) {
    const x = f32(xb), out = f32(ob);
    for (let r = 0; r < rows; r++) {
      const row = x.subarray(r * n, r * n + n);
      const m = row.reduce((a, v) => (Number.isNaN(a) || v > a || Number.isNaN(v) ? v : a), -Infinity);
      const s = row.reduce((a, v) => a + Math.exp(v - m), 0);
      for (let i = 0; i < n; i++) out[r * n + i] = log ? row[i] - m - Math.log(s) : Math.exp(row[i] - m) / s;
    }
  },
  layerNorm([xb, ...rest], ob, { rows, n, eps, weight, bias }) {
    const x = f32(xb), out = f32(ob);
    const g = weight ? f32(rest[0]) : null, b = bias ? f32(rest[weight ? 1 : 0]) : null;
    for (let r = 0; r < rows; r++) {
      let mean = 0, v = 0;
      for (let i = 0; i < n; i++) mean += x[r * n + i];
      mean /= n;
      for (let i = 0; i < n; i++) v += (x[r * n + i] - mean) ** 2;
      const rstd = 1 / Math.sqrt(v / n + eps);
      for (let i = 0; i < n; i++) out[r * n + i] = (x[r * n + i] - mean) * rstd * (g ? g[i] : 1) + (b ? b[i] : 0);
    }
  },
  crossEntropy([xb, lb], ob, { rows, classes, smoothing }) {
    const x = f32(xb), labels = i32(lb), out = f32(ob);
    for (let r = 0; r < rows; r++) {
      const y = labels[r];
      if (!(y >= 0 && y < classes)) throw new IndexError(`crossEntropy: label ${y} at index ${r} is outside [0, ${classes})`);
      const row = x.subarray(r * classes, (r + 1) * classes);
      const m = Math.max(...row);
      const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
      const meanX = row.reduce((a, v) => a + v, 0) / classes;
      out[r] = lse - (1 - smoothing) * row[y] - smoothing * meanX;
    }
  },
  gather([tb, ib], ob, { outer, axisLen, inner, count, itemBytes }) {
    const idx = i32(ib), slab = inner * slotBytes(itemBytes);
    idx.subarray(0, count).forEach((k, j) => {
      if (!(k >= 0 && k < axisLen)) throw new IndexError(`gather: index ${k} at position ${j} is outside [0, ${axisLen})`);
    });
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < count; j++) ob.set(tb.subarray((o * axisLen + idx[j]) * slab, (o * axisLen + idx[j] + 1) * slab), (o * count + j) * slab);
    }
  },
  oneHot([ib], ob, { n, classes, oneBits }) {
    const idx = i32(ib), out = f64Mode.on ? words(ob) : new Uint32Array(ob.buffer, ob.byteOffset, n * classes);
    if (f64Mode.on) oneBits = 1; // 1 or 1.0, either way a 1 in an f64 slot
    out.fill(0);
    for (let i = 0; i < n; i++) {
      if (!(idx[i] >= 0 && idx[i] < classes)) throw new IndexError(`oneHot: class ${idx[i]} at index ${i} is outside [0, ${classes})`);
      out[i * classes + idx[i]] = oneBits;
    }
  },
} satisfies Kernels;

/** The copy kernel works on bytes, so one loop serves every dtype. */
function copyBytes(src: Uint8Array, dst: Uint8Array, { itemBytes: size, shape, srcStrides, dstStrides, srcOffset, dstOffset }: KernelParams['copy']): void {
  const itemBytes = slotBytes(size);
  const idx = new Array<number>(shape.length).fill(0);
  const total = shape.reduce((x, y) => x * y, 1);
  for (let i = 0; i < total; i++) {
    let s = srcOffset, d = dstOffset;
    for (let k = 0; k < shape.length; k++) { s += idx[k] * srcStrides[k]; d += idx[k] * dstStrides[k]; }
    for (let b = 0; b < itemBytes; b++) dst[d * itemBytes + b] = src[s * itemBytes + b];
    for (let k = shape.length - 1; k >= 0 && ++idx[k] === shape[k]; k--) idx[k] = 0;
  }
}

export class ReferenceBackend implements Backend<Uint8Array> {
  readonly kind = 'ref' as const;
  alloc(bytes: number): Uint8Array { return new Uint8Array(Math.ceil(bytes / 4) * (f64Mode.on ? 8 : 4)); }
  free(_buf: Uint8Array): void {}
  write(buf: Uint8Array, data: ArrayBufferView): void {
    if (f64Mode.on && (data instanceof Float32Array || data instanceof Float64Array || data instanceof Int32Array)) return words(buf).set(data);
    if (f64Mode.on && !(data instanceof Uint8Array)) refuseInF64(`writing ${data.constructor.name}`);
    buf.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  async read(buf: Uint8Array, bytes: number): Promise<Uint8Array> { return this.readSync(buf, bytes).slice(); }
  readSync(buf: Uint8Array, bytes: number): Uint8Array {
    refuseInF64('reading through the backend seam');
    return buf.subarray(0, bytes);
  }
  run<K extends KernelName>(kernel: K, inputs: Uint8Array[], output: Uint8Array, params: KernelParams[K]): void {
    if (isHalfCall(kernel, params)) {
      refuseInF64('f16');
      return runHalfViaF32(this, kernel, inputs, output, params as KernelParams[typeof kernel]);
    }
    if (kernel === 'copy') return copyBytes(inputs[0], output, params as KernelParams['copy']);
    const table = (kernel in BYTE_KERNELS ? BYTE_KERNELS : kernels) as Record<string, (i: Uint8Array[], o: Uint8Array, p: KernelParams[K]) => void>;
    table[kernel](inputs, output, params);
  }
  destroy(): void {}
}
