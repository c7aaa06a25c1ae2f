/**
 * Strided layouts: what a view is (shape, element strides, element offset into shared storage),
 * and the collapse that turns a strided copy into the fewest loops for the `copy` kernel.
 */
import type { Shape } from '../dtype.js';

export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

export interface CopyLoops {
  shape: number[];
  srcStrides: number[];
  dstStrides: number[];
}

/** Merge adjacent dims that both sides step through contiguously; drop size-1 dims. */
export function collapseCopy(shape: Shape, src: readonly number[], dst: readonly number[]): CopyLoops {
  const out: CopyLoops = { shape: [], srcStrides: [], dstStrides: [] };
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 1) continue;
    const last = out.shape.length - 1;
    if (last >= 0 && out.srcStrides[last] === src[i] * shape[i] && out.dstStrides[last] === dst[i] * shape[i]) {
      out.shape[last] *= shape[i];
      out.srcStrides[last] = src[i];
      out.dstStrides[last] = dst[i];
    } else {
      out.shape.push(shape[i]); out.srcStrides.push(src[i]); out.dstStrides.push(dst[i]);
    }
  }
  if (out.shape.length === 0) return { shape: [1], srcStrides: [0], dstStrides: [0] };
  return out;
}
