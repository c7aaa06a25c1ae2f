/**
 * The WGSL matmul ladder as programs (see kernels/matmul_*.wgsl): naive (one output per
 * invocation, no shared memory), tiled (16x16 shared tiles), rb (register-blocked, 8x8 outputs
 * per invocation, the default) and gemv (m = 1 or n = 1). PROGRAMS.matmul calls `matmulProgram`
 * with the rung `chooseMatmul` picks; the ladder benchmark and tests ask for a rung by name.
 * Every rung shares one uniform layout and one prelude (matmul_common.wgsl), so a rung is
 * only its tiling; the key names the rung, its tile, bias and activation, never a shape.
 */
import { DeviceError } from '../errors.js';
import { WGSL } from '../gen/wgsl.js';
import { ACTIVATIONS } from '../ops/activation.js';
import type { KernelParams } from './backend.js';
import type { GridLimits, Program } from './wgsl-programs.js';
import { floatIO, floatStorage, withHalf } from './wgsl-half.js';

export type MatmulVariant = 'naive' | 'tiled' | 'rb' | 'gemv';
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'tiled', 'rb', 'gemv'];

/** Limits a matmul tile must respect; the defaults are WebGPU's core-profile minimums. */
export interface TileLimits { maxInvocations: number; maxSizeX: number; maxSizeY: number; maxSharedBytes: number }
const CORE: TileLimits = { maxInvocations: 256, maxSizeX: 256, maxSizeY: 256, maxSharedBytes: 16384 };

const CODE = new Map<string, string>();

/** Products up to this many multiply-adds run on the naive rung while rb compiles. */
export const FALLBACK_MACS = 1 << 22;

/** A vector product goes to gemv; everything else to the register-blocked rung. */
export function chooseMatmul(p: KernelParams['matmul']): MatmulVariant {
  return p.m === 1 || p.n === 1 ? 'gemv' : 'rb';
}

/**
 * The register-blocked tile for these limits: WX x WY invocations, each an RM x RN block,
 * over TK of k per staging. Default 8x8 invocations of 8x8 blocks (a 64x64 output tile, 64
 * accumulators per invocation) with TK 16: 8 KiB of workgroup memory. (TK 32 ran as fast on
 * SwiftShader but took twice as long to compile: 2.9 s against 1.4 s.)
 * Shrinks TK, then the invocations, until the adapter's limits hold. Exported for tests.
 */
export function rbTile(l: TileLimits, want: RbTile = RB_DEFAULT): RbTile {
  let { wx, wy, tk } = want;
  const { rm, rn } = want;
  const shared = () => 4 * tk * (wy * rm + wx * rn);
  while (wx * wy > l.maxInvocations || wx > l.maxSizeX || wy > l.maxSizeY) {
    if (wy >= wx) wy /= 2; else wx /= 2;
  }
  while (shared() > l.maxSharedBytes && tk > 4) tk /= 2;
  while (shared() > l.maxSharedBytes && wx * wy > 1) { if (wy >= wx) wy /= 2; else wx /= 2; }
  return { wx, wy, rm, rn, tk };
}
export interface RbTile { wx: number; wy: number; rm: number; rn: number; tk: number }
export const RB_DEFAULT: RbTile = { wx: 8, wy: 8, rm: 8, rn: 8, tk: 16 };

/** The generated parts of matmul_rb.wgsl: named accumulators, one k step, the epilogue. */
function rbSplice(tmpl: string, t: RbTile): string {
  const rows = [...Array(t.rm).keys()], cols = [...Array(t.rn / 4).keys()], ag = [...Array(t.rm / 4).keys()];
  const decl = rows.flatMap((r) => cols.map((q) => `  var c${r}_${q} = vec4<f32>(0.0);`));
  const step = [
    ...ag.map((q) => `      let a${q} = As[kk * QA + ${q}u * WY + lid.y];`),
    ...cols.map((q) => `      let b${q} = Bs[kk * QB + ${q}u * WX + lid.x];`),
    ...rows.flatMap((r) => cols.map((q) => `      c${r}_${q} = fma(vec4<f32>(a${r >> 2}.${'xyzw'[r & 3]}), b${q}, c${r}_${q});`)),
  ];
  const store = rows.map((r) => `  if (row0 + 4u * (${r >> 2}u * WY + lid.y) + ${r & 3}u < P.m) {\n    let row = base + (row0 + 4u * (${r >> 2}u * WY + lid.y) + ${r & 3}u) * P.n;\n${cols.map((q) => `    store4(row, col0 + 4u * (${q}u * WX + lid.x), c${r}_${q});`).join('\n')}\n  }`);
  return tmpl.replace('{{ACC_DECL}}', decl.join('\n')).replace('{{STEP}}', step.join('\n')).replace('{{STORE}}', store.join('\n'));
}

/** The program of one rung; `rb` overrides the register-blocked tile (the ladder benchmark). */
export function matmulProgram(p: KernelParams['matmul'], lim: GridLimits, variant: MatmulVariant = chooseMatmul(p), rb?: RbTile): Program {
  const { m, k, n, batchShape = [], aBatchStrides = [], bBatchStrides = [] } = p;
  const bias = !!p.bias, activation = p.activation ?? 'none';
  const storage = floatStorage(p.dtype, lim.nativeF16);
  const tl: TileLimits = { ...CORE, ...lim.tile };
  const batches = batchShape.reduce((x, y) => x * y, 1);
  if (batches > lim.maxWorkgroupsPerDim) throw new DeviceError(`gpu: matmul over ${batches} batches exceeds this adapter's ${lim.maxWorkgroupsPerDim} workgroups per dispatch dimension`);
  if (variant === 'gemv' && m !== 1 && n !== 1) throw new DeviceError(`gpu: the gemv matmul needs m = 1 or n = 1, got m = ${m}, n = ${n}`);
  const u = new Uint32Array(8 + 3 * 8);
  u.set([m, k, n, (p.transposeA ? 1 : 0) | (p.transposeB ? 2 : 0), batchShape.length]);
  u.set(batchShape, 8);
  u.set(aBatchStrides, 16);
  u.set(bBatchStrides, 24);

  let body: () => string, grid: [number, number, number], tile: Record<string, number> = {};
  if (variant === 'naive') {
    body = () => WGSL.matmul_naive;
    grid = [Math.ceil(n / 8), Math.ceil(m / 8), batches];
  } else if (variant === 'tiled') {
    body = () => WGSL.matmul_tiled;
    grid = [Math.ceil(n / 16), Math.ceil(m / 16), batches];
  } else if (variant === 'rb') {
    const t = rbTile(tl, rb);
    tile = { ...t };
    body = () => rbSplice(WGSL.matmul_rb, t).replaceAll('{{WX}}', String(t.wx)).replaceAll('{{WY}}', String(t.wy)).replaceAll('{{RM}}', String(t.rm)).replaceAll('{{RN}}', String(t.rn)).replaceAll('{{TK}}', String(t.tk));
    grid = [Math.ceil(n / (t.rn * t.wx)), Math.ceil(m / (t.rm * t.wy)), batches];
  } else {
    let gy = 16;
    while (16 * gy > tl.maxInvocations || gy > tl.maxSizeY) gy /= 2;
    tile = { gy };
    body = () => WGSL.matmul_gemv.replaceAll('{{GY}}', String(gy));
    const groups = Math.ceil((m === 1 ? n : m) / 16);
    const y = Math.ceil(groups / lim.maxWorkgroupsPerDim);
    grid = [Math.ceil(groups / y), y, batches];
  }
  if (grid[0] > lim.maxWorkgroupsPerDim || grid[1] > lim.maxWorkgroupsPerDim) throw new DeviceError(`gpu: a ${m}x${n} matmul needs ${grid[0]}x${grid[1]} workgroups, over this adapter's ${lim.maxWorkgroupsPerDim} per dimension`);
  const key = { kernel: 'matmul', variant, ...tile, bias: bias ? 1 : 0, activation, storage };
  // The code is a function of the key alone: spliced once per key, not per run.
  const keyText = JSON.stringify(key);
  let code = CODE.get(keyText);
  if (code === undefined) {
    // Bindings follow the backend's order: inputs (a, b[, bias]), output, uniforms.
    const inputs: [string, number][] = bias ? [['A', 0], ['B', 1], ['Bias', 2]] : [['A', 0], ['B', 1]];
    code = withHalf(storage, body().replace('{{COMMON}}', WGSL.matmul_common)
      .replace('{{IO}}', floatIO(storage, inputs, ['C', bias ? 3 : 2]))
      .replaceAll('{{BIAS}}', bias ? 'ldBias(j)' : '0.0')
      .replaceAll('{{PARAMS}}', bias ? '4' : '3')
      .replaceAll('{{ACT}}', ACTIVATIONS[activation].wgsl));
    CODE.set(keyText, code);
  }
  const prog: Program = { key, code, entry: 'main', grid, uniforms: u };
  // Tiered compile: the rb pipeline takes ~30x longer to compile than the naive one (1.4 s vs
  // 0.05 s on SwiftShader), so a small product that finds it not yet compiled runs naive.
  if (variant === 'rb' && m * n * k <= FALLBACK_MACS) prog.fallback = matmulProgram(p, lim, 'naive');
  return prog;
}
