/**
 * The WGSL matmul ladder as programs (see kernels/matmul_*.wgsl): naive (one output per
 * invocation, no shared memory), tiled (16x16 shared tiles), rb (register-blocked 4x4 per
 * invocation, the default) and gemv (m = 1 or n = 1). PROGRAMS.matmul calls `matmulProgram`
 * with the rung `chooseMatmul` picks; the ladder benchmark and tests ask for a rung by name.
 * Every rung shares one uniform layout and one prelude (matmul_common.wgsl), so a rung is
 * only its tiling; the key names the rung, its tile, bias and activation, never a shape.
 */
import { DeviceError } from '../errors.js';
import { WGSL } from '../gen/wgsl.js';
import { ACTIVATIONS } from '../ops/activation.js';
import type { KernelParams } from './backend.js';
import type { GridLimits, Program } from './wgsl-programs.js';

export type MatmulVariant = 'naive' | 'tiled' | 'rb' | 'gemv';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'tiled', 'rb', 'gemv'];

/** Limits a matmul tile must respect; the defaults are WebGPU's core-profile minimums. */
export interface TileLimits { maxInvocations: number; maxSizeX: number; maxSizeY: number; maxSharedBytes: number }
const CORE: TileLimits = { maxInvocations: 256, maxSizeX: 256, maxSizeY: 256, maxSharedBytes: 16384 };

/** A vector product goes to gemv; everything else to the register-blocked rung. */
export function chooseMatmul(p: KernelParams['matmul']): MatmulVariant {
  return p.m === 1 || p.n === 1 ? 'gemv' : 'rb';
}

/**
 * The register-blocked tile for these limits: 16x16 invocations (a 64x64 output tile) with a
 * k slice of 32 on a core adapter, halving the slice, then the invocations, until it fits.
 * Exported for the small-adapter test.
 */
export function rbTile(l: TileLimits): { wx: number; wy: number; tk: number } {
  let wx = 16, wy = 16, tk = 32;
  const shared = () => 16 * tk * (wx + wy); // two arrays of vec4<f32>
  while (wx * wy > l.maxInvocations || wx > l.maxSizeX || wy > l.maxSizeY) {
    if (wy >= wx) wy /= 2; else wx /= 2;
  }
  while (shared() > l.maxSharedBytes && tk > 4) tk /= 2;
  while (shared() > l.maxSharedBytes && wx * wy > 1) { if (wy >= wx) wy /= 2; else wx /= 2; }
  return { wx, wy, tk };
}

export function matmulProgram(p: KernelParams['matmul'], lim: GridLimits, variant: MatmulVariant = chooseMatmul(p)): Program {
  const { m, k, n, batchShape = [], aBatchStrides = [], bBatchStrides = [] } = p;
  const bias = !!p.bias, activation = p.activation ?? 'none';
  const tl: TileLimits = { ...CORE, ...lim.tile };
  const batches = batchShape.reduce((x, y) => x * y, 1);
  if (batches > lim.maxWorkgroupsPerDim) throw new DeviceError(`gpu: matmul over ${batches} batches exceeds this adapter's ${lim.maxWorkgroupsPerDim} workgroups per dispatch dimension`);
  if (variant === 'gemv' && m !== 1 && n !== 1) throw new DeviceError(`gpu: the gemv matmul needs m = 1 or n = 1, got m = ${m}, n = ${n}`);
  const u = new Uint32Array(8 + 3 * 8);
  u.set([m, k, n, (p.transposeA ? 1 : 0) | (p.transposeB ? 2 : 0), batchShape.length]);
  u.set(batchShape, 8);
  u.set(aBatchStrides, 16);
  u.set(bBatchStrides, 24);

  let body: string, grid: [number, number, number], tile: Record<string, number> = {};
  if (variant === 'naive') {
    body = WGSL.matmul_naive;
    grid = [Math.ceil(n / 8), Math.ceil(m / 8), batches];
  } else if (variant === 'tiled') {
    body = WGSL.matmul_tiled;
    grid = [Math.ceil(n / 16), Math.ceil(m / 16), batches];
  } else if (variant === 'rb') {
    const { wx, wy, tk } = rbTile(tl);
    tile = { wx, wy, tk };
    body = WGSL.matmul_rb.replaceAll('{{WX}}', String(wx)).replaceAll('{{WY}}', String(wy)).replaceAll('{{TK}}', String(tk));
    grid = [Math.ceil(n / (4 * wx)), Math.ceil(m / (4 * wy)), batches];
  } else {
    let gy = 16;
    while (16 * gy > tl.maxInvocations || gy > tl.maxSizeY) gy /= 2;
    tile = { gy };
    body = WGSL.matmul_gemv.replaceAll('{{GY}}', String(gy));
    const groups = Math.ceil((m === 1 ? n : m) / 16);
    const y = Math.ceil(groups / lim.maxWorkgroupsPerDim);
    grid = [Math.ceil(groups / y), y, batches];
  }
  if (grid[0] > lim.maxWorkgroupsPerDim || grid[1] > lim.maxWorkgroupsPerDim) throw new DeviceError(`gpu: a ${m}x${n} matmul needs ${grid[0]}x${grid[1]} workgroups, over this adapter's ${lim.maxWorkgroupsPerDim} per dimension`);
  // Bindings follow the backend's order: inputs (a, b[, bias]), output, uniforms.
  const code = body.replace('{{COMMON}}', WGSL.matmul_common)
    .replaceAll('{{BIAS_DECL}}', bias ? '@group(0) @binding(2) var<storage, read> Bias: array<f32>;' : '')
    .replaceAll('{{BIAS}}', bias ? 'Bias[j]' : '0.0')
    .replaceAll('{{OUT}}', bias ? '3' : '2')
    .replaceAll('{{PARAMS}}', bias ? '4' : '3')
    .replaceAll('{{ACT}}', ACTIVATIONS[activation].wgsl);
  return { key: { kernel: 'matmul', variant, ...tile, bias: bias ? 1 : 0, activation }, code, entry: 'main', grid, uniforms: u };
}
