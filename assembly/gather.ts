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

/**
 * The gradient of gather: out[o, k, :] = sum over j with idx[j] = k of g[o, j, :] (f32), g
 * [outer, count, inner], out [outer, axisLen, inner], added in j order. An index outside
 * [0, axisLen) adds nothing (the gather whose gradient this is refused it already).
 */
export function f32_scatter_add(g: usize, idx: usize, out: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  memory.fill(out, 0, (<usize>outer * <usize>axisLen * <usize>inner) << 2);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const k = load<i32>(idx + (<usize>j << 2));
      if (k < 0 || k >= axisLen) continue;
      const src = g + ((<usize>o * <usize>count + <usize>j) * <usize>inner << 2);
      const dst = out + ((<usize>o * <usize>axisLen + <usize>k) * <usize>inner << 2);
      let c = 0;
      for (; c + 4 <= inner; c += 4) {
        const at = <usize>c << 2;
        v128.store(dst + at, f32x4.add(v128.load(dst + at), v128.load(src + at)));
      }
      for (; c < inner; c++) {
        const at = <usize>c << 2;
        store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at));
      }
    }
  }
}

/** Scalar twin of f32_scatter_add (the same adds in the same order, so equal bit for bit). */
export function f32_scatter_add__scalar(g: usize, idx: usize, out: usize, outer: i32, axisLen: i32, inner: i32, count: i32): void {
  memory.fill(out, 0, (<usize>outer * <usize>axisLen * <usize>inner) << 2);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < count; j++) {
      const k = load<i32>(idx + (<usize>j << 2));
      if (k < 0 || k >= axisLen) continue;
      const src = g + ((<usize>o * <usize>count + <usize>j) * <usize>inner << 2);
      const dst = out + ((<usize>o * <usize>axisLen + <usize>k) * <usize>inner << 2);
      for (let c = 0; c < inner; c++) {
        const at = <usize>c << 2;
        store<f32>(dst + at, load<f32>(dst + at) + load<f32>(src + at));
      }
    }
  }
}
