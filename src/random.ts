/**
 * Seeded random numbers for tensor creation, generated on the host so a seed gives the same
 * values on every device. xoshiro128** seeded through splitmix32; normals by Box-Muller.
 */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      // splitmix32 step
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform u32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so log() below is finite. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  fillNormal(out: Float32Array): Float32Array {
    for (let i = 0; i < out.length; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.uniform()));
      const th = 2 * Math.PI * this.uniform();
      out[i] = r * Math.cos(th);
      if (i + 1 < out.length) out[i + 1] = r * Math.sin(th);
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
