// Rung 2 of the WGSL matmul ladder, the default for products with m, n > 1: register-blocked.
// A workgroup of WX x WY invocations owns a (RM*WY) x (RN*WX) output tile; each invocation
// keeps RM x RN outputs of it in registers (RM*RN/4 vec4 accumulators), as 4x4 blocks WY rows
// and WX columns of blocks apart, so at every step neighbouring invocations read neighbouring
// vec4s of workgroup memory (no bank conflicts) and write neighbouring vec4s of C. Per TK-deep slice of
// k, the workgroup stages A' as vec4s of 4 rows and B' as vec4s of 4 columns in workgroup
// memory; then each of the TK steps costs an invocation RM/4 + RN/4 vec4 shared loads for
// RM*RN multiply-adds (8x8: 64 per 4 loads; the tiled rung does 1 per 2 scalar loads), and
// there are two barriers per TK of k for the whole tile. Contract and bindings:
// matmul_common.wgsl. Spliced: {{WX}}, {{WY}}, {{RM}}, {{RN}} (multiples of 4), {{TK}}, chosen
// from the adapter's limits in src/backend/wgsl-matmul.ts.
// Quirk: global loads are scalar (4 per vec4 slot) because a row of A' or B' starts at an
// arbitrary element when k or n is not a multiple of 4 or a batch offset is odd; the slot
// each invocation fills is picked so that neighbouring invocations read neighbouring addresses
// of the operand's stored layout (coalesced), whichever operand is transposed.
{{COMMON}}

const WX = {{WX}}u;
const WY = {{WY}}u;
const RM = {{RM}}u;
const RN = {{RN}}u;
const TK = {{TK}}u;
const QA = WY * RM / 4u; // vec4 slots of A' per k step (4 rows each)
const QB = WX * RN / 4u; // vec4 slots of B' per k step (4 columns each)
const NT = WX * WY;

// As[kk * QA + q] = A'[row0 + 4q .. 4q + 3, k0 + kk]; Bs[kk * QB + q] = B'[k0 + kk, col0 + 4q .. 4q + 3].
var<workgroup> As: array<vec4<f32>, TK * QA>;
var<workgroup> Bs: array<vec4<f32>, TK * QB>;

@compute @workgroup_size(WX, WY)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wid: vec3<u32>) {
  let row0 = wid.y * WY * RM;
  let col0 = wid.x * WX * RN;
  let off = batchOffsets(wid.z);
  let transA = (P.flags & 1u) != 0u;
  let transB = (P.flags & 2u) != 0u;
  // Accumulators c<r>_<q>, r < RM, q < RN / 4 (generated; see the note at the end).
{{ACC_DECL}}
  for (var k0 = 0u; k0 < P.k; k0 += TK) {
    // Stored A [m, k] is contiguous along k: neighbours take neighbouring kk. Stored [k, m]
    // (transposed) is contiguous along m: neighbours take neighbouring row groups.
    for (var s = li; s < TK * QA; s += NT) {
      let kk = select(s % TK, s / QA, transA);
      let q = select(s / TK, s % QA, transA);
      let i = row0 + 4u * q;
      let p = k0 + kk;
      As[kk * QA + q] = vec4<f32>(loadA(off.x, i, p), loadA(off.x, i + 1u, p), loadA(off.x, i + 2u, p), loadA(off.x, i + 3u, p));
    }
    // Stored B [k, n] is contiguous along n; stored [n, k] (transposed) along k.
    for (var s = li; s < TK * QB; s += NT) {
      let kk = select(s / QB, s % TK, transB);
      let q = select(s % QB, s / TK, transB);
      let j = col0 + 4u * q;
      let p = k0 + kk;
      Bs[kk * QB + q] = vec4<f32>(loadB(off.y, p, j), loadB(off.y, p, j + 1u), loadB(off.y, p, j + 2u), loadB(off.y, p, j + 3u));
    }
    workgroupBarrier();
    // The last slice skips its zero padding.
    let steps = min(TK, P.k - k0);
    for (var kk = 0u; kk < steps; kk++) {
{{STEP}}
    }
    workgroupBarrier();
  }
  // Accumulator c<r>_<q> holds C[i, j .. j + 3] for i = row0 + 4 (r / 4 * WY + lid.y) + r % 4,
  // j = col0 + 4 (q * WX + lid.x): the vec4 groups an invocation owns are WY (WX) groups apart.
  let base = wid.z * P.m * P.n;
{{STORE}}
}

// Quirk: the accumulators and the step's operands are generated as named vec4 variables, not
// arrays indexed in loops: a compiler that does not unroll (SwiftShader's, ~5x
// slower) keeps a function-scope array in memory, where the per-invocation gathers cost more
// than the arithmetic.
// Four columns in range starting at an even element go out as two stC2 (whole words of f16);
// otherwise (odd n puts odd rows at odd elements; the last tile's tail) one element at a time.
fn store4(row: u32, j: u32, v: vec4<f32>) {
  if (j + 3u < P.n && ((row + j) & 1u) == 0u) {
    stC2(row + j, vec2<f32>(act(v.x + biasAt(j)), act(v.y + biasAt(j + 1u))));
    stC2(row + j + 2u, vec2<f32>(act(v.z + biasAt(j + 2u)), act(v.w + biasAt(j + 3u))));
    return;
  }
  if (j < P.n) { stC(row + j, act(v.x + biasAt(j))); }
  if (j + 1u < P.n) { stC(row + j + 1u, act(v.y + biasAt(j + 1u))); }
  if (j + 2u < P.n) { stC(row + j + 2u, act(v.z + biasAt(j + 2u))); }
  if (j + 3u < P.n) { stC(row + j + 3u, act(v.w + biasAt(j + 3u))); }
}
