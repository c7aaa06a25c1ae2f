/**
 * Shape rules of the window ops (conv2d, maxPool2d and their gradients): PyTorch's arguments
 * checked and turned into the kernels' geometry (backend.ts PoolGeom / ConvGeom). Used by the
 * op table rows (ops.ts); the public functions are in conv.ts.
 */
import type { ConvGeom, PoolGeom } from '../backend/backend.js';
import { type Shape, fmtShape } from '../dtype.js';
import { ShapeError, TandemError } from '../errors.js';
import type { Activation } from './activation.js';

export type Pair = readonly [number, number];

export interface Conv2dAttrs { stride: Pair; padding: Pair; dilation: Pair; groups: number; activation?: Activation }
export interface Pool2dAttrs { kernel: Pair; stride: Pair; padding: Pair; dilation: Pair }

/** A number or [h, w] as a pair of integers >= min (stride and dilation: 1, padding: 0). */
export function pair(v: unknown, name: string, op: string, min: number): Pair {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : null;
  if (p === null || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new TandemError(`${op}: ${name} must be an integer >= ${min} or a pair [h, w] of them, got ${JSON.stringify(v)}`);
  }
  return [p[0], p[1]];
}

/** Output extent of one axis; a ShapeError when the (dilated) window is larger than the padded input. */
function outExtent(op: string, x: Shape, axis: string, n: number, k: number, s: number, p: number, d: number): number {
  const span = d * (k - 1) + 1;
  if (span > n + 2 * p) throw new ShapeError(`${op}: the ${axis} window (${k} taps, dilation ${d}: ${span} wide) is larger than the padded input (${n} + 2*${p}) of ${fmtShape(x)}`);
  return Math.floor((n + 2 * p - span) / s) + 1;
}

function rank4(op: string, what: string, s: Shape): void {
  if (s.length !== 4) throw new ShapeError(`${op}: ${what} must be 4-D, got ${fmtShape(s)}`);
}

export function convGeom(x: Shape, w: Shape, a: Conv2dAttrs, op = 'conv2d'): ConvGeom {
  rank4(op, 'input [N, C, H, W]', x);
  rank4(op, 'weight [O, C/groups, kH, kW]', w);
  const g = a.groups;
  if (!Number.isInteger(g) || g < 1) throw new TandemError(`${op}: groups must be a positive integer, got ${g}`);
  const [n, c, h, wd] = x, [o, cg, kh, kw] = w;
  if (c % g !== 0 || o % g !== 0) throw new ShapeError(`${op}: groups (${g}) must divide the input channels (${c}) and the output channels (${o})`);
  if (cg * g !== c) throw new ShapeError(`${op}: input ${fmtShape(x)} has ${c} channels, weight ${fmtShape(w)} expects ${cg * g} (${cg} per group x ${g} groups)`);
  if (kh < 1 || kw < 1) throw new ShapeError(`${op}: the kernel must be at least 1x1, got weight ${fmtShape(w)}`);
  const [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  const oh = outExtent(op, x, 'height', h, kh, sh, ph, dh), ow = outExtent(op, x, 'width', wd, kw, sw, pw, dw);
  return { n, c, h, w: wd, o, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw, groups: g };
}

export function poolGeom(x: Shape, a: Pool2dAttrs, op = 'maxPool2d'): PoolGeom {
  rank4(op, 'input [N, C, H, W]', x);
  const [n, c, h, w] = x, [kh, kw] = a.kernel, [sh, sw] = a.stride, [ph, pw] = a.padding, [dh, dw] = a.dilation;
  // PyTorch's rule, which also guarantees that every window holds an element of x.
  if (2 * ph > kh || 2 * pw > kw) throw new ShapeError(`${op}: padding [${ph}, ${pw}] must be at most half the kernel size [${kh}, ${kw}]`);
  const oh = outExtent(op, x, 'height', h, kh, sh, ph, dh), ow = outExtent(op, x, 'width', w, kw, sw, pw, dw);
  return { n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw };
}

/** A ShapeError unless `got` is `want` (a gradient's shape against its forward's). */
export function sameShape(op: string, what: string, got: Shape, want: Shape): void {
  if (fmtShape(got) !== fmtShape(want)) throw new ShapeError(`${op}: ${what} must have shape ${fmtShape(want)}, got ${fmtShape(got)}`);
}

/** 2 * multiply-adds of a convolution (and of each of its gradients). */
export const convFlops = (p: ConvGeom): number => 2 * p.n * p.o * p.oh * p.ow * (p.c / p.groups) * p.kh * p.kw;
export const poolFlops = (p: PoolGeom): number => p.n * p.c * p.oh * p.ow * p.kh * p.kw;
