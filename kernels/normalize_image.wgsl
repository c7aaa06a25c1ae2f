// u8 image [height, width, channels] -> f32 [channels, height, width]:
//   out[c, p] = x[p, c] * scale[c] + bias[c],  scale = 1 / (255 std[c]), bias = -mean[c] / std[c]
// (f32 scale and bias from the host, as the cpu kernel uses). 1 <= channels <= 4. One
// invocation per output element; the u8 input is bound as array<u32> (no 8-bit storage in
// WGSL) and each byte is extracted from its word.
struct Params {
  pixels: u32,
  channels: u32,
  _pad0: u32,
  _pad1: u32,
  scale: vec4<f32>,
  bias: vec4<f32>,
}

@group(0) @binding(0) var<storage, read> X: array<u32>;
@group(0) @binding(1) var<storage, read_write> Out: array<f32>;
@group(0) @binding(2) var<uniform> P: Params;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 256u;
  if (t >= P.pixels * P.channels) {
    return;
  }
  let c = t / P.pixels;
  let p = t % P.pixels;
  let at = p * P.channels + c;
  let v = f32((X[at / 4u] >> (8u * (at % 4u))) & 0xffu);
  Out[t] = v * P.scale[c] + P.bias[c];
}
