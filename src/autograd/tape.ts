/**
 * The tape: grad mode, tape nodes, and `record`, which the dispatcher (src/apply.ts) and the
 * ops outside it (views, concat) call after making an output.
 *
 * A node is made only when grad mode is on and some input requires grad (a requiresGrad leaf,
 * or a tensor carrying a node); everything else pays one boolean test (`state.recording`).
 * The node holds what its rule saved (own handles, exempt from tidy through `keep`, so the user
 * may dispose theirs), edges to its inputs' nodes or leaves, and the call's shapes, dtypes and
 * attributes. Lifetimes are reference counts: a node is held by the tensor it made and by the
 * nodes of later ops that consumed that tensor. When the last holder goes (its output disposed,
 * by hand or by the end of a tidy scope, and no live consumer), the node disposes its saved
 * tensors and lets go of its inputs' nodes. backward() frees saved tensors as it passes unless
 * asked to retain the graph; a freed node refuses a second backward with a TandemError.
 *
 * Rules live in src/autograd/rules.ts (one row per op) and register here, so this file, which
 * apply.ts imports, imports no op.
 */
import type { DType, Shape } from '../dtype.js';
import { TandemError } from '../errors.js';
import { keep } from '../lifetime.js';
import type { Tensor } from '../tensor.js';

/** What a rule's grad() sees of the forward call. */
export interface GradContext<A = any> {
  readonly op: string;
  readonly attrs: A;
  readonly shapes: readonly Shape[];
  readonly dtypes: readonly DType[];
  readonly outShape: Shape;
  /** needs[i]: input i wants a gradient; a rule may skip (return null for) the others. */
  readonly needs: readonly boolean[];
  /** What save() kept, in its order (null where it kept nothing). */
  readonly saved: readonly (Tensor | null)[];
}

/**
 * The gradient rule of one op. grad() runs under noGrad inside a tidy scope: it may make
 * temporaries freely, and returns one gradient per input (null for none), shaped like that
 * input and of its dtype (it may be a broadcast view; the engine copies where it must).
 */
export interface GradRule<A = any> {
  /** False when this call has no gradient (e.g. a cast to an integer dtype); default true. */
  when?(dtypes: readonly DType[], attrs: A): boolean;
  /** The tensors grad() needs (inputs or the output); nothing when absent. Save only what is used. */
  save?(inputs: readonly Tensor[], out: Tensor, attrs: A, needs: readonly boolean[]): (Tensor | null)[];
  grad(g: Tensor, ctx: GradContext<A>): (Tensor | null)[];
}

/** Grad mode. `recording` = enabled || probe, the one test the dispatcher makes. */
export const state = { enabled: true, probe: false, sawGrad: false, recording: true };

export function setMode(enabled: boolean, probe: boolean): void {
  state.enabled = enabled;
  state.probe = probe;
  state.recording = enabled || probe;
}

/** Run fn with grad mode set to `on`, restoring the previous mode after (fn must be synchronous). */
export function withGradMode<R>(on: boolean, fn: () => R, probe = state.probe): R {
  const prev = [state.enabled, state.probe] as const;
  setMode(on, probe);
  try {
    return fn();
  } finally {
    setMode(prev[0], prev[1]);
  }
}

/** Rules by op name; rules.ts fills it. */
export const RULES: Record<string, GradRule | null> = {};

export type Edge = GradNode | Tensor | null;

export class GradNode {
  /** Holders: the output tensor plus each consuming node's edge. */
  refs = 1;
  /** Saved tensors were released (by backward without retainGraph, or by the last holder). */
  freed = false;
  constructor(
    readonly rule: GradRule,
    readonly ctx: GradContext,
    /** Per input: its node, the requiresGrad leaf itself, or null (no gradient wanted). */
    public edges: Edge[],
    /** Storage versions of the saved tensors when saved (see Storage.version). */
    readonly versions: number[],
  ) {}

  get op(): string { return this.ctx.op; }

  /** Drop one holder; the last one frees the saved tensors and the edges. */
  release(): void {
    if (--this.refs > 0) return;
    this.free();
    const edges = this.edges;
    this.edges = [];
    for (const e of edges) if (e instanceof GradNode) e.release();
  }

  /** Dispose the saved tensors (the node stays in the graph, refusing a later backward). */
  free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const t of this.ctx.saved) t?.dispose();
  }
}

/** The tensor takes part in autograd: a requiresGrad leaf or the output of a recorded op. */
export const needsGrad = (t: Tensor): boolean => t.requiresGrad || t.gradFn !== null;

/**
 * Note that `op` made `out` from `inputs`. Call only when `state.recording`. In probe mode
 * (checkpoint's forward) nothing is recorded; it only notes that some input needed grad.
 * `force` records a node even when no input needs grad (checkpoint: closed-over leaves do).
 */
export function record(op: string, inputs: readonly Tensor[], out: Tensor, attrs: unknown, force = false): void {
  let any = force;
  for (let i = 0; i < inputs.length && !any; i++) any = needsGrad(inputs[i]);
  if (!any) return;
  if (!state.enabled) { state.sawGrad = true; return; }
  const rule = RULES[op];
  if (rule === undefined) throw new TandemError(`${op}: no gradient rule is registered (add a row to src/autograd/rules.ts)`);
  const dtypes = inputs.map((t) => t.dtype);
  if (rule === null || (rule.when && !rule.when(dtypes, attrs))) return;
  const edges: Edge[] = inputs.map((t) => (t.gradFn ?? (t.requiresGrad ? t : null)));
  const needs = edges.map((e) => e !== null);
  const saved = rule.save ? rule.save(inputs, out, attrs, needs).map((t) => (t ? keep(t.view('save', t.shape, t.strides, t.offset)) : null)) : [];
  const versions = saved.map((t) => (t ? t.storage('save').version : 0));
  const ctx: GradContext = { op, attrs, shapes: inputs.map((t) => t.shape), dtypes, outShape: out.shape, needs, saved };
  for (const e of edges) if (e instanceof GradNode) e.refs++;
  out.gradFn = new GradNode(rule, ctx, edges, versions);
  out.requiresGrad = true;
}

/** record() when grad mode asks for it; returns out (for ops that end in `return recorded(...)`). */
export function recorded(op: string, inputs: readonly Tensor[], out: Tensor, attrs?: unknown): Tensor {
  if (state.recording) record(op, inputs, out, attrs);
  return out;
}
