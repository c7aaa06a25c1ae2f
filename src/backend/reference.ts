/**
 * The reference backend: plain TypeScript, accumulating in f64, storing f32. It is the oracle
 * every other backend is tested against, so it is written for obviousness, not speed.
 */
import { BINARY, UNARY } from '../ops/elementwise-spec.js';
import type { Backend, KernelName, KernelParams } from './backend.js';

type Kernels = { [K in Exclude<KernelName, 'copy'>]: (inp: Uint8Array[], out: Uint8Array, p: KernelParams[K]) => void };

/** Reference buffers are plain bytes; kernels view them by dtype. */
const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
const i32 = (b: Uint8Array) => new Int32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);

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
  matmul(inp, cb, { m, k, n }) {
    const [a, b] = inp.map(f32), c = f32(cb);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
        c[i * n + j] = s;
      }
    }
  },
} satisfies Kernels;

/** The copy kernel works on bytes, so one loop serves every dtype. */
function copyBytes(src: Uint8Array, dst: Uint8Array, { itemBytes, shape, srcStrides, dstStrides, srcOffset, dstOffset }: KernelParams['copy']): void {
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
  alloc(bytes: number): Uint8Array { return new Uint8Array(Math.ceil(bytes / 4) * 4); }
  free(_buf: Uint8Array): void {}
  write(buf: Uint8Array, data: ArrayBufferView): void { buf.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); }
  async read(buf: Uint8Array, bytes: number): Promise<Uint8Array> { return buf.slice(0, bytes); }
  run<K extends KernelName>(kernel: K, inputs: Uint8Array[], output: Uint8Array, params: KernelParams[K]): void {
    if (kernel === 'copy') return copyBytes(inputs[0], output, params as KernelParams['copy']);
    (kernels[kernel as Exclude<K, 'copy'>] as Kernels[Exclude<K, 'copy'>])(inputs, output, params as never);
  }
  destroy(): void {}
}
