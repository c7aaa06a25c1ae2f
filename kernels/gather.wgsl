// Gather along an axis: Out[o, j, :] = Table[o, Idx[j], :], the table viewed as
// [outer, axisLen, inner] items, Idx i32 [count]. Items and rows move as raw bits.
// words: 4-byte items, one invocation per output item.
// bytes: 1- and 2-byte items (bool/u8, f16). WGSL has no 8- or 16-bit storage, so Table and Out
//        are array<u32> and each invocation builds one output word from 4 bytes, each fetched
//        from its own source word. P.itemBytes is 1 or 2, slab = inner * itemBytes bytes.
// A bad index (outside [0, axisLen)) writes zeros and sets the flag buffer Err, which the
// backend reads on its next read() and throws IndexError (src/backend/gpu-index-errors.ts).
struct Params {
  outer: u32,
  axisLen: u32,
  inner: u32,
  count: u32,
  itemBytes: u32,
  total: u32, // output items (words), or output bytes (bytes)
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> Table: array<u32>;
@group(0) @binding(1) var<storage, read> Idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> Out: array<u32>;
@group(0) @binding(3) var<uniform> P: Params;
@group(0) @binding(4) var<storage, read_write> Err: array<atomic<u32>, 2>;

// The table row of output row (o, j) as an index in items/bytes units of `unit`, or -1 when
// Idx[j] is out of range (then flagged).
fn source(o: u32, j: u32, unit: u32) -> i32 {
  let k = Idx[j];
  if (k < 0 || u32(k) >= P.axisLen) {
    atomicStore(&Err[0], 1u);
    atomicMin(&Err[1], j);
    return -1;
  }
  return i32((o * P.axisLen + u32(k)) * unit);
}

@compute @workgroup_size(256)
fn words(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.total) {
    return;
  }
  let c = t % P.inner;
  let row = t / P.inner; // o * count + j
  let s = source(row / P.count, row % P.count, P.inner);
  var v = 0u;
  if (s >= 0) {
    v = Table[u32(s) + c];
  }
  Out[t] = v;
}

@compute @workgroup_size(256)
fn bytes(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let w = gid.x + gid.y * nwg.x * 256u;
  if (w * 4u >= P.total) {
    return;
  }
  let slab = P.inner * P.itemBytes;
  var word = 0u;
  for (var k = 0u; k < 4u; k++) {
    let b = w * 4u + k;
    if (b >= P.total) {
      break;
    }
    let row = b / slab;
    let s = source(row / P.count, row % P.count, slab);
    if (s >= 0) {
      let src = u32(s) + b % slab;
      word |= ((Table[src / 4u] >> (8u * (src % 4u))) & 0xffu) << (8u * k);
    }
  }
  Out[w] = word;
}
