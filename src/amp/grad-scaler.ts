/**
 * Dynamic loss scaling (torch.amp.GradScaler): multiply the loss by `scale` before backward so
 * small f16 gradients do not flush to zero, then unscale the grads, check them for inf/NaN,
 * and skip the optimizer step on overflow. update() backs the scale off (x0.5) after an
 * overflow and grows it (x2) after `growthInterval` clean steps in a row.
 *
 * Unscale + check is one fused kernel call per gradient (the `unscale` kernel: grads *= 1/scale
 * in place, raising a found-inf flag shared by every grad on a device), and the flags come back
 * in one read per device per step, never one per parameter.
 *
 * Never blocking: on the cpu the flag is read at once and step()/update() act immediately. A
 * flag on the gpu arrives later: step() then queues the optimizer's updates behind it (they
 * are skipped if it is set; the parameters are pending meanwhile, as outputs of deferred work
 * are), update() decides the new scale when it lands, and the next scale(loss) multiplies by a
 * scalar that is pending until then. `getScale()` is the scale as of the last decision made;
 * `await scaler.sync()` waits for the pending ones.
 */
import { apply } from '../apply.js';
import type { DeviceKind } from '../backend/backend.js';
import { zeros } from '../create.js';
import { TandemError } from '../errors.js';
import { keep } from '../lifetime.js';
import { backendFor } from '../runtime.js';
import { defer } from '../sched/stream.js';
import { Storage, Tensor } from '../tensor.js';
import type { Optimizer } from '../optim/optimizer.js';
import { runInPlace } from '../optim/inplace.js';

export interface GradScalerOptions {
  initScale?: number;
  growthFactor?: number;
  backoffFactor?: number;
  growthInterval?: number;
  /** false: scale() returns the loss unscaled and step() just steps (as PyTorch's enabled=False). */
  enabled?: boolean;
}

/** Per optimizer and step: the found-inf answer (known now, or a promise of it). */
interface Checked { found: boolean | Promise<boolean>; stepped: boolean }

export class GradScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  readonly enabled: boolean;
  #scale: number;
  #growthTracker = 0;
  /** Settles when every update() decision made so far is in. */
  #pending: Promise<void> | null = null;
  #checked = new Map<Optimizer, Checked>();

  constructor(opts: GradScalerOptions = {}) {
    this.#scale = opts.initScale ?? 2 ** 16;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    this.enabled = opts.enabled ?? true;
    if (!(this.#scale > 0 && Number.isFinite(this.#scale))) throw new TandemError(`GradScaler: initScale must be a finite number > 0, got ${this.#scale}`);
    if (!(this.growthFactor > 1)) throw new TandemError(`GradScaler: growthFactor must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1)) throw new TandemError(`GradScaler: backoffFactor must be in (0, 1), got ${this.backoffFactor}`);
    if (!Number.isInteger(this.growthInterval) || this.growthInterval < 1) throw new TandemError(`GradScaler: growthInterval must be a positive integer, got ${this.growthInterval}`);
  }

  /** The loss scale as of the last decided update (see the file comment). */
  getScale(): number { return this.#scale; }

  /** Wait for pending update() decisions; resolves to the current scale. */
  async sync(): Promise<number> {
    if (this.#pending) await this.#pending;
    return this.#scale;
  }

  /** loss * scale (an f32 loss; an f16 one is cast to f32 first, as 2^16 does not fit in f16). */
  scale(loss: Tensor): Tensor {
    if (!(loss instanceof Tensor)) throw new TandemError('GradScaler.scale: expects a Tensor');
    if (!this.enabled) return loss;
    const l = loss.dtype === 'f16' ? apply('cast', [loss], { dtype: 'f32' }) : loss;
    const s = this.#scalar(loss.device);
    const out = apply('mul', [l, s]);
    s.dispose(); // autograd keeps its own handles for backward
    if (l !== loss) l.dispose();
    return out;
  }

  /**
   * Divide the grads of `opt`'s parameters by the scale in place and check them for inf/NaN
   * (once per optimizer per step; step() calls it when you have not, e.g. to clip in between).
   */
  unscale_(opt: Optimizer): void {
    if (!this.enabled) return;
    if (this.#checked.has(opt)) throw new TandemError('GradScaler.unscale_: already called for this optimizer since the last update()');
    const flags = new Map<DeviceKind, Tensor>();
    for (const p of opt.params) {
      const g = p.grad;
      if (g === null || g.size === 0) continue;
      if (g.dtype !== 'f32') throw new TandemError(`GradScaler.unscale_: grads must be f32, got ${g.dtype} (parameters stay f32 under autocast)`);
      let flag = flags.get(g.device);
      if (!flag) flags.set(g.device, (flag = keep(zeros([], { dtype: 'i32', device: g.device }))));
      // invScale is read when the kernel runs: that is after the update() deciding the scale
      // this step's loss was multiplied by (the grads depend on it), and before the next one.
      runInPlace('GradScaler.unscale_', 'unscale', g, [flag], { written: [flag], params: () => ({ size: g.size, invScale: 1 / this.#scale }) });
    }
    this.#checked.set(opt, { found: readFlags([...flags.values()]), stepped: false });
  }

  /** unscale_ (if not done), then opt.step() unless a grad held inf/NaN. */
  step(opt: Optimizer): void {
    if (!this.enabled) return opt.step();
    if (!this.#checked.has(opt)) this.unscale_(opt);
    const c = this.#checked.get(opt)!;
    if (c.stepped) throw new TandemError('GradScaler.step: already called for this optimizer since the last update()');
    c.stepped = true;
    if (c.found === false) opt.step();
    else if (c.found !== true) opt.step({ gate: c.found });
  }

  /** Back off after an overflow, grow after growthInterval clean steps; ends the step. */
  update(): void {
    if (!this.enabled) return;
    if (this.#checked.size === 0) throw new TandemError('GradScaler.update: no inf checks were recorded (call step() or unscale_() first)');
    const answers = [...this.#checked.values()].map((c) => c.found);
    this.#checked.clear();
    if (this.#pending === null && answers.every((a) => typeof a === 'boolean')) return this.#decide(answers.includes(true));
    const before = this.#pending ?? Promise.resolve();
    const p = before.then(() => Promise.all(answers)).then((a) => this.#decide(a.includes(true)));
    this.#pending = p;
    void p.then(() => { if (this.#pending === p) this.#pending = null; }, () => {});
  }

  #decide(found: boolean): void {
    if (found) {
      this.#scale *= this.backoffFactor;
      this.#growthTracker = 0;
    } else if (++this.#growthTracker === this.growthInterval) {
      this.#scale *= this.growthFactor;
      this.#growthTracker = 0;
    }
  }

  /** The scale as an f32 scalar on `device`: at once, or pending until pending decisions are in. */
  #scalar(device: DeviceKind): Tensor {
    const be = backendFor(device, 'GradScaler.scale');
    const storage = new Storage(be, be.alloc(4), 4);
    const t = new Tensor([], 'f32', device, storage);
    if (this.#pending === null) be.write(storage.buf, Float32Array.of(this.#scale));
    else {
      const pending = this.#pending;
      defer(null, [], [storage], async () => {
        await pending;
        be.write(storage.buf, Float32Array.of(this.#scale));
      });
    }
    return t;
  }
}

/**
 * Whether any flag is set: a boolean now when every flag is ready in host-visible memory,
 * else a promise (one read per flag, i.e. per device). The flags are disposed.
 */
function readFlags(flags: Tensor[]): boolean | Promise<boolean> {
  if (flags.length === 0) return false;
  const ready = flags.every((f) => !f.pending && f.backend.readSync !== undefined);
  if (ready) {
    const found = flags.some((f) => new Int32Array(f.backend.readSync!(f.storage('GradScaler').buf, 4).slice().buffer)[0] !== 0);
    for (const f of flags) f.dispose();
    return found;
  }
  return Promise.all(flags.map((f) => f.data<'i32'>())).then(
    (vals) => vals.some((v) => v[0] !== 0),
  ).finally(() => { for (const f of flags) f.dispose(); });
}
