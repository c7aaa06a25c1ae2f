// Rung 1 of the WGSL matmul ladder: 16x16 output tile per workgroup, one output per
// invocation, A and B tiles staged through workgroup memory. Computes, for batch wid.z,
//   C[t][i, j] = act(sum_p A'[t][i, p] * B'[t][p, j] + bias[j])
// with A' = A [m, k] or, when flags bit 0 is set, the transpose of a stored [k, m]; B' likewise
// (bit 1; [k, n] or stored [n, k]). Batch offsets come from the collapsed batch shape and
// per-operand strides (0 = broadcast) in the uniform, so one pipeline serves every shape.
// Spliced per pipeline: {{BIAS_DECL}} (the bias binding, or nothing), {{BIAS}} (an f32
// expression of column j), {{OUT}} / {{PARAMS}} (binding numbers), {{ACT}} (an f32
// expression in `a`, from src/ops/activation.ts). Out-of-range loads read as 0, so tails
// and k = 0 need no special case. The register-blocked rung comes with the WGSL kernel issue.

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

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
{{BIAS_DECL}}
@group(0) @binding({{OUT}}) var<storage, read_write> C: array<f32>;
@group(0) @binding({{PARAMS}}) var<uniform> P: Params;

const TILE = 16u;
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;

fn act(a: f32) -> f32 {
  return {{ACT}};
}

fn biasAt(j: u32) -> f32 {
  return {{BIAS}};
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  let transA = (P.flags & 1u) != 0u;
  let transB = (P.flags & 2u) != 0u;
  // Batch offsets of A and B: wid.z decomposed over the collapsed batch shape.
  var rem = wid.z;
  var offA = 0u;
  var offB = 0u;
  for (var d = P.batchRank; d > 0u; d--) {
    let q = (d - 1u) / 4u;
    let r = (d - 1u) % 4u;
    let ext = P.bshape[q][r];
    let idx = rem % ext;
    rem = rem / ext;
    offA += idx * P.aStride[q][r];
    offB += idx * P.bStride[q][r];
  }
  var acc = 0.0;
  let tiles = (P.k + TILE - 1u) / TILE;
  for (var t = 0u; t < tiles; t++) {
    let ka = t * TILE + lid.x;
    var a = 0.0;
    if (row < P.m && ka < P.k) {
      a = A[offA + select(row * P.k + ka, ka * P.m + row, transA)];
    }
    As[lid.y][lid.x] = a;
    let kb = t * TILE + lid.y;
    var b = 0.0;
    if (kb < P.k && col < P.n) {
      b = B[offB + select(kb * P.n + col, col * P.k + kb, transB)];
    }
    Bs[lid.y][lid.x] = b;
    workgroupBarrier();
    for (var p = 0u; p < TILE; p++) {
      acc += As[lid.y][p] * Bs[p][lid.x];
    }
    workgroupBarrier();
  }
  if (row < P.m && col < P.n) {
    C[wid.z * P.m * P.n + row * P.n + col] = act(acc + biasAt(col));
  }
}
