/**
 * The reference backend: plain TypeScript, accumulating in f64, storing f32. It is the oracle
 * every other backend is tested against, so it is written for obviousness, not speed.
 */
import { BINARY, UNARY } from '../ops/elementwise-spec.js';
import type { Backend, KernelName, KernelParams } from './backend.js';
import { BYTE_KERNELS, type ByteKernels } from './reference-bytes.js';

type F32Kernel = Exclude<KernelName, keyof ByteKernels>;
type Kernels = { [K in F32Kernel]: (inp: Float32Array[], out: Float32Array, p: KernelParams[K]) => void };

/** Reference buffers are plain bytes; these kernels see them through f32 views, BYTE_KERNELS as bytes. */
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
  matmul([a, b], c, { m, k, n }) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
        c[i * n + j] = s;
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
    if (kernel in BYTE_KERNELS) {
      (BYTE_KERNELS[kernel as keyof ByteKernels] as (i: Uint8Array[], o: Uint8Array, p: KernelParams[K]) => void)(inputs, output, params);
      return;
    }
    (kernels[kernel as F32Kernel] as (i: Float32Array[], o: Float32Array, p: KernelParams[K]) => void)(inputs.map(f32), f32(output), params);
  }
  destroy(): void {}
}
