// argmax / argmin along one axis: X (f32, read as its bits) viewed as [outer, reduce, inner],
// Out (i32) as [outer, inner]; reduce >= 1. The result is the FIRST index of the extreme, and a
// NaN counts as the extreme (the first NaN wins), as in the reference backend.
// Each value becomes an order key (u32): larger key = better candidate. Keys of numbers lie in
// [0x007fffff, 0xff800000], so NONE (all ones) is left for NaN, which beats every number, and
// 0 for "no candidate"; -0 keys as 0 so the two tie; argmin (P.sign < 0) flips the keys of
// numbers. A candidate is (key, index) and the better of two has the larger key, then the
// smaller index. All of it is integer arithmetic on the bits: WGSL lets a compiler assume
// floats are never NaN, so a float comparison could not be trusted to keep this rule.
// rows: inner == 1. One workgroup per output; 256 invocations stride over the row keeping
//       their best candidate, then groupArg (appended from src/backend/wgsl-group.ts: a
//       workgroup tree, or subgroupMax of the key then subgroupMin of the index among the
//       lanes holding it) picks the best of the workgroup.
// cols: inner > 1. One invocation per output walking down the reduced axis in order.
struct Params {
  outer: u32,
  reduce: u32,
  inner: u32,
  sign: f32,
}

@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<i32>;
@group(0) @binding(2) var<uniform> P: Params;

const NONE = 0xffffffffu;

fn orderKey(bits: u32) -> u32 {
  if ((bits & 0x7fffffffu) > 0x7f800000u) {
    return NONE;
  }
  let b = select(bits, 0u, bits == 0x80000000u);
  let k = select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
  return select(k, ~k, P.sign < 0.0);
}

@compute @workgroup_size(256)
fn rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= P.outer) {
    return; // the whole workgroup: the fold below stays in uniform control flow
  }
  // Indices rise along the loop, so only a strictly larger key replaces the best.
  var best = vec2<u32>(0u, NONE);
  for (var r = lid.x; r < P.reduce; r += 256u) {
    let k = orderKey(X[o * P.reduce + r]);
    if (k > best.x) {
      best = vec2<u32>(k, r);
    }
  }
  let win = groupArg(lid.x, best);
  if (lid.x == 0u) {
    Out[o] = i32(win.y);
  }
}

@compute @workgroup_size(256)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.outer * P.inner) {
    return;
  }
  let o = t / P.inner;
  let i = t % P.inner;
  var best = vec2<u32>(0u, NONE);
  for (var r = 0u; r < P.reduce; r++) {
    let k = orderKey(X[(o * P.reduce + r) * P.inner + i]);
    if (k > best.x) {
      best = vec2<u32>(k, r);
    }
  }
  Out[t] = i32(best.y);
}
