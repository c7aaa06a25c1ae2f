/**
 * Reference kernels of the window ops (part of the reference backend, reference.ts): direct
 * convolution and its two gradients as plain loops in f64, im2col / col2im written straight
 * from their contracts in backend.ts, max pooling and its gradient. The oracle the cpu and gpu
 * drivers (conv-driver.ts: im2col + GEMM + col2im) are tested against.
 */
import { ACTIVATIONS } from '../ops/activation.js';
import type { ConvGeom, KernelParams, PoolGeom } from './backend.js';
import { words } from './reference-f64.js';

type ConvKernel = 'conv2d' | 'conv2dInputGrad' | 'conv2dWeightGrad' | 'im2col' | 'col2im' | 'maxPool2d' | 'maxPool2dGrad';
export type ConvKernels = { [K in ConvKernel]: (inp: Uint8Array[], out: Uint8Array, p: KernelParams[K]) => void };

const f32 = words; // f32 views, or f64 slots in the reference's f64 mode (gradcheck)

/** Calls f(img, oc, oy, ox, ch, ki, kj, iy, ix) for every tap of the convolution that reads x (not padding). */
function eachTap(p: ConvGeom, f: (img: number, oc: number, oy: number, ox: number, ch: number, ki: number, kj: number, iy: number, ix: number) => void): void {
  const cg = p.c / p.groups, og = p.o / p.groups;
  for (let img = 0; img < p.n; img++) {
    for (let oc = 0; oc < p.o; oc++) {
      const g = Math.floor(oc / og);
      for (let oy = 0; oy < p.oh; oy++) {
        for (let ox = 0; ox < p.ow; ox++) {
          for (let ci = 0; ci < cg; ci++) {
            for (let ki = 0; ki < p.kh; ki++) {
              const iy = oy * p.sh - p.ph + ki * p.dh;
              if (iy < 0 || iy >= p.h) continue;
              for (let kj = 0; kj < p.kw; kj++) {
                const ix = ox * p.sw - p.pw + kj * p.dw;
                if (ix >= 0 && ix < p.w) f(img, oc, oy, ox, g * cg + ci, ki, kj, iy, ix);
              }
            }
          }
        }
      }
    }
  }
}

const xAt = (p: PoolGeom, img: number, ch: number, iy: number, ix: number) => ((img * p.c + ch) * p.h + iy) * p.w + ix;
const yAt = (p: ConvGeom, img: number, oc: number, oy: number, ox: number) => ((img * p.o + oc) * p.oh + oy) * p.ow + ox;
const wAt = (p: ConvGeom, oc: number, ch: number, ki: number, kj: number) => ((oc * (p.c / p.groups) + (ch % (p.c / p.groups))) * p.kh + ki) * p.kw + kj;

/** Flat index of the window max (first max, NaN first), or -1 for an empty window. */
function windowArg(x: Float32Array, p: PoolGeom, img: number, ch: number, oy: number, ox: number): number {
  let best = -Infinity, arg = -1;
  for (let ki = 0; ki < p.kh; ki++) {
    const iy = oy * p.sh - p.ph + ki * p.dh;
    if (iy < 0 || iy >= p.h) continue;
    for (let kj = 0; kj < p.kw; kj++) {
      const ix = ox * p.sw - p.pw + kj * p.dw;
      if (ix < 0 || ix >= p.w) continue;
      const at = xAt(p, img, ch, iy, ix), v = x[at];
      if (arg < 0 || v > best || (Number.isNaN(v) && !Number.isNaN(best))) { best = v; arg = at; }
    }
  }
  return arg;
}

export const CONV_KERNELS: ConvKernels = {
  conv2d(inp, ob, p) {
    const [x, w, bias] = inp.map(f32), out = f32(ob);
    const acc = new Float64Array(p.n * p.o * p.oh * p.ow);
    eachTap(p, (img, oc, oy, ox, ch, ki, kj, iy, ix) => { acc[yAt(p, img, oc, oy, ox)] += x[xAt(p, img, ch, iy, ix)] * w[wAt(p, oc, ch, ki, kj)]; });
    const act = ACTIVATIONS[p.activation ?? 'none'].ref;
    const ohw = p.oh * p.ow;
    for (let i = 0; i < acc.length; i++) out[i] = act(acc[i] + (p.bias ? bias[Math.floor(i / ohw) % p.o] : 0));
  },
  conv2dInputGrad([dyb, wb], ob, p) {
    const dy = f32(dyb), w = f32(wb), out = f32(ob);
    const acc = new Float64Array(p.n * p.c * p.h * p.w);
    eachTap(p, (img, oc, oy, ox, ch, ki, kj, iy, ix) => { acc[xAt(p, img, ch, iy, ix)] += dy[yAt(p, img, oc, oy, ox)] * w[wAt(p, oc, ch, ki, kj)]; });
    out.set(acc);
  },
  conv2dWeightGrad([xb, dyb], ob, p) {
    const x = f32(xb), dy = f32(dyb), out = f32(ob);
    const acc = new Float64Array(p.o * (p.c / p.groups) * p.kh * p.kw);
    eachTap(p, (img, oc, oy, ox, ch, ki, kj, iy, ix) => { acc[wAt(p, oc, ch, ki, kj)] += dy[yAt(p, img, oc, oy, ox)] * x[xAt(p, img, ch, iy, ix)]; });
    out.set(acc);
  },
  im2col([xb], ob, p) {
    const x = f32(xb), out = f32(ob), cg = p.c / p.groups, ohw = p.oh * p.ow;
    const kg = cg * p.kh * p.kw + (p.ones ? 1 : 0);
    for (let i = 0; i < p.images; i++) {
      for (let g = 0; g < p.groups; g++) {
        for (let r = 0; r < kg; r++) {
          const [ci, ki, kj] = [Math.floor(r / (p.kh * p.kw)), Math.floor(r / p.kw) % p.kh, r % p.kw];
          for (let oy = 0; oy < p.oh; oy++) {
            for (let ox = 0; ox < p.ow; ox++) {
              const iy = oy * p.sh - p.ph + ki * p.dh, ix = ox * p.sw - p.pw + kj * p.dw;
              const inside = iy >= 0 && iy < p.h && ix >= 0 && ix < p.w;
              out[((i * p.groups + g) * kg + r) * ohw + oy * p.ow + ox] = ci === cg ? 1 : inside ? x[xAt(p, p.first + i, g * cg + ci, iy, ix)] : 0;
            }
          }
        }
      }
    }
  },
  col2im([cb], ob, p) {
    const cols = f32(cb), out = f32(ob), k = p.kh * p.kw, ohw = p.oh * p.ow;
    const acc = new Float64Array(p.images * p.c * p.h * p.w);
    for (let i = 0; i < p.images; i++) {
      for (let ch = 0; ch < p.c; ch++) {
        for (let r = 0; r < k; r++) {
          const ki = Math.floor(r / p.kw), kj = r % p.kw;
          for (let oy = 0; oy < p.oh; oy++) {
            for (let ox = 0; ox < p.ow; ox++) {
              const iy = oy * p.sh - p.ph + ki * p.dh, ix = ox * p.sw - p.pw + kj * p.dw;
              if (iy >= 0 && iy < p.h && ix >= 0 && ix < p.w) acc[xAt(p, i, ch, iy, ix)] += cols[((i * p.c + ch) * k + r) * ohw + oy * p.ow + ox];
            }
          }
        }
      }
    }
    out.set(acc, p.first * p.c * p.h * p.w);
  },
  maxPool2d([xb], ob, p) {
    const x = f32(xb), out = f32(ob);
    for (let img = 0; img < p.n; img++) {
      for (let ch = 0; ch < p.c; ch++) {
        for (let oy = 0; oy < p.oh; oy++) {
          for (let ox = 0; ox < p.ow; ox++) {
            const arg = windowArg(x, p, img, ch, oy, ox);
            out[((img * p.c + ch) * p.oh + oy) * p.ow + ox] = arg < 0 ? -Infinity : x[arg];
          }
        }
      }
    }
  },
  maxPool2dGrad([xb, dyb], ob, p) {
    const x = f32(xb), dy = f32(dyb), out = f32(ob);
    const acc = new Float64Array(p.n * p.c * p.h * p.w);
    for (let img = 0; img < p.n; img++) {
      for (let ch = 0; ch < p.c; ch++) {
        for (let oy = 0; oy < p.oh; oy++) {
          for (let ox = 0; ox < p.ow; ox++) {
            const arg = windowArg(x, p, img, ch, oy, ox);
            if (arg >= 0) acc[arg] += dy[((img * p.c + ch) * p.oh + oy) * p.ow + ox];
          }
        }
      }
    }
    out.set(acc);
  },
};
