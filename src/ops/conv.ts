/**
 * 2-D convolution and max pooling over NCHW, with PyTorch's arguments (torch.nn.functional
 * conv2d / max_pool2d: stride, padding, dilation a number or [h, w]; groups; pooling's stride
 * defaults to the kernel size), and the gradient functions the autograd rules call.
 *
 * Kernels: one table row each (ops.ts; shape rules in conv-plan.ts). On cpu and gpu a
 * convolution is im2col + the engine's GEMM (+ col2im for dx; backend/conv-driver.ts).
 * f16: inputs all f16 are cast to f32, convolved (f32 accumulation) and the result rounded to
 * f16 once, PyTorch's meaning of an f16 op; the casts cost a pass over each operand, which
 * is small next to the GEMM. Mixed f16/f32 inputs are a DTypeError, as for matmul.
 */
import { apply } from '../apply.js';
import { DTypeError } from '../errors.js';
import type { Tensor } from '../tensor.js';
import type { Activation } from './activation.js';
import { type Conv2dAttrs, type Pair, type Pool2dAttrs, pair } from './conv-plan.js';
import { reshape } from './views.js';

export interface Conv2dOptions {
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
  groups?: number;
  /** Fused into the GEMM's epilogue (Tandem's addition; PyTorch applies F.relu after). */
  activation?: Activation;
}

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: number | Pair;
  padding?: number | Pair;
  dilation?: number | Pair;
}

export function conv2dAttrs(opts: Conv2dOptions = {}): Conv2dAttrs {
  return {
    stride: pair(opts.stride ?? 1, 'stride', 'conv2d', 1),
    padding: pair(opts.padding ?? 0, 'padding', 'conv2d', 0),
    dilation: pair(opts.dilation ?? 1, 'dilation', 'conv2d', 1),
    groups: opts.groups ?? 1,
    activation: opts.activation,
  };
}

export function pool2dAttrs(kernelSize: number | Pair, opts: MaxPool2dOptions = {}): Pool2dAttrs {
  const kernel = pair(kernelSize, 'kernelSize', 'maxPool2d', 1);
  return {
    kernel,
    stride: pair(opts.stride ?? kernel, 'stride', 'maxPool2d', 1),
    padding: pair(opts.padding ?? 0, 'padding', 'maxPool2d', 0),
    dilation: pair(opts.dilation ?? 1, 'dilation', 'maxPool2d', 1),
  };
}

/**
 * Run `f` on f32 versions of `inputs`, and round its f32 results back to f16 when every input
 * was f16; other dtypes pass through to the row, which names them in its DTypeError.
 */
function viaF32<R extends Record<string, Tensor | undefined>>(op: string, inputs: Tensor[], f: (xs: Tensor[]) => R): R {
  const half = inputs.map((t) => t?.dtype === 'f16');
  if (!half.includes(true)) return f(inputs);
  if (half.includes(false)) throw new DTypeError(`${op}: inputs mix dtypes ${[...new Set(inputs.map((t) => t.dtype))].join(' and ')}; Tandem does not promote implicitly: cast one first, e.g. T.cast(x, 'f32')`);
  const wide = inputs.map((t) => apply('cast', [t], { dtype: 'f32' }));
  try {
    const out = f(wide);
    const res = {} as Record<string, Tensor | undefined>;
    for (const [k, t] of Object.entries(out)) {
      res[k] = t && apply('cast', [t], { dtype: 'f16' });
      t?.dispose();
    }
    return res as R;
  } finally {
    for (const t of wide) t.dispose();
  }
}

/** y [N, O, OH, OW] = x [N, C, H, W] (*) weight [O, C/groups, kH, kW] + bias [O] (PyTorch's conv2d: a cross-correlation). */
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, opts: Conv2dOptions = {}): Tensor {
  const attrs = conv2dAttrs(opts);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return viaF32('conv2d', inputs, (xs) => ({ y: apply('conv2d', xs, attrs) })).y!;
}

/** Max over kH x kW windows of x [N, C, H, W] (padding is -inf, NaN propagates; no ceil mode). */
export function maxPool2d(x: Tensor, kernelSize: number | Pair, opts: MaxPool2dOptions = {}): Tensor {
  const attrs = pool2dAttrs(kernelSize, opts);
  return viaF32('maxPool2d', [x], ([x32]) => ({ y: apply('maxPool2d', [x32], attrs) })).y!;
}

export type Conv2dGrads = { dx?: Tensor; dw?: Tensor; db?: Tensor };

/**
 * Gradients of conv2d(x, weight, bias, attrs) given dy = dL/dy, for the autograd rules (not
 * public API): dx = col2im(W^T dy), dw = sum over images of dy cols^T, db = dy summed over
 * N, OH, OW. Only the ones asked for in `needs` are computed. The forward's activation is not
 * part of this: a rule for a fused activation must mask dy first.
 */
export function conv2dBackward(x: Tensor, weight: Tensor, dy: Tensor, attrs: Conv2dAttrs, needs: { dx?: boolean; dw?: boolean; db?: boolean }): Conv2dGrads {
  const a = { ...attrs, activation: undefined };
  return viaF32('conv2dBackward', [x, weight, dy], ([x32, w32, dy32]) => {
    const out: Conv2dGrads = {};
    if (needs.dx) out.dx = apply('conv2dInputGrad', [dy32, w32], { ...a, xShape: x.shape });
    if (needs.dw) out.dw = apply('conv2dWeightGrad', [x32, dy32], { ...a, wShape: weight.shape });
    if (needs.db) {
      const [n, o, oh, ow] = dy32.shape;
      const flat = reshape(dy32, [n, o, oh * ow]);
      const perImage = apply('sum', [flat], { axis: 2 });
      out.db = apply('sum', [perImage], { axis: 0 });
      flat.dispose();
      perImage.dispose();
    }
    return out;
  });
}

/** dx of maxPool2d(x, attrs) given dy: each dy to the first max of its window, summed where windows overlap. */
export function maxPool2dBackward(x: Tensor, dy: Tensor, attrs: Pool2dAttrs): Tensor {
  return viaF32('maxPool2dBackward', [x, dy], ([x32, dy32]) => ({ dx: apply('maxPool2dGrad', [x32, dy32], attrs) })).dx!;
}
