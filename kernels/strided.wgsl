// Index arithmetic shared by the kernels over strided operands (binary, compare, where, copy,
// copy_bytes); their programs append this file to their code. The including kernel's uniform P
// has `rank: u32`, `shape: array<vec4<u32>, 2>` and `stride: array<array<vec4<u32>, 2>, N>`
// (rank <= 8, two vec4 per table, the layout of ops/broadcast.ts's words), and the kernel
// declares `const OPERANDS = N;` (1 to 3).

// Offsets of flat output index i (row-major over shape) in each operand: i's coordinates
// dotted with that operand's strides. Components past OPERANDS repeat the last operand's
// offset (min() keeps every constant index inside the stride table).
fn stridedOffsets(i: u32) -> vec3<u32> {
  var rem = i;
  var o = vec3<u32>(0u);
  for (var d = P.rank; d > 0u; d--) {
    let q = (d - 1u) / 4u;
    let r = (d - 1u) % 4u;
    let ext = P.shape[q][r];
    let c = rem % ext;
    rem = rem / ext;
    o += c * vec3<u32>(P.stride[0][q][r], P.stride[min(1u, OPERANDS - 1u)][q][r], P.stride[min(2u, OPERANDS - 1u)][q][r]);
  }
  return o;
}
