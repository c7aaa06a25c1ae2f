// dtype conversions (the pairs of CAST_PAIRS in src/ops/ops.ts, and a dtype to itself), done on
// the bits with integer arithmetic so every result matches the reference exactly, NaN,
// infinities, subnormals and ties included (WGSL lets float code assume no NaN or infinity,
// and leaves the rounding of some conversions to the implementation). Buffers are array<u32>:
// WGSL has no 8- or 16-bit storage, so u8/bool bytes and f16 halves are unpacked from words.
//   copy      any dtype to itself: one invocation per word (the last word's padding included)
//   f32_i32   toward zero, saturated, NaN -> 0 (Wasm's trunc_sat)
//   i32_f32   round to nearest even
//   u8_f32    u8 or bool bytes to f32 (bool bytes are 0 or 1)
//   f32_f16   round to nearest even (src/f16.ts): one invocation per output word of 2 halves
//   f16_f32   exact
struct Params {
  size: u32, // elements (copy: words)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> In: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;

fn index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
  return gid.x + gid.y * nwg.x * 256u;
}

@compute @workgroup_size(256)
fn copy(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < P.size) {
    Out[i] = In[i];
  }
}

@compute @workgroup_size(256)
fn f32_i32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.size) {
    return;
  }
  let b = In[i];
  let ex = (b >> 23u) & 0xffu;
  var r = 0;
  if (ex == 0xffu && (b & 0x7fffffu) != 0u) {
    r = 0; // NaN
  } else if (ex >= 158u) { // |x| >= 2^31, infinities included
    r = select(2147483647, -2147483647 - 1, (b >> 31u) != 0u);
  } else {
    r = i32(bitcast<f32>(b)); // exact truncation: |x| < 2^31
  }
  Out[i] = bitcast<u32>(r);
}

@compute @workgroup_size(256)
fn i32_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.size) {
    return;
  }
  let v = bitcast<i32>(In[i]);
  let sign = select(0u, 0x80000000u, v < 0);
  // |v| as u32 (|-2^31| = 2^31 fits), then round its top 24 significant bits to nearest even.
  let a = select(u32(v), u32(-(v + 1)) + 1u, v < 0);
  if (a == 0u) {
    Out[i] = 0u;
    return;
  }
  let top = 31u - countLeadingZeros(a); // position of the leading 1
  var bits = 0u;
  if (top <= 23u) {
    bits = ((top + 127u) << 23u) | ((a << (23u - top)) & 0x7fffffu);
  } else {
    let shift = top - 23u;
    var m = a >> shift; // 24 bits, leading 1 included
    let rest = a & ((1u << shift) - 1u);
    let half = 1u << (shift - 1u);
    if (rest > half || (rest == half && (m & 1u) == 1u)) {
      m += 1u; // may carry to 2^24: the exponent field absorbs it below
    }
    bits = ((top + 127u) << 23u) + (m - 0x800000u);
  }
  Out[i] = sign | bits;
}

@compute @workgroup_size(256)
fn u8_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i < P.size) {
    let byte = (In[i / 4u] >> (8u * (i % 4u))) & 0xffu;
    Out[i] = bitcast<u32>(f32(byte)); // exact: byte < 2^24
  }
}

// toHalf, halfToF32Bits: kernels/half.wgsl, spliced in.
{{HALF}}

@compute @workgroup_size(256)
fn f32_f16(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = index(gid, nwg);
  if (w * 2u >= P.size) {
    return;
  }
  var word = toHalf(In[w * 2u]);
  if (w * 2u + 1u < P.size) {
    word |= toHalf(In[w * 2u + 1u]) << 16u;
  }
  Out[w] = word;
}

@compute @workgroup_size(256)
fn f16_f32(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = index(gid, nwg);
  if (i >= P.size) {
    return;
  }
  let h = (In[i / 2u] >> (16u * (i % 2u))) & 0xffffu;
  Out[i] = halfToF32Bits(h);
}
