/**
 * Optimizers with PyTorch's update equations (torch.optim.SGD, Adam, AdamW), each parameter
 * updated in place by ONE fused kernel call (params, grad and state buffers together: assembly/
 * optim.ts on cpu, kernels/sgd.wgsl and adam.wgsl on gpu) on the parameter's own device.
 *
 * Parameters are f32, contiguous leaf tensors; their `grad` (set by backward(), or by hand) must
 * have the same shape and be f32. Parameters without a grad are skipped, as in PyTorch. State
 * (momentum buffer, exp_avg, exp_avg_sq) is made lazily on the parameter's device, kept out of
 * tidy scopes, and freed by `dispose()`. The step count is per parameter and advances only
 * when the update runs (a GradScaler-skipped step does not count).
 *
 * `lr` (and every hyperparameter) may be changed between steps: LR schedules do so.
 */
import type { KernelName, KernelParams } from '../backend/backend.js';
import { zeros } from '../create.js';
import { DTypeError, ShapeError, TandemError } from '../errors.js';
import { keep } from '../lifetime.js';
import { Tensor, createTensor } from '../tensor.js';
import type { StateDict } from '../io/safetensors.js';
import { runInPlace } from './inplace.js';

interface ParamState { step: number; buffers: Tensor[] }

export abstract class Optimizer {
  readonly params: readonly Tensor[];
  lr: number;
  /** The learning rate given at construction (schedules scale it). */
  readonly initialLr: number;
  protected readonly state = new Map<Tensor, ParamState>();
  /** Names of the state buffers, in the order the kernel takes them after the grad. */
  protected abstract readonly stateNames: readonly string[];

  constructor(params: Iterable<Tensor>, lr: number) {
    this.params = [...params];
    const name = this.constructor.name;
    if (this.params.length === 0) throw new TandemError(`${name}: got an empty parameter list`);
    this.params.forEach((p, i) => {
      if (!(p instanceof Tensor)) throw new TandemError(`${name}: parameter ${i} is not a Tensor`);
      if (p.dtype !== 'f32') throw new DTypeError(`${name}: parameter ${i} is ${p.dtype}; parameters are f32 (autocast runs f16 compute on f32 parameters)`);
    });
    if (new Set(this.params).size !== this.params.length) throw new TandemError(`${name}: a parameter appears more than once`);
    checkNonNegative(name, 'lr', lr);
    this.lr = lr;
    this.initialLr = lr;
  }

  /** Drop every parameter's grad (PyTorch's default set_to_none=True): backward() makes fresh ones. */
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * One update of every parameter with a grad. @internal `gate`: the GradScaler's found-inf
   * promise; the updates wait for it and are skipped when it resolves to true.
   */
  step(opts: { gate?: Promise<boolean> } = {}): void {
    const name = this.constructor.name;
    this.params.forEach((p, i) => {
      const g = p.grad;
      if (g === null || p.size === 0) return;
      if (!(g instanceof Tensor)) throw new TandemError(`${name}: parameter ${i}'s grad is not a Tensor`);
      if (g.dtype !== 'f32') throw new DTypeError(`${name}: parameter ${i}'s grad is ${g.dtype}; expected f32`);
      if (g.shape.length !== p.shape.length || g.shape.some((d, k) => d !== p.shape[k])) {
        throw new ShapeError(`${name}: parameter ${i} is [${p.shape.join(', ')}] but its grad is [${g.shape.join(', ')}]`);
      }
      const st = this.stateOf(p);
      const hp = this.hyper(); // this step's hyperparameters, captured now
      runInPlace(name, this.kernel, p, [g, ...st.buffers], {
        written: st.buffers,
        gate: opts.gate,
        onRun: () => { st.step++; },
        params: () => ({ ...hp, size: p.size, step: st.step }) as KernelParams[typeof this.kernel],
      });
    });
  }

  /** Free the state buffers (the parameters are the model's). */
  dispose(): void {
    for (const st of this.state.values()) for (const b of st.buffers) b.dispose();
    this.state.clear();
  }

  /**
   * The state as tensors, for T.save: `state.{i}.{buffer}` (the live buffers, not copies) and
   * `state.{i}.step` (i32 scalar on cpu, a copy) for each parameter index i that has state.
   */
  stateDict(): StateDict {
    const out: StateDict = {};
    this.params.forEach((p, i) => {
      const st = this.state.get(p);
      if (!st) return;
      st.buffers.forEach((b, k) => { out[`state.${i}.${this.stateNames[k]}`] = b; });
      out[`state.${i}.step`] = keep(createTensor([], 'i32', 'cpu', 'stateDict', () => Int32Array.of(st.step)));
    });
    return out;
  }

  /** Load state saved by stateDict() (values are copied into this optimizer's own buffers). */
  async loadStateDict(sd: StateDict): Promise<void> {
    const name = this.constructor.name;
    const known = new Set<string>();
    for (const [i, p] of this.params.entries()) {
      const stepT = sd[`state.${i}.step`];
      if (!stepT) continue;
      known.add(`state.${i}.step`);
      const st = this.stateOf(p);
      st.step = (await stepT.data<'i32'>())[0];
      st.buffers.forEach((b, k) => {
        const key = `state.${i}.${this.stateNames[k]}`, src = sd[key];
        if (!src) throw new TandemError(`${name}.loadStateDict: missing ${key}`);
        if (src.dtype !== b.dtype || src.shape.join() !== b.shape.join()) throw new ShapeError(`${name}.loadStateDict: ${key} is ${src.dtype} [${src.shape}], expected ${b.dtype} [${b.shape}]`);
        copyInto(b, src, `${name}.loadStateDict`);
        known.add(key);
      });
    }
    const extra = Object.keys(sd).filter((k) => !known.has(k));
    if (extra.length) throw new TandemError(`${name}.loadStateDict: unexpected keys ${extra.join(', ')}`);
  }

  protected abstract readonly kernel: KernelName & ('sgd' | 'adam' | 'adamw');
  /** Hyperparameters of the kernel call, without size and step. */
  protected abstract hyper(): object;
  /** How many state buffers a parameter needs (0 for plain SGD). */
  protected abstract stateCount(): number;

  private stateOf(p: Tensor): ParamState {
    let st = this.state.get(p);
    if (!st) {
      const buffers = Array.from({ length: this.stateCount() }, () => keep(zeros(p.shape, { device: p.device })));
      st = { step: 0, buffers };
      this.state.set(p, st);
    }
    return st;
  }
}

/** Copy src's values into dst's storage (same shape and dtype; src may live on another device). */
export function copyInto(dst: Tensor, src: Tensor, op: string): void {
  if (dst.size === 0) return;
  runInPlace(op, 'copy', dst, [src], {
    params: () => ({ itemBytes: (dst.byteLength / Math.max(1, dst.size)) as 1 | 2 | 4, shape: [dst.size], srcStrides: [1], dstStrides: [1], srcOffset: 0, dstOffset: 0 }),
  });
}

export function checkNonNegative(op: string, what: string, v: unknown): void {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new TandemError(`${op}: ${what} must be a finite number >= 0, got ${String(v)}`);
}

export interface SGDOptions { lr?: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }

/** torch.optim.SGD: momentum, dampening, Nesterov and (L2) weight decay. */
export class SGD extends Optimizer {
  momentum: number; dampening: number; nesterov: boolean; weightDecay: number;
  protected readonly kernel = 'sgd' as const;
  protected readonly stateNames = ['momentum_buffer'];
  constructor(params: Iterable<Tensor>, opts: SGDOptions = {}) {
    super(params, opts.lr ?? 1e-3);
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.weightDecay = opts.weightDecay ?? 0;
    for (const k of ['momentum', 'dampening', 'weightDecay'] as const) checkNonNegative('SGD', k, this[k]);
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) throw new TandemError('SGD: Nesterov momentum requires momentum > 0 and dampening 0');
  }
  protected hyper() { return { lr: this.lr, momentum: this.momentum, dampening: this.dampening, nesterov: this.nesterov, weightDecay: this.weightDecay }; }
  protected stateCount(): number { return this.momentum !== 0 ? 1 : 0; }
}

export interface AdamOptions { lr?: number; betas?: readonly [number, number]; eps?: number; weightDecay?: number }

/** torch.optim.Adam (L2 weight decay added to the gradient; amsgrad not supported). */
export class Adam extends Optimizer {
  beta1: number; beta2: number; eps: number; weightDecay: number;
  protected readonly kernel: 'adam' | 'adamw' = 'adam';
  protected readonly stateNames = ['exp_avg', 'exp_avg_sq'];
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}, defaultDecay = 0) {
    super(params, opts.lr ?? 1e-3);
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? defaultDecay;
    const name = this.constructor.name;
    for (const [k, b] of [['betas[0]', this.beta1], ['betas[1]', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new TandemError(`${name}: ${k} must be in [0, 1), got ${b}`);
    }
    checkNonNegative(name, 'eps', this.eps);
    checkNonNegative(name, 'weightDecay', this.weightDecay);
  }
  protected hyper() { return { lr: this.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay }; }
  protected stateCount(): number { return 2; }
}

/** torch.optim.AdamW: decoupled weight decay (default 0.01). */
export class AdamW extends Adam {
  protected override readonly kernel = 'adamw' as const;
  constructor(params: Iterable<Tensor>, opts: AdamOptions = {}) {
    super(params, opts, 0.01);
  }
}
