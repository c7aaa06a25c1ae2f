// Rung 1 of the WGSL matmul ladder: 16x16 output tile per workgroup, one output per
// invocation, A and B tiles staged through workgroup memory (two barriers per 16 of k).
// Contract and bindings: matmul_common.wgsl. Needs 256 invocations per workgroup; the
// default path (PROGRAMS.matmul) never picks it, so small adapters are not at risk.
{{COMMON}}

const TILE = 16u;
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let row = wid.y * TILE + lid.y;
  let col = wid.x * TILE + lid.x;
  let off = batchOffsets(wid.z);
  var acc = 0.0;
  let tiles = (P.k + TILE - 1u) / TILE;
  for (var t = 0u; t < tiles; t++) {
    As[lid.y][lid.x] = loadA(off.x, row, t * TILE + lid.x);
    Bs[lid.y][lid.x] = loadB(off.y, t * TILE + lid.y, col);
    workgroupBarrier();
    for (var p = 0u; p < TILE; p++) {
      acc += As[lid.y][p] * Bs[p][lid.x];
    }
    workgroupBarrier();
  }
  if (row < P.m && col < P.n) {
    stC(wid.z * P.m * P.n + row * P.n + col, act(acc + biasAt(col)));
  }
}
