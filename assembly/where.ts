// where(cond, a, b): out[i] = cond[ic] != 0 ? a[ia] : b[ib] over a collapsed three-operand
// broadcast (src/ops/broadcast.ts). dims points at i32[4 * rank]: shape, then cond, a and b
// strides in elements, outermost first; after the collapse each inner stride is 0 (broadcast)
// or 1. cond is one byte per element (bool); a, b and out are f32.
import { innerExtent, innerStride, outerRows, rowOffset } from './broadcast';

/** Lane masks from four cond bytes at element i (or one byte, splatted, when broadcast). */
// @ts-ignore: decorator
@inline function condMask(pc: usize, i: i32, sc: i32): v128 {
  const bytes = sc ? v128.load32_zero(pc + <usize>i) : v128.load8_splat(pc);
  return i32x4.ne(i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(bytes)), i32x4.splat(0));
}

/** Four f32 lanes from element i, or one element splatted when broadcast. */
// @ts-ignore: decorator
@inline function lanes(p: usize, i: i32, s: i32): v128 {
  return s ? v128.load(p + (<usize>i << 2)) : v128.load32_splat(p);
}

export function f32_where(pc0: usize, pa0: usize, pb0: usize, out: usize, dims: usize, rank: i32): void {
  const n = innerExtent(dims, rank);
  const sc = innerStride(dims, rank, 1), sa = innerStride(dims, rank, 2), sb = innerStride(dims, rank, 3);
  const rows = outerRows(dims, rank);
  for (let r = 0; r < rows; r++) {
    const pc = pc0 + <usize>rowOffset(dims, rank, r, 1);
    const pa = pa0 + (<usize>rowOffset(dims, rank, r, 2) << 2);
    const pb = pb0 + (<usize>rowOffset(dims, rank, r, 3) << 2);
    const po = out + (<usize>r * <usize>n << 2);
    let i = 0;
    // The stride tests are loop-invariant branches; the predictor makes them nearly free.
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), v128.bitselect(lanes(pa, i, sa), lanes(pb, i, sb), condMask(pc, i, sc)));
    }
    for (; i < n; i++) {
      const c = load<u8>(pc + <usize>(i * sc));
      store<f32>(po + (<usize>i << 2), c ? load<f32>(pa + (<usize>(i * sa) << 2)) : load<f32>(pb + (<usize>(i * sb) << 2)));
    }
  }
}

/** Scalar twin of f32_where. */
export function f32_where__scalar(pc0: usize, pa0: usize, pb0: usize, out: usize, dims: usize, rank: i32): void {
  const n = innerExtent(dims, rank);
  const sc = innerStride(dims, rank, 1), sa = innerStride(dims, rank, 2), sb = innerStride(dims, rank, 3);
  const rows = outerRows(dims, rank);
  for (let r = 0; r < rows; r++) {
    const pc = pc0 + <usize>rowOffset(dims, rank, r, 1);
    const pa = pa0 + (<usize>rowOffset(dims, rank, r, 2) << 2);
    const pb = pb0 + (<usize>rowOffset(dims, rank, r, 3) << 2);
    const po = out + (<usize>r * <usize>n << 2);
    for (let i = 0; i < n; i++) {
      const c = load<u8>(pc + <usize>(i * sc));
      store<f32>(po + (<usize>i << 2), c ? load<f32>(pa + (<usize>(i * sa) << 2)) : load<f32>(pb + (<usize>(i * sb) << 2)));
    }
  }
}
