// Rung 2 of the WGSL matmul ladder, the default for products with m, n > 1: register-blocked.
// A workgroup of WX x WY invocations owns a (4*WY) x (4*WX) output tile; each invocation keeps
// a 4x4 block of it in registers (four vec4 accumulators). Per TK-deep slice of k, the
// workgroup stages A' as vec4s of 4 rows and B' as vec4s of 4 columns in workgroup memory,
// then every invocation does TK steps of 2 vec4 shared loads + 4 vec4 FMAs: 16 multiply-adds
// per 2 shared loads (the tiled rung does 1 per 2) and two barriers per TK of k for 16x the
// outputs. Contract and bindings: matmul_common.wgsl.
// Spliced: {{WX}}, {{WY}}, {{TK}}, chosen from the adapter's limits in src/backend/wgsl-matmul.ts.
// Quirk: global loads are scalar (4 per vec4 slot) because a row of A' or B' starts at an
// arbitrary element when k or n is not a multiple of 4 or a batch offset is odd; the slot
// each invocation fills is picked so that neighbouring invocations read neighbouring addresses
// of the operand's stored layout (coalesced), whichever operand is transposed.
{{COMMON}}

const WX = {{WX}}u;
const WY = {{WY}}u;
const TK = {{TK}}u;
const TM = 4u * WY;
const TN = 4u * WX;
const NT = WX * WY;

// As[kk * WY + r] = A'[row0 + 4r .. 4r + 3, k0 + kk]; Bs[kk * WX + c] = B'[k0 + kk, col0 + 4c .. 4c + 3].
var<workgroup> As: array<vec4<f32>, TK * WY>;
var<workgroup> Bs: array<vec4<f32>, TK * WX>;

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * TM;
  let col0 = wid.x * TN;
  let off = batchOffsets(wid.z);
  let transA = (P.flags & 1u) != 0u;
  let transB = (P.flags & 2u) != 0u;
  var acc0 = vec4<f32>(0.0);
  var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0);
  var acc3 = vec4<f32>(0.0);
  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    // Stored A [m, k] is contiguous along k: neighbours take neighbouring kk. Stored [k, m]
    // (transposed) is contiguous along m: neighbours take neighbouring row groups.
    for (var s = li; s < TK * WY; s += NT) {
      let kk = select(s % TK, s / WY, transA);
      let r = select(s / TK, s % WY, transA);
      let i = row0 + 4u * r;
      let p = k0 + kk;
      As[kk * WY + r] = vec4<f32>(loadA(off.x, i, p), loadA(off.x, i + 1u, p), loadA(off.x, i + 2u, p), loadA(off.x, i + 3u, p));
    }
    // Stored B [k, n] is contiguous along n; stored [n, k] (transposed) along k.
    for (var s = li; s < TK * WX; s += NT) {
      let kk = select(s / WX, s % TK, transB);
      let c = select(s % WX, s / TK, transB);
      let j = col0 + 4u * c;
      let p = k0 + kk;
      Bs[kk * WX + c] = vec4<f32>(loadB(off.y, p, j), loadB(off.y, p, j + 1u), loadB(off.y, p, j + 2u), loadB(off.y, p, j + 3u));
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      let a = As[kk * WY + lid.y];
      let b = Bs[kk * WX + lid.x];
      acc0 = fma(vec4<f32>(a.x), b, acc0);
      acc1 = fma(vec4<f32>(a.y), b, acc1);
      acc2 = fma(vec4<f32>(a.z), b, acc2);
      acc3 = fma(vec4<f32>(a.w), b, acc3);
    }
    workgroupBarrier();
  }
  let base = wid.z * P.m * P.n;
  let i0 = row0 + 4u * lid.y;
  let j0 = col0 + 4u * lid.x;
  var rows = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var r = 0u; r < 4u; r++) {
    let i = i0 + r;
    if (i >= P.m) { break; }
    for (var c = 0u; c < 4u; c++) {
      let j = j0 + c;
      if (j < P.n) { C[base + i * P.n + j] = act(rows[r][c] + biasAt(j)); }
    }
  }
}
