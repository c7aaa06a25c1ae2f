/**
 * How a WGSL program stores its float operands, and the declarations that hide it. Kernels
 * that support f16 never index their float bindings directly: they call `ld<Name>(i) -> f32`
 * and `st<Name>(i, v)` / `st<Name>2(i, vec2)` (elements i and i + 1, i even), spliced in at
 * {{IO}} by `floatIO`, and compute in f32 whatever the storage:
 *   f32         array<f32>.
 *   f16-packed  every adapter: halves packed two to a u32 (element i in bits 16 (i & 1) of word
 *               i >> 1). Reads use unpack2x16float (exact for every finite half, subnormals
 *               included; WGSL float code may assume no NaN or infinity anyway, and decoding
 *               on the bits made the rb matmul 2x slower on SwiftShader). Writes round to
 *               nearest even on the bits (kernels/half.wgsl): pack2x16float leaves overflow
 *               indeterminate and the rounding direction to the implementation. The output is array<atomic<u32>>: a single half is
 *               written by clearing and setting its 16 bits with atomicAnd / atomicOr, so two
 *               invocations (or workgroups) that own the two halves of a word never clobber
 *               each other, whatever the parity of offsets, row lengths or tails; st<Name>2
 *               writes a whole word with one atomicStore.
 *   f16-native  adapters with `shader-f16` outside Deno (whose WGSL front end rejects
 *               `enable f16`): array<f16>, f16 <-> f32 at load and store, so arithmetic and
 *               accumulation stay f32 and results match the packed path bit for bit.
 * The storage is part of every program key that uses it.
 */
import { WGSL } from '../gen/wgsl.js';
import type { FloatDType } from './backend.js';

export type FloatStorage = 'f32' | 'f16-packed' | 'f16-native';

/**
 * Whether a device may run native-f16 programs: it was created with `shader-f16`, and the
 * runtime is not Deno, whose WGSL front end rejects `enable f16` even then.
 */
export function nativeF16(features: { has(name: string): boolean }, deno = 'Deno' in globalThis): boolean {
  return features.has('shader-f16') && !deno;
}

/** The storage for a kernel's dtype on a device that can (`native`) or cannot use shader-f16. */
export function floatStorage(dtype: FloatDType | undefined, native: boolean | undefined): FloatStorage {
  if (dtype !== 'f16') return 'f32';
  return native ? 'f16-native' : 'f16-packed';
}

/** Declarations and accessors of float inputs [name, binding] and one float output. */
export function floatIO(s: FloatStorage, inputs: [string, number | string][], output: [string, number | string]): string {
  const at = (b: number | string) => `@group(0) @binding(${b})`;
  const lines: string[] = [];
  for (const [x, b] of inputs) {
    if (s === 'f32') lines.push(`${at(b)} var<storage, read> ${x}: array<f32>;`, `fn ld${x}(i: u32) -> f32 { return ${x}[i]; }`);
    else if (s === 'f16-native') lines.push(`${at(b)} var<storage, read> ${x}: array<f16>;`, `fn ld${x}(i: u32) -> f32 { return f32(${x}[i]); }`);
    else lines.push(`${at(b)} var<storage, read> ${x}: array<u32>;`, `fn ld${x}(i: u32) -> f32 { return unpack2x16float(${x}[i >> 1u])[i & 1u]; }`);
  }
  const [o, b] = output;
  if (s === 'f32') {
    lines.push(`${at(b)} var<storage, read_write> ${o}: array<f32>;`,
      `fn st${o}(i: u32, v: f32) { ${o}[i] = v; }`,
      `fn st${o}2(i: u32, v: vec2<f32>) { ${o}[i] = v.x; ${o}[i + 1u] = v.y; }`);
  } else if (s === 'f16-native') {
    // Rounded on the bits (toHalf), as the packed path: f16(v) leaves overflow indeterminate.
    lines.push(`${at(b)} var<storage, read_write> ${o}: array<f16>;`,
      `fn st${o}(i: u32, v: f32) { ${o}[i] = bitcast<vec2<f16>>(toHalf(bitcast<u32>(v))).x; }`,
      `fn st${o}2(i: u32, v: vec2<f32>) { st${o}(i, v.x); st${o}(i + 1u, v.y); }`);
  } else {
    lines.push(`${at(b)} var<storage, read_write> ${o}: array<atomic<u32>>;`,
      `fn st${o}(i: u32, v: f32) {`,
      `  let sh = (i & 1u) * 16u;`,
      `  atomicAnd(&${o}[i >> 1u], ~(0xffffu << sh));`,
      `  atomicOr(&${o}[i >> 1u], toHalf(bitcast<u32>(v)) << sh);`,
      `}`,
      `fn st${o}2(i: u32, v: vec2<f32>) { atomicStore(&${o}[i >> 1u], toHalf(bitcast<u32>(v.x)) | (toHalf(bitcast<u32>(v.y)) << 16u)); }`);
  }
  return lines.join('\n');
}

/** The finished module: `enable f16;` first for native storage, the bit conversions for f16. */
export function withHalf(s: FloatStorage, code: string): string {
  if (s === 'f32') return code;
  return `${s === 'f16-native' ? 'enable f16;\n' : ''}${code}\n\n${WGSL.half}`;
}
