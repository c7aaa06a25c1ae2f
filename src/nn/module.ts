/**
 * Modules (torch.nn.Module): a Module owns parameters and child modules, discovered from its
 * own properties in the order they were assigned, so a layer is a constructor that assigns
 * and a forward():
 *
 *   class Scale extends Module {
 *     weight = parameter(ones([4]));
 *     forward(x: Tensor) { return T.mul(x, this.weight); }
 *   }
 *
 * A property holding a parameter (a Tensor with requiresGrad) is a parameter, one holding a
 * Module is a child, an array of Modules is a list of children named `name.0`, `name.1`, ...
 * Names join with dots as in PyTorch (`0.weight`, `layers.3.attn.qProj.weight`).
 *
 * Lifetimes: parameters are kept out of tidy scopes (T.keep) and live until `dispose()`.
 * `to(device)` moves each parameter (a pinned copy; the old one and its grad are freed), so
 * modules of one model may sit on different engines and the scheduler moves the activations
 * between them; make optimizers after moving, since they hold the parameter tensors.
 * `loadStateDict` copies values into the existing parameters (optimizers stay valid).
 */
import type { DeviceKind } from '../backend/backend.js';
import { checkDevice } from '../create.js';
import { DTypeError, ShapeError, StateDictError, TandemError } from '../errors.js';
import type { StateDict } from '../io/safetensors.js';
import { keep } from '../lifetime.js';
import { copyInto } from '../optim/optimizer.js';
import { copyTo } from '../sched/stream.js';
import { Tensor } from '../tensor.js';

/** Make t a parameter: a leaf with requiresGrad, kept out of tidy scopes. Returns t. */
export function parameter(t: Tensor): Tensor {
  if (!(t instanceof Tensor)) throw new TandemError('parameter: expects a Tensor');
  if (t.dtype !== 'f32') throw new DTypeError(`parameter: parameters are f32, got ${t.dtype}`);
  t.requiresGrad = true;
  return keep(t);
}

const isParam = (v: unknown): v is Tensor => v instanceof Tensor && v.requiresGrad;

export abstract class Module {
  /** train() / eval() mode: Dropout and friends read it. */
  training = true;

  /** The module's computation. */
  abstract forward(...args: never[]): Tensor;

  /** Direct children, named; discovered from properties (Sequential names them by index). */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const [k, v] of Object.entries(this)) {
      if (v instanceof Module) out.push([k, v]);
      else if (Array.isArray(v) && v.length > 0 && v.every((m) => m instanceof Module)) v.forEach((m, i) => out.push([`${k}.${i}`, m]));
    }
    return out;
  }

  /** Every parameter with its dotted name, this module's own first, then each child's in order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [k, v] of Object.entries(this)) if (isParam(v)) out.push([prefix + k, v]);
    for (const [k, m] of this.namedChildren()) out.push(...m.namedParameters(`${prefix}${k}.`));
    return out;
  }

  parameters(): Tensor[] { return this.namedParameters().map(([, p]) => p); }

  /** Every module in the tree, this one first (depth-first). */
  modules(): Module[] { return [this, ...this.namedChildren().flatMap(([, m]) => m.modules())]; }

  train(on = true): this {
    for (const m of this.modules()) m.training = on;
    return this;
  }
  eval(): this { return this.train(false); }

  /** Move every parameter to `device` (see the file comment); returns this. */
  to(device: DeviceKind): this {
    const d = checkDevice(device, 'Module.to');
    for (const m of this.modules()) {
      for (const [k, v] of Object.entries(m)) {
        if (!isParam(v)) continue;
        if (v.device === d) { v.pinned = true; continue; }
        const c = copyTo(v, d, 'Module.to');
        c.pinned = true;
        (m as unknown as Record<string, Tensor>)[k] = parameter(c);
        v.grad?.dispose();
        v.dispose();
      }
    }
    return this;
  }

  /** The parameters by name (the live tensors, not copies): what T.save writes. */
  stateDict(): StateDict { return Object.fromEntries(this.namedParameters()); }

  /**
   * Copy values from `sd` into the parameters. Names, shapes and dtypes must match: a
   * StateDictError lists missing and unexpected keys (with strict: false, both are ignored),
   * a ShapeError or DTypeError names a mismatched tensor. Nothing is copied unless all fit.
   */
  loadStateDict(sd: StateDict, opts: { strict?: boolean } = {}): void {
    const strict = opts.strict ?? true;
    const own = this.namedParameters();
    const names = new Set(own.map(([n]) => n));
    const missing = own.map(([n]) => n).filter((n) => !(n in sd));
    const unexpected = Object.keys(sd).filter((n) => !names.has(n));
    if (strict && (missing.length || unexpected.length)) {
      throw new StateDictError(`loadStateDict: ${[missing.length ? `missing keys ${missing.join(', ')}` : '', unexpected.length ? `unexpected keys ${unexpected.join(', ')}` : ''].filter(Boolean).join('; ')}`, missing, unexpected);
    }
    const pairs = own.filter(([n]) => n in sd).map(([n, p]) => [n, p, sd[n]] as const);
    for (const [n, p, src] of pairs) {
      if (!(src instanceof Tensor)) throw new StateDictError(`loadStateDict: ${n} is not a Tensor`);
      if (src.dtype !== p.dtype) throw new DTypeError(`loadStateDict: ${n} is ${src.dtype}, the parameter is ${p.dtype}`);
      if (src.shape.length !== p.shape.length || src.shape.some((d, i) => d !== p.shape[i])) {
        throw new ShapeError(`loadStateDict: ${n} has shape [${src.shape.join(', ')}], the parameter [${p.shape.join(', ')}]`);
      }
      src.storage('loadStateDict');
    }
    for (const [n, p, src] of pairs) copyInto(p, src, `loadStateDict ${n}`);
  }

  /** Free the parameters (and their grads). The module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
      p.dispose();
    }
  }
}
