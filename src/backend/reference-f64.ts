/**
 * The reference backend's f64 mode, for numeric gradient checks (src/autograd/gradcheck.ts):
 * central differences need a forward accurate well beyond f32. While `withF64(fn)` runs, the
 * reference backend allocates every buffer twice as large and keeps each 4-byte item (f32 and
 * i32) as an f64 in an 8-byte slot; 1-byte items (u8, bool) keep their layout. Its kernels,
 * already written in f64 arithmetic, then store f64 results instead of rounding to f32.
 *
 * Contained: a buffer made in f64 mode must be used only in f64 mode (gradcheck makes and
 * uses its tensors inside it). f16 and reads through the backend seam are refused in the mode
 * (read values with gradcheck's readF64); nothing outside tests turns it on.
 */
import { TandemError } from '../errors.js';

export const f64Mode = { on: false };

export function withF64<R>(fn: () => R): R {
  const prev = f64Mode.on;
  f64Mode.on = true;
  try {
    return fn();
  } finally {
    f64Mode.on = prev;
  }
}

/**
 * The 4-byte items of a reference buffer: f32 normally, f64 slots in f64 mode. Typed as
 * Float32Array for the kernels' sake (the two share every method the kernels call).
 */
export function words(b: Uint8Array): Float32Array {
  return f64Mode.on
    ? new Float64Array(b.buffer, b.byteOffset, b.byteLength >>> 3) as unknown as Float32Array
    : new Float32Array(b.buffer, b.byteOffset, b.byteLength >>> 2);
}

/** Bytes per stored item of `itemBytes` (4 -> 8 in f64 mode). */
export const slotBytes = (itemBytes: number): number => (f64Mode.on && itemBytes === 4 ? 8 : itemBytes);

export function refuseInF64(what: string): void {
  if (f64Mode.on) throw new TandemError(`reference f64 mode: ${what} is not supported (the mode serves gradcheck's f32 and i32 tensors)`);
}
