// Shared prelude of the matmul ladder (matmul_naive, matmul_tiled, matmul_rb, matmul_gemv),
// spliced in at {{COMMON}}. Every rung computes, for batch t = workgroup_id.z,
//   C[t][i, j] = act(sum_p A'[t][i, p] * B'[t][p, j] + bias[j])
// with A' = A [m, k] or, when flags bit 0 is set, the transpose of a stored [k, m]; B' likewise
// (bit 1; [k, n] or stored [n, k]). Batch offsets come from the collapsed batch shape and
// per-operand strides (0 = broadcast) in the uniform, so one pipeline serves every shape.
// Spliced per pipeline: the IO block (A, B, Bias when there is one, and C over f32 or f16 storage,
// read with ldA / ldB / ldBias and written with stC / stC2: src/backend/wgsl-half.ts; f16
// products accumulate in f32), {{BIAS}} (an f32 expression of column j), {{PARAMS}} (the
// uniform's binding: the backend binds inputs, then the output, then the uniform), {{ACT}}
// (an f32 expression in `a`, src/ops/activation.ts).

struct Params {
  m: u32,
  k: u32,
  n: u32,
  flags: u32,
  batchRank: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  bshape: array<vec4<u32>, 2>,
  aStride: array<vec4<u32>, 2>,
  bStride: array<vec4<u32>, 2>,
}

{{IO}}
@group(0) @binding({{PARAMS}}) var<uniform> P: Params;

fn act(a: f32) -> f32 {
  return {{ACT}};
}

fn biasAt(j: u32) -> f32 {
  return {{BIAS}};
}

// Element offsets of batch t in A (x) and B (y): t decomposed over the collapsed batch shape.
fn batchOffsets(t: u32) -> vec2<u32> {
  var rem = t;
  var off = vec2<u32>(0u, 0u);
  for (var d = P.batchRank; d > 0u; d--) {
    let q = (d - 1u) / 4u;
    let r = (d - 1u) % 4u;
    let ext = P.bshape[q][r];
    let idx = rem % ext;
    rem = rem / ext;
    off += idx * vec2<u32>(P.aStride[q][r], P.bStride[q][r]);
  }
  return off;
}

// A'[i, p] and B'[p, j] of one batch; out of range reads as 0, so tails and k = 0 need no
// special case in the rungs that stage tiles.
fn loadA(off: u32, i: u32, p: u32) -> f32 {
  if (i >= P.m || p >= P.k) { return 0.0; }
  return ldA(off + select(i * P.k + p, p * P.m + i, (P.flags & 1u) != 0u));
}

fn loadB(off: u32, p: u32, j: u32) -> f32 {
  if (p >= P.k || j >= P.n) { return 0.0; }
  return ldB(off + select(p * P.n + j, j * P.k + p, (P.flags & 2u) != 0u));
}
