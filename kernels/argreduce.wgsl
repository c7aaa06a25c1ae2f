// argmax / argmin along one axis: X (f32) viewed as [outer, reduce, inner], Out (i32) as
// [outer, inner]; reduce >= 1. The result is the FIRST index of the extreme, and a NaN counts
// as the extreme (the first NaN wins), as in the reference backend. argmin is argmax of
// P.sign * x with sign = -1 (negation keeps ties and NaN), so both ops share one pipeline.
// Quirk: WGSL lets a compiler assume no NaN, so NaN is tested on the bits, never with x != x.
// rows: inner == 1. One workgroup per output; 256 invocations stride over the row keeping
//       (value, index) pairs, then a tree in workgroup memory that breaks ties on the index.
// cols: inner > 1. One invocation per output walking down the reduced axis in order.
struct Params {
  outer: u32,
  reduce: u32,
  inner: u32,
  sign: f32,
}

@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Out: array<i32>;
@group(0) @binding(2) var<uniform> P: Params;

const NONE = 0xffffffffu;
var<workgroup> vals: array<f32, 256>;
var<workgroup> idxs: array<u32, 256>;

fn isNan(x: f32) -> bool {
  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}

// Does (av, ai) beat (bv, bi)? NaN beats any number, then larger value, then smaller index.
fn beats(av: f32, ai: u32, bv: f32, bi: u32) -> bool {
  if (ai == NONE) { return false; }
  if (bi == NONE) { return true; }
  let an = isNan(av);
  let bn = isNan(bv);
  if (an || bn) {
    return an && (!bn || ai < bi);
  }
  return av > bv || (av == bv && ai < bi);
}

@compute @workgroup_size(256)
fn rows(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>) {
  let o = wid.x + wid.y * nwg.x;
  if (o >= P.outer) {
    return;
  }
  var bv = 0.0;
  var bi = NONE;
  for (var r = lid.x; r < P.reduce; r += 256u) {
    let v = P.sign * X[o * P.reduce + r];
    if (beats(v, r, bv, bi)) {
      bv = v;
      bi = r;
    }
  }
  vals[lid.x] = bv;
  idxs[lid.x] = bi;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w = w >> 1u) {
    if (lid.x < w && beats(vals[lid.x + w], idxs[lid.x + w], vals[lid.x], idxs[lid.x])) {
      vals[lid.x] = vals[lid.x + w];
      idxs[lid.x] = idxs[lid.x + w];
    }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    Out[o] = i32(idxs[0]);
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
  var bv = 0.0;
  var bi = NONE;
  for (var r = 0u; r < P.reduce; r++) {
    let v = P.sign * X[(o * P.reduce + r) * P.inner + i];
    if (beats(v, r, bv, bi)) {
      bv = v;
      bi = r;
    }
  }
  Out[t] = i32(bi);
}
