/**
 * Fused optimizer kernels (sgd, adam, adamw) at the seam, over several steps, on the reference
 * backend, the Wasm f32x4 kernels, their scalar twins and the WGSL kernels, against updates
 * written out here from the algorithm boxes of PyTorch's documentation (torch.optim.SGD, Adam,
 * AdamW), with each stored tensor rounded to f32 after every step as PyTorch's f32 tensors are.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { AdamParams, Backend, KernelParams } from '../src/backend/backend.ts';
import { RUNTIME, randomData } from './harness.ts';
import { asF32, cpuEngines, gpu, ref, run } from './seam.ts';

type SgdParams = KernelParams['sgd'];
const fr = Math.fround;

/** torch.optim.SGD, documented algorithm; `buf` is the momentum buffer b. */
function docSgd(p: number[], g: number[], buf: number[], { lr, momentum: mu, dampening: tau, nesterov, weightDecay: wd, step: t }: SgdParams): void {
  for (let i = 0; i < p.length; i++) {
    let gt = g[i];
    if (wd !== 0) gt = gt + wd * p[i];
    if (mu !== 0) {
      buf[i] = fr(t > 1 ? mu * buf[i] + (1 - tau) * gt : gt);
      gt = nesterov ? gt + mu * buf[i] : buf[i];
    }
    p[i] = fr(p[i] - lr * gt);
  }
}

/** torch.optim.Adam (decoupled = false) and AdamW (true), documented algorithms, amsgrad off. */
function docAdam(p: number[], g: number[], m: number[], v: number[], { lr, beta1: b1, beta2: b2, eps, weightDecay: wd, step: t }: AdamParams, decoupled: boolean): void {
  for (let i = 0; i < p.length; i++) {
    let gt = g[i];
    if (decoupled) p[i] = fr(p[i] - lr * wd * p[i]);
    else if (wd !== 0) gt = gt + wd * p[i];
    m[i] = fr(b1 * m[i] + (1 - b1) * gt);
    v[i] = fr(b2 * v[i] + (1 - b2) * gt * gt);
    const mHat = m[i] / (1 - b1 ** t), vHat = v[i] / (1 - b2 ** t);
    p[i] = fr(p[i] - (lr * mHat) / (Math.sqrt(vHat) + eps));
  }
}

const SIZES = [1, 2, 3, 4, 5, 7, 8, 13, 16, 17, 31, 33, 257];
const STEPS = 6;
/** Gradients change every step; a few are 0 and a few are tiny, where Adam's eps matters. */
const grads = (n: number, step: number) => randomData(n, 1000 * step + n).map((x, i) => (i % 11 === 5 ? 0 : i % 13 === 7 ? x * 1e-7 : x));

/**
 * Per-element closeness. The kernels work in f32 with f32 hyperparameters (as PyTorch's f32
 * kernels do), the doc version in f64 between stores, so values differ by a few roundings of
 * terms of magnitude ~1 (params, grads); a momentum buffer that cancels down to 1e-3 keeps that
 * absolute error, hence the atol. A wrong rule (dampening, nesterov, bias correction, decay)
 * moves values by ~lr * |g| >= 1e-4.
 */
function close(got: Float32Array, want: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= 2e-6 + 2e-6 * Math.abs(want[i]))) assert.unreachable(`${what}[${i}] = ${got[i]}, expected ${want[i]}`);
  }
}

const SGD_CASES: Omit<SgdParams, 'size' | 'step'>[] = [
  { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.05 },
  { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
  { lr: 0.05, momentum: 0.9, dampening: 0.3, nesterov: false, weightDecay: 1e-2 },
  { lr: 0.02, momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 1e-3 },
];
const ADAM_CASES: Omit<AdamParams, 'size' | 'step'>[] = [
  { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 },
  { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
];

const engines: [string, Backend][] = [['ref', ref], ...cpuEngines, ...(gpu ? [['webgpu', gpu] as [string, Backend]] : [])];
for (const [name, be] of engines) {
  test(`${RUNTIME}: ${name}: sgd (plain, weight decay, momentum, dampening, nesterov) over ${STEPS} steps`, async () => {
    for (const c of SGD_CASES) {
      for (const n of SIZES) {
        const p0 = randomData(n, n + 1);
        let params = Float32Array.from(p0), buf = new Float32Array(n);
        const wantP = Array.from(p0), wantB = new Array<number>(n).fill(0);
        for (let step = 1; step <= STEPS; step++) {
          const g = grads(n, step), prm = { ...c, size: n, step };
          // With momentum 0 the buffer is omitted, as a caller without one would.
          const inputs = c.momentum === 0 ? [g] : [g, buf];
          const r = await run(be, 'sgd', inputs, params, prm);
          params = Float32Array.from(asF32(r.out));
          if (c.momentum !== 0) buf = Float32Array.from(asF32(r.inputs[1]));
          docSgd(wantP, Array.from(g), wantB, prm);
        }
        close(params, wantP, `${JSON.stringify(c)} n=${n} params`);
        if (c.momentum !== 0) close(buf, wantB, `${JSON.stringify(c)} n=${n} momentum buffer`);
      }
    }
  });

  for (const kernel of ['adam', 'adamw'] as const) {
    test(`${RUNTIME}: ${name}: ${kernel} with bias correction and weight decay over ${STEPS} steps`, async () => {
      for (const c of ADAM_CASES) {
        for (const n of SIZES) {
          const p0 = randomData(n, n + 2);
          let params = Float32Array.from(p0), m = new Float32Array(n), v = new Float32Array(n);
          const wantP = Array.from(p0), wantM = new Array<number>(n).fill(0), wantV = new Array<number>(n).fill(0);
          for (let step = 1; step <= STEPS; step++) {
            const g = grads(n, step), prm = { ...c, size: n, step };
            const r = await run(be, kernel, [g, m, v], params, prm);
            params = Float32Array.from(asF32(r.out));
            m = Float32Array.from(asF32(r.inputs[1]));
            v = Float32Array.from(asF32(r.inputs[2]));
            docAdam(wantP, Array.from(g), wantM, wantV, prm, kernel === 'adamw');
          }
          const what = `${JSON.stringify(c)} n=${n}`;
          close(params, wantP, `${what} params`);
          close(m, wantM, `${what} m`);
          close(v, wantV, `${what} v`);
        }
      }
    });
  }
}

test(`${RUNTIME}: adam and adamw differ exactly by where the weight decay goes`, async () => {
  const n = 9, g = randomData(n, 1), p = randomData(n, 3);
  const prm = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5, size: n, step: 1 };
  const [, be] = cpuEngines[0];
  const a = asF32((await run(be, 'adam', [g, new Float32Array(n), new Float32Array(n)], p, prm)).out);
  const w = asF32((await run(be, 'adamw', [g, new Float32Array(n), new Float32Array(n)], p, prm)).out);
  // Step 1 of Adam moves by lr * sign(g + wd p); AdamW first shrinks p by (1 - lr wd), then lr * sign(g).
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(a[i] - (p[i] - 0.1 * Math.sign(g[i] + 0.5 * p[i]))) < 1e-6, `adam ${i}`);
    assert.ok(Math.abs(w[i] - (p[i] * 0.95 - 0.1 * Math.sign(g[i]))) < 1e-6, `adamw ${i}`);
  }
});

test.run();
