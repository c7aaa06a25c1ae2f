/**
 * Programs of the window kernels on the gpu: im2col, col2im (kernels/im2col.wgsl,
 * col2im.wgsl), max pooling and its gradient (maxpool.wgsl, maxpool_grad.wgsl), all over the
 * uniform layout of kernels/window_common.wgsl: geometry in uniforms, one pipeline per kernel.
 * The convolutions themselves are not programs: conv-driver.ts runs them as im2col, the
 * matmul ladder's GEMM and col2im (webgpu.ts sends conv2d* there).
 */
import { WGSL } from '../gen/wgsl.js';
import type { ConvGeom, KernelParams, PoolGeom } from './backend.js';
import { grid1d, type GridLimits, lazyCode, type Program } from './wgsl-programs.js';

const WG = 256;

function windowUniforms(p: PoolGeom & Partial<ConvGeom>, extra: { ones?: boolean; first?: number; images?: number }, total: number): Uint32Array {
  const u = new Uint32Array([
    p.c, p.h, p.w, p.kh, p.kw, p.oh, p.ow, p.sh, p.sw, p.ph, p.pw, p.dh, p.dw,
    p.groups ?? 1, extra.ones ? 1 : 0, extra.first ?? 0, extra.images ?? 0, total, 0, 0,
  ]);
  new Float32Array(u.buffer)[18] = -Infinity;
  return u;
}

function windowProgram(kernel: 'im2col' | 'col2im' | 'maxpool' | 'maxpool_grad', total: number, u: Uint32Array, lim: GridLimits): Program {
  const code = () => `${WGSL.window_common}\n${WGSL[kernel].replace('{{ARGMAX}}', WGSL.window_argmax)}`;
  return lazyCode({ key: { kernel }, entry: 'main', grid: grid1d(Math.ceil(total / WG), lim), uniforms: u }, code);
}

export const CONV_PROGRAMS = {
  im2col(p: KernelParams['im2col'], lim: GridLimits): Program {
    const total = p.images * p.groups * ((p.c / p.groups) * p.kh * p.kw + (p.ones ? 1 : 0)) * p.oh * p.ow;
    return windowProgram('im2col', total, windowUniforms(p, p, total), lim);
  },
  col2im(p: KernelParams['col2im'], lim: GridLimits): Program {
    const total = p.images * p.c * p.h * p.w;
    return windowProgram('col2im', total, windowUniforms(p, p, total), lim);
  },
  maxPool2d(p: KernelParams['maxPool2d'], lim: GridLimits): Program {
    const total = p.n * p.c * p.oh * p.ow;
    return windowProgram('maxpool', total, windowUniforms(p, {}, total), lim);
  },
  maxPool2dGrad(p: KernelParams['maxPool2dGrad'], lim: GridLimits): Program {
    const total = p.n * p.c * p.h * p.w;
    return windowProgram('maxpool_grad', total, windowUniforms(p, {}, total), lim);
  },
};
