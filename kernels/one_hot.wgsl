// Out [n, classes] of 4-byte items: P.oneBits (the bits of 1 or 1.0) at Idx[i] in row i, 0
// elsewhere. One invocation per output item. A class outside [0, classes) leaves its row all
// zeros and sets the flag buffer Err, which the backend reads on its next read() and throws
// IndexError (src/backend/gpu-index-errors.ts); the row's first item reports it.
struct Params {
  n: u32,
  classes: u32,
  oneBits: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> Idx: array<i32>;
@group(0) @binding(1) var<storage, read_write> Out: array<u32>;
@group(0) @binding(2) var<uniform> P: Params;
@group(0) @binding(3) var<storage, read_write> Err: array<atomic<u32>, 2>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.n * P.classes) {
    return;
  }
  let i = t / P.classes;
  let c = t % P.classes;
  let k = Idx[i];
  if ((k < 0 || u32(k) >= P.classes) && c == 0u) {
    atomicStore(&Err[0], 1u);
    atomicMin(&Err[1], i);
  }
  Out[t] = select(0u, P.oneBits, k >= 0 && u32(k) == c);
}
