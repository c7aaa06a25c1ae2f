/**
 * Tensor lifetimes beyond dispose() and `using`: tidy scopes, keep(), live-tensor counts per
 * device (memoryStats().liveTensors) and the leak report.
 *
 * Every Tensor calls `track` when made and `untrack` on its (first) dispose. `tidy(fn)` opens a
 * scope; every tensor made while it is the innermost one is disposed when fn returns, except
 * what fn returns (a tensor, or tensors inside arrays and plain objects, at any depth), which
 * moves to the enclosing scope, and what `keep` marked. Scopes nest. fn must be synchronous:
 * a scope cannot know when an async fn is done, so a returned Promise is refused with a
 * TandemError (the scope's tensors are disposed, and the promise's own rejection is silenced).
 *
 * Leak report (`debugLeaks`): a FinalizationRegistry notes tensors garbage-collected without
 * dispose() and reports each with the stack where it was made (a stack per tensor: debug only).
 * It reports; it does not free (a collected view's storage may be shared with live views).
 */
import type { DeviceKind } from './backend/backend.js';
import { TandemError } from './errors.js';

interface Tracked { readonly device: DeviceKind; dispose(): void; toString(): string }

export interface LeakReport { tensor: string; device: DeviceKind; createdAt: string }

const scopes: Set<Tracked>[] = [];
const kept = new WeakSet<Tracked>();
const live: Record<DeviceKind, number> = { cpu: 0, gpu: 0, ref: 0 };
let report: ((r: LeakReport) => void) | null = null;
let registry: FinalizationRegistry<LeakReport> | null = null;

/** @internal */
export function track(t: Tracked): void {
  live[t.device]++;
  scopes[scopes.length - 1]?.add(t);
  if (report) registry!.register(t, { tensor: t.toString(), device: t.device, createdAt: new Error('created').stack ?? '' }, t);
}

/** @internal */
export function untrack(t: Tracked): void {
  live[t.device]--;
  registry?.unregister(t);
}

/** Tensors made and not yet disposed on `device`. */
export function liveTensors(device: DeviceKind): number { return live[device]; }

/** Run fn; dispose every tensor it made except what it returns and what it kept. */
export function tidy<R>(fn: () => R): R {
  if (typeof fn !== 'function') throw new TandemError(`tidy: expects a function, got ${typeof fn}`);
  const scope = new Set<Tracked>();
  scopes.push(scope);
  let result: R;
  try {
    result = fn();
  } catch (e) {
    close(scope, new Set());
    throw e;
  }
  if (result !== null && typeof (result as { then?: unknown })?.then === 'function') {
    (result as unknown as Promise<unknown>).then(undefined, () => {});
    close(scope, new Set());
    throw new TandemError('tidy: fn returned a Promise; tidy cannot scope async work. Use `using` or dispose() across awaits, or tidy the synchronous parts');
  }
  const out = new Set<Tracked>();
  collect(result, scope, out, 0);
  close(scope, out);
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of out) parent.add(t);
  return result;
}

/** Exempt t from every enclosing tidy (it lives until disposed). Returns t. */
export function keep<T extends Tracked>(t: T): T {
  kept.add(t);
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Report tensors garbage-collected without dispose(): `true` warns on the console, a function
 * gets each report, `false` stops. Only tensors made while it is on are watched.
 */
export function debugLeaks(on: boolean | ((r: LeakReport) => void)): void {
  report = on === false ? null : typeof on === 'function' ? on
    : (r: LeakReport) => console.warn(`tandem: ${r.tensor} was garbage-collected without dispose(); made at\n${r.createdAt}`);
  registry ??= new FinalizationRegistry((r) => report?.(r));
}

function close(scope: Set<Tracked>, keepSet: Set<Tracked>): void {
  if (scopes[scopes.length - 1] !== scope) throw new TandemError('tidy: scopes closed out of order');
  scopes.pop();
  for (const t of scope) if (!keepSet.has(t) && !kept.has(t)) t.dispose();
}

/** Tensors of `scope` found in v (arrays and plain objects are searched). */
function collect(v: unknown, scope: Set<Tracked>, out: Set<Tracked>, depth: number): void {
  if (v === null || typeof v !== 'object' || depth > 16) return;
  if (scope.has(v as Tracked)) { out.add(v as Tracked); return; }
  if (Array.isArray(v)) { for (const x of v) collect(x, scope, out, depth + 1); return; }
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) for (const x of Object.values(v)) collect(x, scope, out, depth + 1);
}
