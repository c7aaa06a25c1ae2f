/**
 * Learning-rate schedules (torch.optim.lr_scheduler), in closed form over the epoch count:
 * each `step()` advances the epoch and sets `optimizer.lr = initialLr * factor(epoch)`.
 * Construction applies epoch 0, as PyTorch's schedulers do. Chain phases with SequentialLR
 * (e.g. linear warmup, then cosine decay).
 */
import { TandemError } from '../errors.js';
import type { Optimizer } from './optimizer.js';

export abstract class LRScheduler {
  epoch = 0;
  readonly baseLr: number;
  constructor(readonly optimizer: Optimizer) { this.baseLr = optimizer.initialLr; }
  /** Subclasses call this last in their constructor: it applies epoch 0. */
  protected start(): void { this.optimizer.lr = this.lrAt(0); }
  /** The learning rate at `epoch` (counted from this schedule's start). */
  abstract lrAt(epoch: number): number;
  step(): void {
    this.epoch++;
    this.optimizer.lr = this.lrAt(this.epoch);
  }
  getLastLr(): number { return this.optimizer.lr; }
}

const posInt = (op: string, what: string, v: number): void => {
  if (!Number.isInteger(v) || v < 1) throw new TandemError(`${op}: ${what} must be a positive integer, got ${v}`);
};

/** lr * gamma^floor(epoch / stepSize) (StepLR). */
export class StepLR extends LRScheduler {
  constructor(opt: Optimizer, readonly opts: { stepSize: number; gamma?: number }) {
    posInt('StepLR', 'stepSize', opts.stepSize);
    super(opt);
    this.start();
  }
  lrAt(e: number): number { return this.baseLr * (this.opts.gamma ?? 0.1) ** Math.floor(e / this.opts.stepSize); }
}

/** etaMin + (lr - etaMin)(1 + cos(pi * epoch / tMax)) / 2 (CosineAnnealingLR, closed form; past tMax it stays at etaMin). */
export class CosineAnnealingLR extends LRScheduler {
  constructor(opt: Optimizer, readonly opts: { tMax: number; etaMin?: number }) {
    posInt('CosineAnnealingLR', 'tMax', opts.tMax);
    super(opt);
    this.start();
  }
  lrAt(e: number): number {
    const etaMin = this.opts.etaMin ?? 0;
    return etaMin + ((this.baseLr - etaMin) * (1 + Math.cos((Math.PI * Math.min(e, this.opts.tMax)) / this.opts.tMax))) / 2;
  }
}

/** lr scaled linearly from startFactor to endFactor over totalIters epochs, then held (LinearLR: linear warmup). */
export class LinearLR extends LRScheduler {
  constructor(opt: Optimizer, readonly opts: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    posInt('LinearLR', 'totalIters', opts.totalIters ?? 5);
    const s = opts.startFactor ?? 1 / 3;
    if (!(s > 0 && s <= 1)) throw new TandemError(`LinearLR: startFactor must be in (0, 1], got ${s}`);
    super(opt);
    this.start();
  }
  lrAt(e: number): number {
    const { startFactor: s = 1 / 3, endFactor: f = 1, totalIters: n = 5 } = this.opts;
    return this.baseLr * (s + ((f - s) * Math.min(e, n)) / n);
  }
}

/** lr * fn(epoch) (LambdaLR). */
export class LambdaLR extends LRScheduler {
  constructor(opt: Optimizer, readonly fn: (epoch: number) => number) { super(opt); this.start(); }
  lrAt(e: number): number { return this.baseLr * this.fn(e); }
}

/** Schedules one after another: schedulers[i] runs from milestones[i - 1] (SequentialLR), each from its own epoch 0. */
export class SequentialLR extends LRScheduler {
  constructor(opt: Optimizer, readonly schedulers: readonly LRScheduler[], readonly milestones: readonly number[]) {
    if (schedulers.length !== milestones.length + 1) throw new TandemError(`SequentialLR: needs one milestone fewer than schedulers, got ${schedulers.length} and ${milestones.length}`);
    if (schedulers.some((s) => s.optimizer !== opt)) throw new TandemError('SequentialLR: every scheduler must drive the same optimizer');
    super(opt);
    this.start();
  }
  lrAt(e: number): number {
    let i = 0;
    while (i < this.milestones.length && e >= this.milestones[i]) i++;
    return this.schedulers[i].lrAt(e - (i === 0 ? 0 : this.milestones[i - 1]));
  }
}
