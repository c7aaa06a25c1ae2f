/**
 * A shipped stand-in for MNIST (nothing can be downloaded): 28 x 28 grey-level digits drawn
 * from stroke skeletons, one per class, with per-sample variation a classifier has to learn
 * through: every control point jittered, a random affine map (rotation, scale, shear,
 * translation), a random pen width, anti-aliased edges and sensor noise. Deterministic: the
 * same { n, seed } gives the same bytes on every runtime (seeded xoshiro, no Math.random).
 *
 * Layout as MNIST: images u8 [n, 28, 28] (0 = background, 255 = ink), labels i32 [n], the
 * classes drawn uniformly. Each segment only touches the pixels of its own bounding box, so
 * rendering cost grows with the strokes, not with the image.
 */
import type { DeviceKind } from '../backend/backend.js';
import { checkDevice } from '../create.js';
import { TandemError } from '../errors.js';
import { Rng } from '../random.js';
import { type Tensor, createTensor } from '../tensor.js';

const SIZE = 28;
type Pt = [number, number];

/** Points on a circle arc (degrees, y pointing down, so 270 is the top). */
function arc(cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 10): Pt[] {
  return Array.from({ length: steps + 1 }, (_, i) => {
    const t = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)] as Pt;
  });
}

/** Stroke skeletons (polylines in the unit square, y down), index = digit. */
const SKELETONS: Pt[][][] = [
  [arc(0.5, 0.5, 0.21, 0.32, 0, 360, 16)],
  [[[0.4, 0.28], [0.52, 0.18], [0.52, 0.82]]],
  [[...arc(0.5, 0.36, 0.2, 0.18, 190, 385), [0.3, 0.82], [0.73, 0.82]]],
  [arc(0.49, 0.34, 0.17, 0.16, 200, 450), arc(0.49, 0.66, 0.2, 0.17, 270, 520)],
  [[[0.62, 0.82], [0.62, 0.18], [0.27, 0.62], [0.76, 0.62]]],
  [[[0.7, 0.18], [0.37, 0.18], [0.35, 0.47]], arc(0.49, 0.63, 0.2, 0.19, 230, 500)],
  [[[0.66, 0.2], [0.46, 0.3], [0.34, 0.5], [0.31, 0.64]], arc(0.5, 0.65, 0.19, 0.17, 0, 360, 14)],
  [[[0.27, 0.18], [0.73, 0.18], [0.44, 0.82]]],
  [arc(0.5, 0.33, 0.15, 0.15, 0, 360, 12), arc(0.5, 0.66, 0.18, 0.17, 0, 360, 14)],
  [arc(0.5, 0.36, 0.17, 0.17, 0, 360, 12), [[0.67, 0.36], [0.66, 0.6], [0.6, 0.82]]],
];

export interface DigitsOptions {
  n: number;
  seed?: number;
  device?: DeviceKind;
}

/** `n` generated digits: { images: u8 [n, 28, 28], labels: i32 [n] } on `device` (default cpu). */
export function digits(opts: DigitsOptions): { images: Tensor; labels: Tensor } {
  const { n, seed = 0 } = opts;
  if (!Number.isSafeInteger(n) || n < 0) throw new TandemError(`datasets.digits: n must be a non-negative integer, got ${n}`);
  if (!Number.isFinite(seed)) throw new TandemError(`datasets.digits: seed must be a finite number, got ${seed}`);
  const device = checkDevice(opts.device, 'datasets.digits');
  const rng = new Rng(seed);
  const images = new Uint8Array(n * SIZE * SIZE), labels = new Int32Array(n);
  const ink = new Float32Array(SIZE * SIZE);
  for (let i = 0; i < n; i++) {
    const label = rng.nextU32() % 10;
    labels[i] = label;
    render(SKELETONS[label], rng, ink);
    const img = images.subarray(i * SIZE * SIZE, (i + 1) * SIZE * SIZE);
    for (let p = 0; p < ink.length; p++) {
      const v = ink[p] + 0.04 * gauss(rng);
      img[p] = Math.round(255 * Math.min(1, Math.max(0, v)));
    }
  }
  const imagesT = createTensor([n, SIZE, SIZE], 'u8', device, 'datasets.digits', () => images);
  try {
    return { images: imagesT, labels: createTensor([n], 'i32', device, 'datasets.digits', () => labels) };
  } catch (e) {
    imagesT.dispose();
    throw e;
  }
}

function gauss(rng: Rng): number {
  return Math.sqrt(-2 * Math.log(rng.uniform())) * Math.cos(2 * Math.PI * rng.uniform());
}

/** Draw one sample of a skeleton into `ink` (0..1, max over strokes). */
function render(strokes: Pt[][], rng: Rng, ink: Float32Array): void {
  ink.fill(0);
  const u = () => rng.uniform() * 2 - 1;
  // The affine map: unit square -> pixels, about the digit's centre.
  const angle = u() * 0.22, scale = 0.9 + 0.2 * rng.uniform(), aspect = 1 + 0.12 * u(), shear = 0.25 * u();
  const c = Math.cos(angle) * scale * 20, s = Math.sin(angle) * scale * 20;
  const tx = 14 + 1.8 * u(), ty = 14 + 1.8 * u();
  const map = ([x, y]: Pt): Pt => {
    const dx = (x - 0.5 + shear * (y - 0.5)) * aspect, dy = y - 0.5;
    return [tx + c * dx - s * dy, ty + s * dx + c * dy];
  };
  const half = 0.55 + 0.65 * rng.uniform(); // pen radius in pixels
  const wobble = 0.025;
  for (const stroke of strokes) {
    const pts = stroke.map(([x, y]) => map([x + wobble * gauss(rng), y + wobble * gauss(rng)]));
    for (let k = 0; k + 1 < pts.length; k++) segment(pts[k], pts[k + 1], half, ink);
  }
}

/** Max-blend an anti-aliased segment of radius `half` (coverage falls off over one pixel). */
function segment([ax, ay]: Pt, [bx, by]: Pt, half: number, ink: Float32Array): void {
  const r = half + 1;
  const x0 = Math.max(0, Math.floor(Math.min(ax, bx) - r)), x1 = Math.min(SIZE - 1, Math.ceil(Math.max(ax, bx) + r));
  const y0 = Math.max(0, Math.floor(Math.min(ay, by) - r)), y1 = Math.min(SIZE - 1, Math.ceil(Math.max(ay, by) + r));
  const vx = bx - ax, vy = by - ay, len2 = vx * vx + vy * vy || 1e-12;
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const px = x + 0.5 - ax, py = y + 0.5 - ay;
      const t = Math.min(1, Math.max(0, (px * vx + py * vy) / len2));
      const d = Math.hypot(px - t * vx, py - t * vy);
      const v = Math.min(1, Math.max(0, half + 0.5 - d));
      const p = y * SIZE + x;
      if (v > ink[p]) ink[p] = v;
    }
  }
}
