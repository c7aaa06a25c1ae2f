// Index ops: gather slabs by an i32 index (index_select, embedding lookup) and one-hot.
// Both validate every index and return the position of the first bad one (or -1), so the JS
// side raises an IndexError instead of reading outside the table.

/**
 * table viewed as [outer, axisLen, inner] items of itemBytes; out[o, j, :] = table[o, idx[j], :]
 * for j < count. Whole slabs move with memory.copy.
 */
export function gather(table: usize, idx: usize, out: usize, outer: i32, axisLen: i32, inner: i32, count: i32, itemBytes: i32): i32 {
  for (let j = 0; j < count; j++) {
    const k = load<i32>(idx + (<usize>j << 2));
    if (k < 0 || k >= axisLen) return j;
  }
  const slab = <usize>inner * <usize>itemBytes;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const k = load<i32>(idx + (<usize>j << 2));
      memory.copy(out + (<usize>o * <usize>count + <usize>j) * slab, table + (<usize>o * <usize>axisLen + <usize>k) * slab, slab);
    }
  }
  return -1;
}

/** out[i, :] = 0 except out[i, idx[i]] = oneBits (the 4-byte pattern of 1 in the out dtype). */
export function one_hot(idx: usize, out: usize, n: i32, classes: i32, oneBits: u32): i32 {
  for (let i = 0; i < n; i++) {
    const k = load<i32>(idx + (<usize>i << 2));
    if (k < 0 || k >= classes) return i;
  }
  memory.fill(out, 0, <usize>n * <usize>classes << 2);
  for (let i = 0; i < n; i++) {
    const k = load<i32>(idx + (<usize>i << 2));
    store<u32>(out + ((<usize>i * <usize>classes + <usize>k) << 2), oneBits);
  }
  return -1;
}
