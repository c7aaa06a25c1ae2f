// Sum along one axis. x is viewed as [outer, reduce, inner] (row-major f32), out as [outer, inner].
// reduce may be 0, in which case out is zeros. No allocation; accumulates in f32.

/** f32x4 sum. inner == 1 reduces contiguous rows with four accumulators; otherwise rows of
 *  length `inner` are added into out, vectorised across inner. */
export function f32_sum(x: usize, out: usize, outer: i32, reduce: i32, inner: i32): void {
  if (inner == 1) {
    for (let o = 0; o < outer; o++) {
      const p = x + (<usize>o * <usize>reduce << 2);
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      let r = 0;
      for (; r + 16 <= reduce; r += 16) {
        const q = p + (<usize>r << 2);
        a0 = f32x4.add(a0, v128.load(q));
        a1 = f32x4.add(a1, v128.load(q, 16));
        a2 = f32x4.add(a2, v128.load(q, 32));
        a3 = f32x4.add(a3, v128.load(q, 48));
      }
      for (; r + 4 <= reduce; r += 4) a0 = f32x4.add(a0, v128.load(p + (<usize>r << 2)));
      const v = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3));
      let s = f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
      for (; r < reduce; r++) s += load<f32>(p + (<usize>r << 2));
      store<f32>(out + (<usize>o << 2), s);
    }
    return;
  }
  for (let o = 0; o < outer; o++) {
    const po = out + (<usize>o * <usize>inner << 2);
    memory.fill(po, 0, <usize>inner << 2);
    for (let r = 0; r < reduce; r++) {
      const px = x + ((<usize>o * <usize>reduce + <usize>r) * <usize>inner << 2);
      let i = 0;
      for (; i + 4 <= inner; i += 4) {
        const q = <usize>i << 2;
        v128.store(po + q, f32x4.add(v128.load(po + q), v128.load(px + q)));
      }
      for (; i < inner; i++) {
        const q = <usize>i << 2;
        store<f32>(po + q, load<f32>(po + q) + load<f32>(px + q));
      }
    }
  }
}

/** Scalar twin of f32_sum. */
export function f32_sum__scalar(x: usize, out: usize, outer: i32, reduce: i32, inner: i32): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let s: f32 = 0;
      for (let r = 0; r < reduce; r++) s += load<f32>(x + (((<usize>o * <usize>reduce + <usize>r) * <usize>inner + <usize>i) << 2));
      store<f32>(out + ((<usize>o * <usize>inner + <usize>i) << 2), s);
    }
  }
}
