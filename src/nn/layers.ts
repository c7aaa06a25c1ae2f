/**
 * Layers (torch.nn): Linear, activations, LayerNorm, Embedding, Dropout, Conv2d, MaxPool2d,
 * Flatten, Sequential. Each is a Module whose constructor makes its parameters (PyTorch's
 * default initialisation, from a seeded host generator so a seed gives the same values on
 * every device) and whose forward calls the ops. Options: `device` (default 'cpu'; naming it pins the parameters there) and
 * `seed` (default: random).
 */
import type { DeviceKind } from '../backend/backend.js';
import { ones, tensor, zeros } from '../create.js';
import { TandemError } from '../errors.js';
import * as T from '../index.js';
import { Rng } from '../random.js';
import type { Conv2dOptions, MaxPool2dOptions } from '../ops/conv.js';
import type { Tensor } from '../tensor.js';
import { Module, parameter } from './module.js';

export interface InitOptions { device?: DeviceKind; seed?: number }

const newRng = (seed?: number): Rng => new Rng(seed ?? Math.floor(Math.random() * 2 ** 32));

/** A parameter of `shape` drawn from U(-bound, bound). */
export function uniformParam(shape: number[], bound: number, rng: Rng, device?: DeviceKind): Tensor {
  const n = shape.reduce((a, b) => a * b, 1), v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = (2 * rng.uniform() - 1) * bound;
  return parameter(tensor(v, shape, { device }));
}

const dim = (op: string, what: string, v: number): void => {
  if (!Number.isInteger(v) || v < 1) throw new TandemError(`${op}: ${what} must be a positive integer, got ${v}`);
};

/** y = x W^T + b; W [out, in] and b [out] from U(-1/sqrt(in), 1/sqrt(in)) (PyTorch's default). */
export class Linear extends Module {
  weight: Tensor;
  bias: Tensor | null;
  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: InitOptions & { bias?: boolean } = {}) {
    super();
    dim('Linear', 'inFeatures', inFeatures);
    dim('Linear', 'outFeatures', outFeatures);
    const rng = newRng(opts.seed), bound = 1 / Math.sqrt(inFeatures);
    this.weight = uniformParam([outFeatures, inFeatures], bound, rng, opts.device);
    this.bias = opts.bias === false ? null : uniformParam([outFeatures], bound, rng, opts.device);
  }
  forward(x: Tensor): Tensor { return T.linear(x, this.weight, this.bias); }
}

/** A module around an elementwise function (the activations). */
abstract class Elementwise extends Module {
  protected abstract readonly fn: (x: Tensor) => Tensor;
  forward(x: Tensor): Tensor { return this.fn(x); }
}
export class ReLU extends Elementwise { protected readonly fn = T.relu; }
/** GELU, tanh approximation (as T.gelu). */
export class GELU extends Elementwise { protected readonly fn = T.gelu; }
export class Tanh extends Elementwise { protected readonly fn = T.tanh; }
export class Sigmoid extends Elementwise { protected readonly fn = T.sigmoid; }
export class SiLU extends Elementwise { protected readonly fn = T.silu; }

/** Layer norm over the trailing normalizedShape, with learnable weight (ones) and bias (zeros). */
export class LayerNorm extends Module {
  readonly normalizedShape: number[];
  weight: Tensor | null;
  bias: Tensor | null;
  constructor(normalizedShape: number | number[], readonly opts: { eps?: number; elementwiseAffine?: boolean; device?: DeviceKind } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    const affine = opts.elementwiseAffine ?? true;
    this.weight = affine ? parameter(ones(this.normalizedShape, { device: opts.device })) : null;
    this.bias = affine ? parameter(zeros(this.normalizedShape, { device: opts.device })) : null;
  }
  forward(x: Tensor): Tensor {
    return T.layerNorm(x, this.normalizedShape, { weight: this.weight ?? undefined, bias: this.bias ?? undefined, eps: this.opts.eps });
  }
}

/** A lookup table [numEmbeddings, embeddingDim] from N(0, 1); forward takes i32 indices of any shape. */
export class Embedding extends Module {
  weight: Tensor;
  constructor(readonly numEmbeddings: number, readonly embeddingDim: number, opts: InitOptions = {}) {
    super();
    dim('Embedding', 'numEmbeddings', numEmbeddings);
    dim('Embedding', 'embeddingDim', embeddingDim);
    const v = newRng(opts.seed).fillNormal(new Float32Array(numEmbeddings * embeddingDim));
    this.weight = parameter(tensor(v, [numEmbeddings, embeddingDim], { device: opts.device }));
  }
  forward(indices: Tensor): Tensor { return T.embedding(indices, this.weight); }
}

/**
 * In train(): zero each element with probability p and scale the rest by 1 / (1 - p); in
 * eval() (or p = 0): the input itself. The mask comes from a seeded host generator, so the
 * same seed gives the same masks, call after call, on every device.
 */
export class Dropout extends Module {
  #rng: Rng;
  constructor(readonly p = 0.5, opts: { seed?: number } = {}) {
    super();
    if (!(p >= 0 && p <= 1)) throw new TandemError(`Dropout: p must be in [0, 1], got ${p}`);
    this.#rng = newRng(opts.seed);
  }
  forward(x: Tensor): Tensor {
    if (!this.training || this.p === 0) return x;
    const keepScale = this.p === 1 ? 0 : 1 / (1 - this.p);
    const m = new Float32Array(x.size);
    for (let i = 0; i < m.length; i++) m[i] = this.#rng.uniform() >= this.p ? keepScale : 0;
    const mask = tensor(m, x.shape, { device: x.device, dtype: x.dtype === 'f16' ? 'f16' : 'f32' });
    const y = T.mul(x, mask);
    mask.dispose(); // autograd keeps its own handle for backward
    return y;
  }
}

/**
 * 2-D convolution over NCHW (T.conv2d): weight [out, in/groups, kH, kW] and bias [out] from
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = in/groups * kH * kW (PyTorch's default).
 * `activation: 'relu'` fuses the relu into the GEMM epilogue (PyTorch would apply it after).
 */
export class Conv2d extends Module {
  weight: Tensor;
  bias: Tensor | null;
  readonly opts: Conv2dOptions;
  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: number | [number, number],
    opts: InitOptions & Conv2dOptions & { bias?: boolean } = {}) {
    super();
    dim('Conv2d', 'inChannels', inChannels);
    dim('Conv2d', 'outChannels', outChannels);
    const [kh, kw] = typeof kernelSize === 'number' ? [kernelSize, kernelSize] : kernelSize;
    const groups = opts.groups ?? 1;
    const rng = newRng(opts.seed), bound = 1 / Math.sqrt((inChannels / groups) * kh * kw);
    this.weight = uniformParam([outChannels, inChannels / groups, kh, kw], bound, rng, opts.device);
    this.bias = opts.bias === false ? null : uniformParam([outChannels], bound, rng, opts.device);
    this.opts = { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups, activation: opts.activation };
  }
  forward(x: Tensor): Tensor { return T.conv2d(x, this.weight, this.bias, this.opts); }
}

/** Max pooling over NCHW windows (T.maxPool2d); stride defaults to the kernel size. */
export class MaxPool2d extends Module {
  constructor(readonly kernelSize: number | [number, number], readonly opts: MaxPool2dOptions = {}) { super(); }
  forward(x: Tensor): Tensor { return T.maxPool2d(x, this.kernelSize, this.opts); }
}

/** [N, ...] -> [N, rest] (torch.nn.Flatten with its defaults), a view. */
export class Flatten extends Module {
  forward(x: Tensor): Tensor { return T.reshape(x, [x.shape[0], -1]); }
}

/** Modules applied in order; children are named by position (`0.weight`, `2.bias`). */
export class Sequential extends Module {
  readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    layers.forEach((m, i) => { if (!(m instanceof Module)) throw new TandemError(`Sequential: argument ${i} is not a Module`); });
    this.layers = layers;
  }
  override namedChildren(): [string, Module][] { return this.layers.map((m, i) => [String(i), m]); }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const m of this.layers) y = (m.forward as (t: Tensor) => Tensor)(y);
    return y;
  }
}
