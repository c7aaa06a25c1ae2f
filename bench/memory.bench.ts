/**
 * Memory benchmark, one run, ratios only (speed on this machine is not the point):
 * - gpu: 64 ops (one batch), each allocating its 1 KiB output (small, so allocation is not
 *   hidden behind SwiftShader's arithmetic), running an add into it and freeing it, then
 *   one 4-byte readback: through the pool vs a GPUBuffer created per op (destroyed after the
 *   batch's submit, the least a buffer-per-op scheme can do) on the same device; and the
 *   allocation alone (64 buffers obtained and given back) both ways.
 * - gpu readbacks of 16 buffers of 1 KiB, issued together (Promise.all) and one after another:
 *   through the readback ring (one submit and one mapAsync per batch) vs the path it replaced
 *   (a pooled MAP_READ buffer per read, its own submit and mapAsync) vs a buffer created and
 *   destroyed per read.
 * - gpu refusal check: a new 1 MiB buffer (the smallest checked), used and read, with later
 *   calls held until the device's error scope answers vs unchecked (checkAbove = Infinity);
 *   the cache is emptied first so every iteration creates the buffer.
 * - cpu allocator on plain numbers: 64 blocks of mixed sizes allocated then freed, by the
 *   SlabHeap vs a bump-and-reset arena (the lower bound: no per-block bookkeeping) and vs the
 *   first-fit FreeListHeap it replaced.
 * Writes bench/results/memory.json.
 *
 *   npm run bench:memory
 */
import { writeFileSync } from 'node:fs';
import { Bench } from 'tinybench';
import { FreeListHeap, alignUp } from '../src/alloc/heap.ts';
import { SlabHeap } from '../src/alloc/slab.ts';
import type { GPUBuf, WebGPUBackend } from '../src/backend/webgpu.ts';
import { backendFor, init, shutdown } from '../src/runtime.ts';

const info = await init();
const bench = new Bench({ time: 1500, iterations: 20, warmup: true, warmupIterations: 5 });

// ---- gpu: pool vs buffer per op ----
const OPS = 64, FLOATS = 256, BYTES = FLOATS * 4, MiB = 2 ** 20;
let sink = 0;
const add = { op: 'add' as const, shape: [FLOATS], aStrides: [1], bStrides: [1] };
if (info.gpu) {
  const gpu = backendFor('gpu', 'bench') as WebGPUBackend;
  const x = gpu.alloc(BYTES);
  gpu.write(x, new Float32Array(FLOATS).fill(1));
  const warm = gpu.alloc(BYTES);
  gpu.run('binary', [x, x], warm, add);
  await gpu.read(warm, 4); // compile the pipeline before timing
  gpu.free(warm);
  bench.add('gpu | pool', async () => {
    for (let i = 0; i < OPS; i++) {
      const out = gpu.alloc(BYTES);
      gpu.run('binary', [x, x], out, add);
      gpu.free(out);
    }
    await gpu.read(x, 4);
  });
  bench.add('gpu | buffer per op', async () => {
    const made: GPUBuf[] = [];
    for (let i = 0; i < OPS; i++) {
      const out = { buffer: gpu.device.createBuffer({ size: BYTES, usage: 0x80 | 0x04 | 0x08 }), bytes: BYTES };
      gpu.run('binary', [x, x], out, add);
      made.push(out);
    }
    await gpu.read(x, 4); // submits the batch; then the buffers may go
    for (const b of made) b.buffer.destroy();
  });
  // Allocation alone: 64 buffers obtained and given back, no GPU work.
  bench.add('gpu alloc | pool', () => {
    const got = Array.from({ length: OPS }, () => gpu.alloc(BYTES));
    for (const b of got) gpu.free(b);
  });
  bench.add('gpu alloc | createBuffer + destroy', () => {
    const got = Array.from({ length: OPS }, () => gpu.device.createBuffer({ size: BYTES, usage: 0x80 | 0x04 | 0x08 }));
    for (const b of got) b.destroy();
  });

  // ---- gpu readbacks: ring vs staging buffer per read (pooled or created) ----
  const READS = 16;
  const sources = Array.from({ length: READS }, (_, i) => {
    const b = gpu.alloc(BYTES);
    gpu.write(b, new Float32Array(FLOATS).fill(i));
    return b;
  });
  /** The read path before the ring: a staging buffer of its own, a submit and a mapAsync per read. */
  const readAlone = async (src: GPUBuf, pooled: boolean): Promise<Uint8Array> => {
    const usage = 0x01 | 0x08; // MAP_READ | COPY_DST
    const staging = pooled ? gpu.pool.acquire(BYTES, usage) : gpu.device.createBuffer({ size: BYTES, usage });
    gpu.flush(); // read() joined the open batch and submitted it at once; here that batch is empty
    const enc = gpu.device.createCommandEncoder();
    enc.copyBufferToBuffer(src.buffer, 0, staging, 0, BYTES);
    gpu.device.queue.submit([enc.finish()]);
    await staging.mapAsync(0x1, 0, BYTES);
    const out = new Uint8Array(staging.getMappedRange(0, BYTES).slice(0));
    staging.unmap();
    if (pooled) gpu.pool.release(staging); else staging.destroy();
    return out;
  };
  const ways: [string, (b: GPUBuf) => Promise<Uint8Array>][] = [
    ['ring', (b) => gpu.read(b, BYTES)],
    ['pooled buffer per read', (b) => readAlone(b, true)],
    ['createBuffer per read', (b) => readAlone(b, false)],
  ];
  for (const [way, read] of ways) {
    bench.add(`gpu read x${READS} together | ${way}`, async () => {
      sink ^= (await Promise.all(sources.map(read)))[READS - 1][0];
    });
  }
  for (const [way, read] of ways) {
    bench.add(`gpu read x${READS} in turn | ${way}`, async () => {
      for (const b of sources) sink ^= (await read(b))[0];
    });
  }

  // ---- gpu: the cost of waiting for the device's verdict on a new large buffer ----
  for (const [way, checkAbove] of [['checked', gpu.pool.checkAbove], ['unchecked', Infinity]] as const) {
    bench.add(`gpu new 1 MiB buffer | ${way}`, async () => {
      gpu.pool.checkAbove = checkAbove;
      gpu.emptyCache();
      const b = gpu.alloc(MiB);
      gpu.run('binary', [x, x], b, add);
      sink ^= (await gpu.read(b, 4))[0];
      gpu.free(b);
      gpu.pool.checkAbove = 2 ** 20;
    });
  }
}

// ---- cpu allocator: slab vs bump-and-reset vs first-fit ----
const SIZES = Array.from({ length: 64 }, (_, i) => [16, 100, 256, 1000, 4096, 12000, 40000, 3][i % 8] + (i * 37) % 64);
const grow = (top: { end: number }) => (bytes: number) => (top.end += Math.ceil(bytes / 65536) * 65536);
const slab = new SlabHeap(1024, 65536, grow({ end: 65536 }));
const firstFit = new FreeListHeap(1024, 65536, grow({ end: 65536 }));
class BumpArena {
  top = 1024;
  alloc(bytes: number): number { const at = this.top; this.top += alignUp(Math.max(bytes, 16)); return at; }
  reset(): void { this.top = 1024; }
}
const bump = new BumpArena();
const ptrs = new Array<number>(SIZES.length);
bench.add('cpu | slab', () => {
  for (let i = 0; i < SIZES.length; i++) ptrs[i] = slab.alloc(SIZES[i]);
  for (let i = SIZES.length - 1; i >= 0; i -= 2) slab.free(ptrs[i]); // interleaved order
  for (let i = SIZES.length - 2; i >= 0; i -= 2) slab.free(ptrs[i]);
  sink ^= ptrs[7];
});
bench.add('cpu | bump-and-reset', () => {
  for (let i = 0; i < SIZES.length; i++) ptrs[i] = bump.alloc(SIZES[i]);
  bump.reset();
  sink ^= ptrs[7];
});
bench.add('cpu | first-fit free list', () => {
  for (let i = 0; i < SIZES.length; i++) ptrs[i] = firstFit.alloc(SIZES[i]);
  for (let i = SIZES.length - 1; i >= 0; i -= 2) firstFit.free_(ptrs[i]);
  for (let i = SIZES.length - 2; i >= 0; i -= 2) firstFit.free_(ptrs[i]);
  sink ^= ptrs[7];
});

await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as { latency?: { mean: number; rme: number } };
  return { task: t.name, meanMs: r.latency?.mean ?? NaN, rmePercent: r.latency?.rme ?? NaN };
});
const ms = (name: string) => rows.find((r) => r.task === name)?.meanMs ?? NaN;
const ratios = {
  /** > 1: the pool is that many times faster than a buffer per op. */
  gpuBufferPerOpOverPool: ms('gpu | buffer per op') / ms('gpu | pool'),
  /** The same for allocation alone (no dispatch, no submit). */
  gpuCreateOverPoolAllocOnly: ms('gpu alloc | createBuffer + destroy') / ms('gpu alloc | pool'),
  /** > 1: the ring is that many times faster for 16 reads issued together than a pooled staging buffer per read. */
  gpuReadTogetherPooledOverRing: ms('gpu read x16 together | pooled buffer per read') / ms('gpu read x16 together | ring'),
  gpuReadTogetherCreateOverRing: ms('gpu read x16 together | createBuffer per read') / ms('gpu read x16 together | ring'),
  /** The same for 16 reads awaited one after another (one batch each, so no sharing). */
  gpuReadInTurnPooledOverRing: ms('gpu read x16 in turn | pooled buffer per read') / ms('gpu read x16 in turn | ring'),
  gpuReadInTurnCreateOverRing: ms('gpu read x16 in turn | createBuffer per read') / ms('gpu read x16 in turn | ring'),
  /** > 1: what holding calls until the error scope answers costs on a new 1 MiB buffer. */
  gpuNewBufferCheckedOverUnchecked: ms('gpu new 1 MiB buffer | checked') / ms('gpu new 1 MiB buffer | unchecked'),
  /** The slab's cost as a multiple of the bump arena's (which cannot free single blocks). */
  cpuSlabOverBump: ms('cpu | slab') / ms('cpu | bump-and-reset'),
  /** > 1: the slab is that many times faster than the first-fit list it replaced. */
  cpuFirstFitOverSlab: ms('cpu | first-fit free list') / ms('cpu | slab'),
};
const out = {
  date: new Date().toISOString(), runtime: `node ${process.version}`, adapter: info.gpu?.adapter ?? null,
  note: 'One run; compare ratios, not absolute times. gpu: 64 ops of 1 KiB outputs + one readback per task; 16 reads of 1 KiB per read task; cpu: 64 mixed-size blocks per task.',
  ratios, rows, sink,
};
writeFileSync(new URL('./results/memory.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.table(rows);
console.log(ratios);
shutdown();
