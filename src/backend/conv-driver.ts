/**
 * 2-D convolution and its gradients as im2col + GEMM + col2im, over any backend's own
 * kernels (the cpu and gpu engines run these; the reference has direct loops instead).
 *
 * Layout: per image, y [o, oh*ow] = W [o, kg] x cols [kg, oh*ow], a batched GEMM over
 * (image, group) whose output is NCHW as it lands, so the forward pass copies nothing. The
 * other order (cols^T [oh*ow, kg] x W^T) would fuse the bias through the GEMM's column
 * epilogue but leave NHWC to transpose; here the bias rides in the GEMM instead: im2col adds
 * a row of ones to each group's columns and W gains the bias as its last column (a small
 * copy, W_aug [o, kg + 1]), so act(W_aug x cols) = act(W x cols + b) with the activation in
 * the GEMM epilogue, at the cost of one more term in k.
 *   dx: dcols [c*kh*kw, oh*ow] = W^T x dy per image (transposeA), then col2im, which gathers
 *       each input pixel from the columns that read it (no atomics on the gpu).
 *   dW: dW_g = sum over images of dy_g [og, oh*ow] x cols_g^T (transposeB), a batched GEMM
 *       into [images, o, kg] and a sum over images (and over chunks).
 * Chunks: images are processed CONV_LIMITS.colBytes of columns (and partial products) at a
 * time, so memory stays bounded for large batches. On the gpu, with more than one chunk, the
 * GEMM output and dy chunks go through temporaries and a copy (a GEMM writes from the start
 * of its buffer, and a binding cannot start at an arbitrary offset), so one chunk is its fast
 * path. The cpu passes views (InPlace) and uses cache-sized chunks (CONV_LIMITS.cacheBytes):
 * im2col's output is still in cache (this machine's L3) when the GEMM packs it. Measured on a
 * loaded 2-core machine, so only indicative: N = 128 LeNet layers took 25 / 10.5 ms with
 * 2 MiB chunks against 32 / 13 ms in one chunk (8->16 channels, 14x14, 5x5 / 3x3).
 */
import type { Backend, ConvGeom, KernelParams } from './backend.js';

/**
 * Bytes of columns (and partial products) per chunk; images per chunk stay under the gpu's
 * batch limit. A host engine (InPlace) uses chunks of at most cacheBytes, so the columns are
 * still in cache when the GEMM packs them. Tests lower colBytes to force chunking.
 */
export const CONV_LIMITS = { colBytes: 32 << 20, cacheBytes: 2 << 20, maxBatches: 65535 };

/**
 * What a host engine (the cpu) adds: a view of a buffer from a byte offset, so chunks of the
 * output and of dy are addressed in place instead of going through temporaries and copies.
 */
export interface InPlace<Buf> { view(buf: Buf, byteOffset: number): Buf }

const geom = (p: ConvGeom): ConvGeom => ({ n: p.n, c: p.c, h: p.h, w: p.w, o: p.o, kh: p.kh, kw: p.kw, oh: p.oh, ow: p.ow, sh: p.sh, sw: p.sw, ph: p.ph, pw: p.pw, dh: p.dh, dw: p.dw, groups: p.groups });

function sizes(p: ConvGeom) {
  const cg = p.c / p.groups, og = p.o / p.groups, kg = cg * p.kh * p.kw, ohw = p.oh * p.ow;
  return { cg, og, kg, ohw };
}

/** Images per chunk when each image needs `bytes` of temporaries. */
function chunkOf(p: ConvGeom, bytes: number, host: boolean): number {
  const budget = host ? Math.min(CONV_LIMITS.colBytes, CONV_LIMITS.cacheBytes) : CONV_LIMITS.colBytes;
  return Math.max(1, Math.min(p.n, Math.floor(budget / Math.max(1, bytes)), Math.floor(CONV_LIMITS.maxBatches / p.groups)));
}

/** Batch shape and strides of a GEMM over (image, group); one dim when there is one group. */
function batch(images: number, groups: number, a: [number, number], b: [number, number]): Pick<KernelParams['matmul'], 'batchShape' | 'aBatchStrides' | 'bBatchStrides'> {
  return groups === 1
    ? { batchShape: [images], aBatchStrides: [a[0]], bBatchStrides: [b[0]] }
    : { batchShape: [images, groups], aBatchStrides: a, bBatchStrides: b };
}

/** Runs `body` with temporaries from `be`, freeing them whatever happens. */
function withTemps<Buf>(be: Backend<Buf>, body: (temp: (bytes: number) => Buf) => void): void {
  const temps: Buf[] = [];
  try {
    body((bytes) => { const b = be.alloc(Math.max(4, bytes)); temps.push(b); return b; });
  } finally {
    for (const b of temps) be.free(b);
  }
}

const copy1d = (count: number, srcOffset: number, dstOffset: number): KernelParams['copy'] => ({ itemBytes: 4, shape: [count], srcStrides: [1], dstStrides: [1], srcOffset, dstOffset });

export function conv2dForward<Buf>(be: Backend<Buf>, [x, w, bias]: Buf[], out: Buf, p: KernelParams['conv2d'], host?: InPlace<Buf>): void {
  const g = geom(p), { og, kg: k0, ohw } = sizes(g), ones = !!p.bias, kg = k0 + (ones ? 1 : 0);
  withTemps(be, (temp) => {
    let wa = w;
    if (ones) {
      // W_aug [o, kg]: W's rows with the bias appended (see the file comment).
      wa = temp(4 * p.o * kg);
      if (k0 > 0) be.run('copy', [w], wa, { itemBytes: 4, shape: [p.o, k0], srcStrides: [k0, 1], dstStrides: [kg, 1], srcOffset: 0, dstOffset: 0 });
      be.run('copy', [bias], wa, { itemBytes: 4, shape: [p.o], srcStrides: [1], dstStrides: [kg], srcOffset: 0, dstOffset: k0 });
    }
    const chunk = chunkOf(g, 4 * p.groups * kg * ohw + (p.n > 1 && !host ? 4 * p.o * ohw : 0), !!host);
    const direct = chunk >= p.n || !!host;
    const cols = temp(4 * chunk * p.groups * kg * ohw), y = direct ? out : temp(4 * chunk * p.o * ohw);
    for (let first = 0; first < p.n; first += chunk) {
      const images = Math.min(chunk, p.n - first);
      be.run('im2col', [x], cols, { ...g, first, images, ones });
      be.run('matmul', [wa, cols], host ? host.view(out, 4 * first * p.o * ohw) : y, {
        m: og, k: kg, n: ohw, activation: p.activation ?? 'none',
        ...batch(images, p.groups, [0, og * kg], [p.groups * kg * ohw, kg * ohw]),
      });
      if (!direct) be.run('copy', [y], out, copy1d(images * p.o * ohw, 0, first * p.o * ohw));
    }
  });
}

export function conv2dInputGrad<Buf>(be: Backend<Buf>, [dy, w]: Buf[], dx: Buf, p: ConvGeom, host?: InPlace<Buf>): void {
  const g = geom(p), { og, kg, ohw } = sizes(g);
  withTemps(be, (temp) => {
    const chunk = chunkOf(g, 4 * p.c * p.kh * p.kw * ohw + (p.n > 1 && !host ? 4 * p.o * ohw : 0), !!host);
    const direct = chunk >= p.n || !!host;
    const dcols = temp(4 * chunk * p.c * p.kh * p.kw * ohw);
    let dyc = direct ? dy : temp(4 * chunk * p.o * ohw);
    for (let first = 0; first < p.n; first += chunk) {
      const images = Math.min(chunk, p.n - first);
      if (host) dyc = host.view(dy, 4 * first * p.o * ohw);
      else if (!direct) be.run('copy', [dy], dyc, copy1d(images * p.o * ohw, first * p.o * ohw, 0));
      // dcols_g [kg, ohw] = W_g^T x dy_g: W_g is stored [og, kg], i.e. A' transposed.
      be.run('matmul', [w, dyc], dcols, {
        m: kg, k: og, n: ohw, transposeA: true,
        ...batch(images, p.groups, [0, og * kg], [p.o * ohw, og * ohw]),
      });
      be.run('col2im', [dcols], dx, { ...g, first, images });
    }
  });
}

export function conv2dWeightGrad<Buf>(be: Backend<Buf>, [x, dy]: Buf[], dw: Buf, p: ConvGeom, host?: InPlace<Buf>): void {
  const g = geom(p), { og, kg, ohw } = sizes(g), size = p.o * kg;
  const sum = (images: number): KernelParams['reduce'] => ({ op: 'sum', outer: 1, reduce: images, inner: size });
  withTemps(be, (temp) => {
    if (p.n === 0) return be.run('reduce', [temp(4)], dw, sum(0)); // no images: dW = 0
    const chunk = chunkOf(g, 4 * (p.groups * kg * ohw + size) + (p.n > 1 && !host ? 4 * p.o * ohw : 0), !!host);
    const direct = chunk >= p.n || !!host;
    const cols = temp(4 * chunk * p.groups * kg * ohw), part = temp(4 * chunk * size);
    let dyc = direct ? dy : temp(4 * chunk * p.o * ohw);
    // Running total across chunks in two ping-pong buffers (a gpu dispatch may not read and
    // write one buffer through two bindings); the last chunk's sum lands in dw.
    const multi = chunk < p.n, red = multi ? temp(4 * size) : dw, pp = multi ? [temp(4 * size), temp(4 * size)] : [];
    let acc: Buf | null = null;
    for (let first = 0, step = 0; first < p.n; first += chunk, step++) {
      const images = Math.min(chunk, p.n - first), last = first + images >= p.n;
      be.run('im2col', [x], cols, { ...g, first, images, ones: false });
      if (host) dyc = host.view(dy, 4 * first * p.o * ohw);
      else if (!direct) be.run('copy', [dy], dyc, copy1d(images * p.o * ohw, first * p.o * ohw, 0));
      // part[img, g] [og, kg] = dy_g [og, ohw] x cols_g^T (cols_g stored [kg, ohw]).
      be.run('matmul', [dyc, cols], part, {
        m: og, k: ohw, n: kg, transposeB: true,
        ...batch(images, p.groups, [p.o * ohw, og * ohw], [p.groups * kg * ohw, kg * ohw]),
      });
      const target = last ? dw : pp[step & 1];
      if (acc === null) {
        be.run('reduce', [part], target, sum(images));
      } else {
        be.run('reduce', [part], red, sum(images));
        be.run('binary', [acc, red], target, { op: 'add', shape: [size], aStrides: [1], bStrides: [1] });
      }
      acc = target;
    }
  });
}

/** The three drivers by kernel name, for the backends' dispatch. */
export const CONV_DRIVERS = { conv2d: conv2dForward, conv2dInputGrad, conv2dWeightGrad } as const;
export type ConvDriverKernel = keyof typeof CONV_DRIVERS;
