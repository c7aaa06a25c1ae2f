// IEEE half <-> single on the bits, for cast.wgsl (both ways) and the f16 kernels' writes
// (src/backend/wgsl-half.ts). Integer arithmetic, not pack2x16float / unpack2x16float: WGSL
// leaves those indeterminate outside the f16 range (overflow must give infinity) and lets the
// implementation pick the rounding direction, while every backend must round to nearest even
// exactly as src/f16.ts does, NaN, infinities and subnormals included.

// f32 bits -> f16 bits (low 16), round to nearest even.
fn toHalf(bits: u32) -> u32 {
  let sign = (bits >> 16u) & 0x8000u;
  let ex = (bits >> 23u) & 0xffu;
  var mant = bits & 0x7fffffu;
  if (ex == 0xffu) {
    return sign | 0x7c00u | select(0u, 0x200u | (mant >> 13u), mant != 0u); // Inf / NaN
  }
  let e = i32(ex) - 127 + 15;
  if (e >= 31) {
    return sign | 0x7c00u; // overflow
  }
  if (e <= 0) {
    if (e < -10) {
      return sign; // underflows to zero
    }
    mant |= 0x800000u;
    let shift = u32(14 - e);
    let half = 1u << (shift - 1u);
    let rest = mant & ((1u << shift) - 1u);
    var m = mant >> shift;
    if (rest > half || (rest == half && (m & 1u) == 1u)) {
      m += 1u;
    }
    return sign | m;
  }
  var h = sign | (u32(e) << 10u) | (mant >> 13u);
  let rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u) == 1u)) {
    h += 1u; // may carry into the exponent: correct
  }
  return h;
}

// f16 bits (low 16) -> f32 bits, exact; NaN stays a quiet NaN.
fn halfToF32Bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let ex = (h >> 10u) & 0x1fu;
  let mant = h & 0x3ffu;
  var bits = 0u;
  if (ex == 0x1fu) {
    bits = 0x7f800000u | select(0u, 0x400000u | (mant << 13u), mant != 0u); // Inf / quiet NaN
  } else if (ex != 0u) {
    bits = ((ex + 112u) << 23u) | (mant << 13u);
  } else if (mant != 0u) { // subnormal half: a normal f32, mant * 2^-24
    let top = 31u - countLeadingZeros(mant);
    bits = ((top + 103u) << 23u) | ((mant << (23u - top)) & 0x7fffffu);
  }
  return sign | bits;
}
