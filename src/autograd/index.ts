/**
 * Autograd's public face: grad mode (noGrad, enableGrad, isGradEnabled, setGradEnabled),
 * checkpoint, and the install of the engine behind Tensor.backward. Importing this module
 * registers the rules (rules.ts) and checkpoint's rule.
 */
import { TandemError } from '../errors.js';
import { autogradHooks } from '../tensor.js';
import { backward } from './backward.js';
import { setMode, state, withGradMode } from './tape.js';
import './rules.js';

export { checkpoint } from './checkpoint.js';

autogradHooks.backward = backward;

function checkFn(fn: unknown, op: string): void {
  if (typeof fn !== 'function') throw new TandemError(`${op}: expects a function, got ${typeof fn}`);
}

/** Run fn without recording (torch.no_grad): its results do not require grad. fn must be synchronous. */
export function noGrad<R>(fn: () => R): R {
  checkFn(fn, 'noGrad');
  return withGradMode(false, fn);
}

/** Run fn with recording on, even inside noGrad (torch.enable_grad). fn must be synchronous. */
export function enableGrad<R>(fn: () => R): R {
  checkFn(fn, 'enableGrad');
  return withGradMode(true, fn);
}

/** Whether ops are being recorded now (torch.is_grad_enabled). */
export const isGradEnabled = (): boolean => state.enabled;

/** Turn recording on or off until changed again (torch.set_grad_enabled). */
export function setGradEnabled(on: boolean): void {
  setMode(!!on, state.probe);
}
