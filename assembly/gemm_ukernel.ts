// Register-blocked f32x4 GEMM microkernels: ROWS x 8 and ROWS x 4 tiles of C (ROWS <= MR).
//
// Contract of every kernel here:
//   pa: packed A panel, MR floats per k step (rows beyond ROWS are ignored), kc steps.
//   pb: B panel, 8 (or 4) floats per k step, consecutive steps `bs` bytes apart: bs = 32 for a
//       packed panel, or the row pitch of an unpacked row-major B (the skinny-M path).
//   c:  the tile's first element, rows ldc bytes apart; every 16-byte lane group of the tile
//       is read (F_LOAD) and written, so edge tiles go through a scratch tile (gemm.ts).
//   flags: F_LOAD adds the tile already in C (a later K block); F_FINAL applies the epilogue
//       (bias: 8 or 4 readable floats at `bias`, 0 for none; then the activation).
// Nothing is allocated; kc may be 0. The kernels are one @inline template (`tile`) whose
// ROWS / WIDE arguments are constants at each instantiation, so the optimiser drops the rows
// and the half that an instance does not use, and each instance keeps its accumulators in
// registers (x64 has 16 xmm registers: MR = 4 keeps 8 accumulators + 2 B + 1 A + 1 temp).
// Measured here (2-core AMD EPYC, V8 in Node 20): this 4x8 loop runs at the machine's measured
// f32x4 peak in both builds. Without FMA it is bound by instruction issue, not by the FP
// units, so instructions count: an end pointer instead of a counter gained ~8%; splatting A
// lanes by shuffle instead of load32_splat lost ~10%; 5x8 and 6x8 tiles, and a 2x-unrolled
// k loop, made V8 spill accumulators and ran 20-40% slower. So MR is 4.
import { ACT_RELU, MR } from './gemm_desc';
import { fma } from './simd';

export { fma };

export const F_LOAD = 1, F_FINAL = 2;

/** The epilogue activation on four lanes. relu keeps NaN (a select, never max), as the
 *  elementwise relu does. Hook: a new activation gets an id in gemm_desc.ts, a branch here and
 *  in activateScalar, and a row in src/ops/activation.ts. */
// @ts-ignore: decorator
@inline export function activate(v: v128, act: i32): v128 {
  if (act == ACT_RELU) return v128.bitselect(f32x4.splat(0), v, f32x4.lt(v, f32x4.splat(0)));
  return v;
}

// @ts-ignore: decorator
@inline export function activateScalar(x: f32, act: i32): f32 {
  if (act == ACT_RELU) return x < 0 ? <f32>0 : x;
  return x;
}

// @ts-ignore: decorator
@inline function finish(v: v128, fin: bool, hasBias: bool, bias: v128, act: i32): v128 {
  if (!fin) return v;
  if (hasBias) v = f32x4.add(v, bias);
  return activate(v, act);
}

/** Row r (0..3) of A at one k step, loaded and splat in one instruction (vbroadcastss). */
// @ts-ignore: decorator
@inline function rowA(pa: usize, r: i32): v128 {
  if (r == 0) return v128.load32_splat(pa);
  if (r == 1) return v128.load32_splat(pa, 4);
  if (r == 2) return v128.load32_splat(pa, 8);
  return v128.load32_splat(pa, 12);
}

// @ts-ignore: decorator
@inline function tile(ROWS: i32, WIDE: bool, kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, flags: i32, bias: usize, act: i32): void {
  const z = f32x4.splat(0);
  let c0a = z, c0b = z, c1a = z, c1b = z, c2a = z, c2b = z, c3a = z, c3b = z;
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (flags & F_LOAD) {
    c0a = v128.load(c); if (WIDE) c0b = v128.load(c, 16);
    if (ROWS > 1) { c1a = v128.load(c1); if (WIDE) c1b = v128.load(c1, 16); }
    if (ROWS > 2) { c2a = v128.load(c2); if (WIDE) c2b = v128.load(c2, 16); }
    if (ROWS > 3) { c3a = v128.load(c3); if (WIDE) c3b = v128.load(c3, 16); }
  }
  // One k step per trip: unrolling by two made V8 hoist both steps' loads and spill
  // accumulators (measured 25% slower), so the loop stays this plain.
  // The trip count is kept as an end pointer for A, which saves the counter's add.
  const paEnd = pa + (<usize>kc << 2) * MR;
  while (pa < paEnd) {
    const b0 = v128.load(pb), b1 = WIDE ? v128.load(pb, 16) : z;
    let x = rowA(pa, 0); c0a = fma(c0a, x, b0); if (WIDE) c0b = fma(c0b, x, b1);
    if (ROWS > 1) { x = rowA(pa, 1); c1a = fma(c1a, x, b0); if (WIDE) c1b = fma(c1b, x, b1); }
    if (ROWS > 2) { x = rowA(pa, 2); c2a = fma(c2a, x, b0); if (WIDE) c2b = fma(c2b, x, b1); }
    if (ROWS > 3) { x = rowA(pa, 3); c3a = fma(c3a, x, b0); if (WIDE) c3b = fma(c3b, x, b1); }
    pa += MR << 2;
    pb += bs;
  }
  const fin = (flags & F_FINAL) != 0, hasBias = fin && bias != 0;
  let ba = z, bb = z;
  if (hasBias) { ba = v128.load(bias); if (WIDE) bb = v128.load(bias, 16); }
  v128.store(c, finish(c0a, fin, hasBias, ba, act)); if (WIDE) v128.store(c, finish(c0b, fin, hasBias, bb, act), 16);
  if (ROWS > 1) { v128.store(c1, finish(c1a, fin, hasBias, ba, act)); if (WIDE) v128.store(c1, finish(c1b, fin, hasBias, bb, act), 16); }
  if (ROWS > 2) { v128.store(c2, finish(c2a, fin, hasBias, ba, act)); if (WIDE) v128.store(c2, finish(c2b, fin, hasBias, bb, act), 16); }
  if (ROWS > 3) { v128.store(c3, finish(c3a, fin, hasBias, ba, act)); if (WIDE) v128.store(c3, finish(c3b, fin, hasBias, bb, act), 16); }
}

// The instances, named dtype_op_ukernel_ROWSxCOLS (the ISA is the build: simd or relaxed-simd).
function f32_gemm_ukernel_1x8(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(1, true, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_2x8(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(2, true, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_3x8(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(3, true, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_4x8(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(4, true, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_1x4(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(1, false, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_2x4(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(2, false, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_3x4(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(3, false, kc, pa, pb, bs, c, ldc, f, bias, act); }
function f32_gemm_ukernel_4x4(kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, f: i32, bias: usize, act: i32): void { tile(4, false, kc, pa, pb, bs, c, ldc, f, bias, act); }

/** One tile of `rows` (1..MR) x 8 (wide) or x 4 columns of C; see the contract above. */
export function ukernel(rows: i32, wide: bool, kc: i32, pa: usize, pb: usize, bs: usize, c: usize, ldc: usize, flags: i32, bias: usize, act: i32): void {
  if (wide) {
    switch (rows) {
      case 4: f32_gemm_ukernel_4x8(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      case 3: f32_gemm_ukernel_3x8(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      case 2: f32_gemm_ukernel_2x8(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      default: f32_gemm_ukernel_1x8(kc, pa, pb, bs, c, ldc, flags, bias, act);
    }
  } else {
    switch (rows) {
      case 4: f32_gemm_ukernel_4x4(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      case 3: f32_gemm_ukernel_3x4(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      case 2: f32_gemm_ukernel_2x4(kc, pa, pb, bs, c, ldc, flags, bias, act); break;
      default: f32_gemm_ukernel_1x4(kc, pa, pb, bs, c, ldc, flags, bias, act);
    }
  }
}
