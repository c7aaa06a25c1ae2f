/**
 * Feedback split of a kernel's work over the pool's threads. Equal parts assume equal cores; on
 * a shared or virtual machine a core often runs at half speed for a stretch of 100 ms or more
 * (on this 2-vCPU VM, one thread repeating one product alternates between 4.2 and 7.7 ms in
 * such stretches), and an equal split then waits for the slow core. Here each thread's speed
 * is learned from the parts it ran (units per millisecond of its own compute time) and the next
 * split gives each thread units in proportion to it.
 *
 * Contract: `starts(count, parts)` returns part starts for `count` units (ascending, first 0,
 * each part at least one unit when count >= parts); `observe(lens, ms)` takes each part's units
 * and compute time. Which thread runs which units never changes a result: callers split along
 * rows, batches or column panels, never inside a sum.
 */

/** Weight of the newest observation: a stretch of slow calls moves the split within ~3 calls. */
const ALPHA = 0.5;
/** Parts shorter than this (ms) say more about timer and wake-up noise than about speed. */
const MIN_MS = 0.2;
/** A thread's speed stays within this factor of the others', so a core that was descheduled
 *  for one call keeps a share large enough to be measured again. */
const MAX_RATIO = 4;

export class SplitBalancer {
  /** Relative speed of each thread, [0] the calling one (only the ratios matter; they start at 1). */
  readonly speed: number[];

  constructor(threads: number) {
    this.speed = Array.from({ length: threads }, () => 1);
  }

  starts(count: number, parts: number): number[] {
    const total = this.speed.slice(0, parts).reduce((a, b) => a + b, 0);
    const out = [0];
    let acc = this.speed[0];
    for (let p = 1; p < parts; p++) {
      let s = Math.round((count * acc) / total);
      if (count >= parts) s = Math.min(Math.max(s, out[p - 1] + 1), count - (parts - p));
      out.push(s);
      acc += this.speed[p];
    }
    return out;
  }

  observe(lens: number[], ms: number[]): void {
    const n = lens.length;
    if (n < 2 || ms.length !== n || ms.some((t) => !(t >= MIN_MS))) return;
    // Rates are relative among the parts that ran: rescale them to those threads' mean speed.
    const rate = lens.map((u, i) => u / ms[i]);
    const meanRate = rate.reduce((a, b) => a + b, 0) / n;
    const meanSpeed = this.speed.slice(0, n).reduce((a, b) => a + b, 0) / n;
    for (let i = 0; i < n; i++) this.speed[i] = (1 - ALPHA) * this.speed[i] + ALPHA * meanSpeed * (rate[i] / meanRate);
    const floor = Math.max(...this.speed) / MAX_RATIO;
    for (let i = 0; i < this.speed.length; i++) this.speed[i] = Math.max(this.speed[i], floor);
  }
}
