/**
 * f16 compute for backends whose kernels are f32 (the reference and the Wasm engine): an f16
 * float kernel runs as cast f16 -> f32 of each input, the f32 kernel, and one cast f32 -> f16
 * (round to nearest even) of the result, through the backend's own `cast` kernel. The
 * result is PyTorch's: computed in f32 (f64 in the reference), rounded to f16 once.
 * The gpu has real packed-f16 kernels instead (src/backend/wgsl-half.ts).
 */
import type { Backend, KernelName, KernelParams } from './backend.js';

export type FloatKernel = 'binary' | 'unary' | 'reduce' | 'matmul' | 'softmax';

/** True when this call is a float kernel on f16 operands. */
export function isHalfCall(kernel: KernelName, params: unknown): kernel is FloatKernel {
  return (params as { dtype?: string }).dtype === 'f16';
}

/** Elements a strided operand spans: the last element it addresses, plus one (0 when empty). */
function span(shape: number[], strides: number[], inner = 1): number {
  if (inner === 0 || shape.some((d) => d === 0)) return 0;
  return shape.reduce((s, d, i) => s + (d - 1) * strides[i], 0) + inner;
}

/** Element counts of each input and of the output of a float kernel call. */
export function halfCallSizes(kernel: FloatKernel, params: KernelParams[FloatKernel]): { inputs: number[]; output: number } {
  switch (kernel) {
    case 'binary': {
      const { shape, aStrides, bStrides } = params as KernelParams['binary'];
      return { inputs: [span(shape, aStrides), span(shape, bStrides)], output: shape.reduce((x, y) => x * y, 1) };
    }
    case 'unary': {
      const { size } = params as KernelParams['unary'];
      return { inputs: [size], output: size };
    }
    case 'reduce': {
      const { outer, reduce, inner } = params as KernelParams['reduce'];
      return { inputs: [outer * reduce * inner], output: outer * inner };
    }
    case 'softmax': {
      const { rows, n } = params as KernelParams['softmax'];
      return { inputs: [rows * n], output: rows * n };
    }
    case 'matmul': {
      const { m, k, n, batchShape = [], aBatchStrides = [], bBatchStrides = [], bias } = params as KernelParams['matmul'];
      const batches = batchShape.reduce((x, y) => x * y, 1);
      const ins = [span(batchShape, aBatchStrides, m * k), span(batchShape, bBatchStrides, k * n)];
      if (bias) ins.push(n);
      return { inputs: ins, output: batches * m * n };
    }
  }
}

/** Run an f16 float kernel on `backend` through f32 temporaries (freed before returning). */
export function runHalfViaF32<Buf>(backend: Backend<Buf>, kernel: FloatKernel, inputs: Buf[], output: Buf, params: KernelParams[FloatKernel]): void {
  const sizes = halfCallSizes(kernel, params);
  const temps: Buf[] = [];
  const temp = (elements: number) => {
    const b = backend.alloc(Math.max(4, 4 * elements));
    temps.push(b);
    return b;
  };
  try {
    const wide = inputs.map((buf, i) => {
      const w = temp(sizes.inputs[i]);
      if (sizes.inputs[i] > 0) backend.run('cast', [buf], w, { from: 'f16', to: 'f32', size: sizes.inputs[i] });
      return w;
    });
    const out = temp(sizes.output);
    backend.run(kernel, wide, out, { ...params, dtype: undefined } as never);
    backend.run('cast', [out], output, { from: 'f32', to: 'f16', size: sizes.output });
  } finally {
    for (const b of temps) backend.free(b);
  }
}
