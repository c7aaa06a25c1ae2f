/**
 * The data loader's fused preprocessing kernel (assembly/preprocess.ts): random crop with zero
 * padding, horizontal flip, u8 HWC -> normalised f32 CHW. The f32x4 kernel and its scalar twin,
 * in the plain-SIMD build and (where it validates) the relaxed-SIMD build, bit for bit against a
 * plain-JS reference, on a private memory: 1 to 4 channels, every width and height tail of 4 and
 * 16, windows inside, off each edge, fully outside, flipped and not. Every call also checks that
 * nothing around `out` changed; the source sits at address 0 or ends at the last byte of memory,
 * so a load that strays below or past it traps.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { relaxedSimdSupported, wasmModule } from '../src/runtime.ts';
import { RUNTIME } from './harness.ts';

type Kernel = (src: number, h: number, w: number, ch: number, out: number, oh: number, ow: number, top: number, left: number, flip: number,
  s0: number, s1: number, s2: number, s3: number, b0: number, b1: number, b2: number, b3: number) => void;

interface Case { h: number; w: number; ch: number; oh: number; ow: number; top: number; left: number; flip: number }

const SIZES = [0, 1, 2, 3, 5, 7, 13, 16, 17, 31, 33];
const PAGES = 4; // 256 KiB: src at 0 or at the end, out at OUT with GUARD sentinel bytes each side
const OUT = 65536, GUARD = 256, SENTINEL = 0xa5;

/** The contract, in plain JS (f32 mul, then f32 add). */
function reference(img: Uint8Array, k: Case, s: Float32Array, b: Float32Array): Float32Array {
  const { h, w, ch, oh, ow, top, left, flip } = k;
  const out = new Float32Array(ch * oh * ow);
  for (let c = 0; c < ch; c++) {
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const sy = top + y, sx = flip ? left + (ow - 1 - x) : left + x;
        const v = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[(sy * w + sx) * ch + c] : 0;
        out[(c * oh + y) * ow + x] = Math.fround(Math.fround(v * s[c]) + b[c]);
      }
    }
  }
  return out;
}

/** Deterministic bytes 0..255 (xorshift), with 0 and 255 present in any image of 2+ bytes. */
function image(n: number, seed: number): Uint8Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; out[i] = x >>> 24; }
  if (n >= 2) { out[seed % n] = 0; out[(seed * 7 + 1) % n] = 255; }
  return out;
}

/** Scales and biases: torchvision-like 1/(255 std), -mean/std, and one with s < 0, b = -0 (padding must give -0 exactly). */
const PARAMS: [Float32Array, Float32Array][] = [
  [Float32Array.from([0.4914, 0.4822, 0.4465, 0.5], (m, c) => 1 / (255 * [0.247, 0.2435, 0.2616, 0.25][c])), Float32Array.from([0.4914, 0.4822, 0.4465, 0.5], (m, c) => -m / [0.247, 0.2435, 0.2616, 0.25][c])],
  [Float32Array.from([-1 / 255, 3.7, -0.013, 1e-3]), Float32Array.from([-0, -0.25, 1e5, -7.5])],
];

const flavors: [string, WebAssembly.Module][] = [['simd', await wasmModule(undefined, 'simd')]];
if (relaxedSimdSupported()) flavors.push(['relaxed', await wasmModule(undefined, 'relaxed-simd')]);

for (const [flavor, module] of flavors) {
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: PAGES });
  const ex = new WebAssembly.Instance(module, { env: { memory } }).exports as Record<string, Kernel>;
  const bytes = new Uint8Array(memory.buffer);
  const kernels: [string, Kernel][] = [['f32x4', ex.u8_crop_flip_normalize], ['scalar', ex.u8_crop_flip_normalize__scalar]];

  /** Run one case on one kernel, the source at 'start' (address 0) or 'end' (ending at the last byte); null or a message. */
  const check = (kernel: Kernel, k: Case, at: 'start' | 'end', seed: number, params = PARAMS[seed % PARAMS.length]): string | null => {
    const n = k.h * k.w * k.ch, outBytes = 4 * k.ch * k.oh * k.ow;
    const img = image(n, seed);
    const src = at === 'start' ? 0 : bytes.length - n;
    bytes.set(img, src);
    bytes.fill(SENTINEL, OUT - GUARD, OUT + outBytes + GUARD);
    const [s, b] = params;
    kernel(src, k.h, k.w, k.ch, OUT, k.oh, k.ow, k.top, k.left, k.flip, s[0], s[1], s[2], s[3], b[0], b[1], b[2], b[3]);
    const want = new Uint32Array(reference(img, k, s, b).buffer);
    const got = new Uint32Array(memory.buffer.slice(OUT, OUT + outBytes));
    const name = `${JSON.stringify(k)} src at ${at}`;
    for (let i = 0; i < want.length; i++) {
      if (got[i] !== want[i]) {
        const f = (u: number) => new Float32Array(Uint32Array.of(u).buffer)[0];
        return `${name}: out[${i}] = ${f(got[i])} (0x${got[i].toString(16)}), expected ${f(want[i])} (0x${want[i].toString(16)})`;
      }
    }
    for (let i = OUT - GUARD; i < OUT; i++) if (bytes[i] !== SENTINEL) return `${name}: wrote byte ${i - OUT} before out`;
    for (let i = OUT + outBytes; i < OUT + outBytes + GUARD; i++) if (bytes[i] !== SENTINEL) return `${name}: wrote byte ${i - OUT - outBytes} past the end of out`;
    for (let i = 0; i < n; i++) if (bytes[src + i] !== img[i]) return `${name}: changed source byte ${i}`;
    return null;
  };
  const uniq = (xs: number[]) => [...new Set(xs)];
  /** Window origins along one axis for an image of `size` and a window of `out`: off both ends, flush with both, one in, fully outside. */
  const origins = (size: number, out: number) => uniq([-out - 3, -out, -out + 1, -2, -1, 0, 1, size - out - 1, size - out, size - out + 1, size - 1, size, size + 2]);

  for (const [kname, kernel] of kernels) {
    const title = `${RUNTIME}: ${flavor} build: ${kname}`;

    test(`${title}: widths and window widths 0..33 (every tail of 4 and 16), windows off the left and right edges and outside, flip on and off, bit exact`, () => {
      let cases = 0;
      for (const ch of [1, 2, 3, 4]) {
        for (const w of SIZES) {
          for (const ow of SIZES) {
            for (const left of origins(w, ow)) {
              for (const [h, oh, top] of [[3, 3, 0], [3, 2, 1], [2, 3, -1], [3, 3, 1]]) {
                for (const flip of [0, 1]) {
                  const bad = check(kernel, { h, w, ch, oh, ow, top, left, flip }, 'end', ++cases);
                  if (bad) assert.unreachable(bad);
                }
              }
            }
          }
        }
      }
      assert.ok(cases > 10000, `${cases} cases`);
    });

    test(`${title}: heights and window heights 0..33, windows off the top and bottom edges and outside, bit exact`, () => {
      let cases = 0;
      for (const ch of [1, 2, 3, 4]) {
        for (const h of SIZES) {
          for (const oh of SIZES) {
            for (const top of origins(h, oh)) {
              for (const [w, ow, left] of [[5, 5, 0], [17, 16, 1], [20, 24, -2]]) {
                for (const flip of [0, 1]) {
                  const bad = check(kernel, { h, w, ch, oh, ow, top, left, flip }, 'end', ++cases);
                  if (bad) assert.unreachable(bad);
                }
              }
            }
          }
        }
      }
      assert.ok(cases > 5000, `${cases} cases`);
    });

    test(`${title}: random images and windows (the loader's crop-with-padding draws), bit exact`, () => {
      let x = 12345;
      const rnd = (n: number) => { x = (Math.imul(x, 1103515245) + 12345) >>> 0; return (x >>> 8) % n; };
      for (let i = 0; i < 2000; i++) {
        const ch = 1 + rnd(4), h = rnd(41), w = rnd(41), pad = rnd(6);
        const oh = rnd(h + 2 * pad + 1), ow = rnd(w + 2 * pad + 1);
        const k = { h, w, ch, oh, ow, top: rnd(h + 2 * pad - oh + 1) - pad, left: rnd(w + 2 * pad - ow + 1) - pad, flip: rnd(2) };
        const bad = check(kernel, k, rnd(2) ? 'end' : 'start', i);
        if (bad) assert.unreachable(bad);
      }
    });

    test(`${title}: source at address 0 and at the very end of memory: windows over its first and last pixels never read outside it; nothing outside out is written`, () => {
      let cases = 0;
      for (const ch of [1, 2, 3, 4]) {
        for (const [h, w] of [[1, 1], [1, 3], [1, 16], [1, 17], [2, 5], [3, 7], [2, 16], [4, 33], [5, 31], [16, 16], [17, 13]]) {
          for (const [oh, ow] of [[1, 4], [1, 8], [1, 16], [2, 20], [h, w], [h + 2, w + 3], [3, 33]]) {
            // Windows whose inside part starts at pixel 0 or ends at the last pixel, both ways.
            for (const top of uniq([0, h - oh, -1, h - 1, 1 - oh])) {
              for (const left of uniq([0, w - ow, -2, w - 1, 1 - ow, -ow + 4])) {
                for (const flip of [0, 1]) {
                  for (const at of ['start', 'end'] as const) {
                    const bad = check(kernel, { h, w, ch, oh, ow, top, left, flip }, at, ++cases);
                    if (bad) assert.unreachable(bad);
                  }
                }
              }
            }
          }
        }
      }
      assert.ok(cases > 2000, `${cases} cases`);
    });
  }

  test(`${RUNTIME}: ${flavor} build: a window fully outside is all padding; zero sizes write nothing`, () => {
    for (const [kname, kernel] of kernels) {
      for (const k of [
        { h: 4, w: 4, ch: 3, oh: 2, ow: 5, top: -2, left: 0, flip: 0 },
        { h: 4, w: 4, ch: 3, oh: 2, ow: 5, top: 0, left: 4, flip: 1 },
        { h: 4, w: 4, ch: 2, oh: 3, ow: 3, top: 4, left: -3, flip: 0 },
        { h: 0, w: 0, ch: 4, oh: 3, ow: 9, top: 0, left: 0, flip: 1 },
      ]) {
        const bad = check(kernel, k, 'end', 1, PARAMS[1]);
        if (bad) assert.unreachable(`${kname}: ${bad}`);
        const out = new Float32Array(memory.buffer.slice(OUT, OUT + 4 * k.ch * k.oh * k.ow));
        for (let c = 0; c < k.ch; c++) {
          for (let i = 0; i < k.oh * k.ow; i++) assert.ok(Object.is(out[c * k.oh * k.ow + i], Math.fround(Math.fround(0 * PARAMS[1][0][c]) + PARAMS[1][1][c])), `${kname}: padding value`);
        }
      }
      for (const k of [
        { h: 4, w: 4, ch: 3, oh: 0, ow: 5, top: 0, left: 0, flip: 0 },
        { h: 4, w: 4, ch: 3, oh: 5, ow: 0, top: 0, left: 0, flip: 1 },
      ]) {
        const bad = check(kernel, k, 'end', 2);
        if (bad) assert.unreachable(`${kname}: ${bad}`);
      }
      // Channel 0 of a padded window with s < 0 and b = -0 is -0, not +0.
      const bad = check(kernel, { h: 1, w: 1, ch: 1, oh: 1, ow: 2, top: 0, left: 0, flip: 0 }, 'end', 3, PARAMS[1]);
      if (bad) assert.unreachable(`${kname}: ${bad}`);
      assert.ok(Object.is(new Float32Array(memory.buffer.slice(OUT + 4, OUT + 8))[0], -0), `${kname}: -0 padding`);
    }
  });
}

test.run();
