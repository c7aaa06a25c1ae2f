// Rung 1 of the matmul ladder: 16x16 output tile per workgroup, one output per invocation,
// A and B tiles staged through workgroup memory. Row-major C[m, n] = A[m, k] @ B[k, n];
// out-of-range loads read as 0 so every shape (tails, k = 0) is handled.
// The register-blocked rung comes with the WGSL kernel issue.

struct Params {
  m: u32,
  k: u32,
  n: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<uniform> P: Params;

const TILE = 16u;
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  var acc = 0.0;
  let tiles = (P.k + TILE - 1u) / TILE;
  for (var t = 0u; t < tiles; t++) {
    let ka = t * TILE + lid.x;
    var a = 0.0;
    if (row < P.m && ka < P.k) {
      a = A[row * P.k + ka];
    }
    As[lid.y][lid.x] = a;
    let kb = t * TILE + lid.y;
    var b = 0.0;
    if (kb < P.k && col < P.n) {
      b = B[kb * P.n + col];
    }
    Bs[lid.y][lid.x] = b;
    workgroupBarrier();
    for (var p = 0u; p < TILE; p++) {
      acc += As[lid.y][p] * Bs[p][lid.x];
    }
    workgroupBarrier();
  }
  if (row < P.m && col < P.n) {
    C[row * P.n + col] = acc;
  }
}
