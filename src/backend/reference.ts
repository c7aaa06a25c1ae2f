/**
 * The reference backend: plain TypeScript, accumulating in f64, storing f32. It is the oracle
 * every other backend is tested against, so it is written for obviousness, not speed.
 */
import { ACTIVATIONS } from '../ops/activation.js';
import { BINARY, UNARY } from '../ops/elementwise-spec.js';
import type { Backend, KernelName, KernelParams } from './backend.js';

type Kernels = { [K in KernelName]: (inp: Float32Array[], out: Float32Array, p: KernelParams[K]) => void };

/** Reference buffers are plain bytes; kernels see them through f32 views. */
const f32 = (b: Uint8Array) => new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);

const kernels = {
  binary(inp, out, { op, shape, aStrides, bStrides }) {
    const f = BINARY[op].ref;
    const [a, b] = inp;
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < out.length; i++) {
      let ia = 0, ib = 0;
      for (let d = 0; d < shape.length; d++) { ia += idx[d] * aStrides[d]; ib += idx[d] * bStrides[d]; }
      out[i] = f(a[ia], b[ib]);
      for (let d = shape.length - 1; d >= 0 && ++idx[d] === shape[d]; d--) idx[d] = 0;
    }
  },
  unary([x], out, { op, size }) {
    const f = UNARY[op].ref;
    for (let i = 0; i < size; i++) out[i] = f(x[i]);
  },
  sum([x], out, { outer, reduce, inner }) {
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        let s = 0;
        for (let r = 0; r < reduce; r++) s += x[(o * reduce + r) * inner + i];
        out[o * inner + i] = s;
      }
    }
  },
  matmul([a, b, bias], c, p) {
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
} satisfies Kernels;

export class ReferenceBackend implements Backend<Uint8Array> {
  readonly kind = 'ref' as const;
  alloc(bytes: number): Uint8Array { return new Uint8Array(Math.ceil(bytes / 4) * 4); }
  free(_buf: Uint8Array): void {}
  write(buf: Uint8Array, data: ArrayBufferView): void { buf.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)); }
  async read(buf: Uint8Array, bytes: number): Promise<Uint8Array> { return buf.slice(0, bytes); }
  run<K extends KernelName>(kernel: K, inputs: Uint8Array[], output: Uint8Array, params: KernelParams[K]): void {
    (kernels[kernel] as Kernels[K])(inputs.map(f32), f32(output), params);
  }
  destroy(): void {}
}
