// Strided copy, the one kernel behind every view that must become contiguous (transpose,
// slice, concat). dims points at i32[3 * rank] = shape, src strides, dst strides (elements,
// outermost first); src and dst already include the offsets. itemBytes is 1, 2 or 4.
// The innermost loop uses memory.copy when both sides are contiguous there. No SIMD twin:
// the contiguous case is memory.copy, and strided gathers gain little from f32x4 here.

import { outerRows } from './broadcast';

export function copy_strided(src: usize, dst: usize, dims: usize, rank: i32, itemBytes: i32): void {
  const n = load<i32>(dims + (<usize>(rank - 1) << 2));
  const ss = load<i32>(dims + (<usize>(2 * rank - 1) << 2)) * itemBytes;
  const ds = load<i32>(dims + (<usize>(3 * rank - 1) << 2)) * itemBytes;
  const rows = outerRows(dims, rank);
  for (let r = 0; r < rows; r++) {
    // Offsets of this row on each side (row-major over dims 0..rank-2).
    let so = 0, dso = 0, rem = r;
    for (let d = rank - 2; d >= 0; d--) {
      const ext = load<i32>(dims + (<usize>d << 2));
      const i = rem % ext;
      rem /= ext;
      so += i * load<i32>(dims + (<usize>(rank + d) << 2));
      dso += i * load<i32>(dims + (<usize>(2 * rank + d) << 2));
    }
    const ps = src + <usize>(so * itemBytes), pd = dst + <usize>(dso * itemBytes);
    if (ss == itemBytes && ds == itemBytes) {
      memory.copy(pd, ps, <usize>(n * itemBytes));
    } else if (itemBytes == 4) {
      for (let i = 0; i < n; i++) store<u32>(pd + <usize>(i * ds), load<u32>(ps + <usize>(i * ss)));
    } else if (itemBytes == 2) {
      for (let i = 0; i < n; i++) store<u16>(pd + <usize>(i * ds), load<u16>(ps + <usize>(i * ss)));
    } else {
      for (let i = 0; i < n; i++) store<u8>(pd + <usize>(i * ds), load<u8>(ps + <usize>(i * ss)));
    }
  }
}
