// The window-op descriptor shared by im2col.ts, col2im.ts and maxpool.ts: i32 words written by
// src/backend/wasm.ts (convDesc; keep the two in step). Geometry as in src/backend/backend.ts
// PoolGeom / ConvGeom; `first`/`images` are applied by the caller to the pointers it passes.

export const W_C = 0, W_H = 1, W_W = 2, W_KH = 3, W_KW = 4, W_OH = 5, W_OW = 6;
export const W_SH = 7, W_SW = 8, W_PH = 9, W_PW = 10, W_DH = 11, W_DW = 12, W_GROUPS = 13, W_ONES = 14;

// @ts-ignore: decorator
@inline export function word(desc: usize, w: i32): i32 {
  return load<i32>(desc + (<usize>w << 2));
}

/**
 * Output positions [lo, hi) of one axis whose input index o*s + off falls inside [0, n): the
 * taps of a window row that read x rather than padding.
 */
// @ts-ignore: decorator
@inline export function validLo(off: i32, s: i32): i32 {
  return off >= 0 ? 0 : (-off + s - 1) / s;
}
// @ts-ignore: decorator
@inline export function validHi(off: i32, s: i32, n: i32, outN: i32): i32 {
  return n - 1 - off < 0 ? 0 : min(outN, (n - 1 - off) / s + 1);
}
