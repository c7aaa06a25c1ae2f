// Index helpers for the collapsed broadcast layout the elementwise kernels receive.
// dims points at i32[3 * rank]: [shape..., a strides..., b strides...], outermost first, in
// elements (where() appends a third operand's strides: i32[4 * rank]). The last dimension is
// the inner loop; the others enumerate "rows".

@inline export function innerExtent(dims: usize, rank: i32): i32 {
  return load<i32>(dims + (<usize>(rank - 1) << 2));
}

/** Stride of operand `which` (1 = a, 2 = b, 3 = a third operand) along the inner loop. */
@inline export function innerStride(dims: usize, rank: i32, which: i32): i32 {
  return load<i32>(dims + (<usize>(which * rank + rank - 1) << 2));
}

export function outerRows(dims: usize, rank: i32): i32 {
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= load<i32>(dims + (<usize>d << 2));
  return rows;
}

/** Element offset of operand `which` at the start of outer row r (row-major over dims 0..rank-2). */
export function rowOffset(dims: usize, rank: i32, r: i32, which: i32): i32 {
  let off = 0, rem = r;
  for (let d = rank - 2; d >= 0; d--) {
    const ext = load<i32>(dims + (<usize>d << 2));
    off += (rem % ext) * load<i32>(dims + (<usize>(which * rank + d) << 2));
    rem /= ext;
  }
  return off;
}
