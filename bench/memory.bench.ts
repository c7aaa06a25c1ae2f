/**
 * Memory benchmark, one run, ratios only (speed on this machine is not the point):
 * - gpu: 64 ops (one batch), each allocating its 1 KiB output (small, so allocation is not
 *   hidden behind SwiftShader's arithmetic), running an add into it and freeing it, then
 *   one 4-byte readback: through the pool vs a GPUBuffer created per op (destroyed after the
 *   batch's submit, the least a buffer-per-op scheme can do) on the same device; and the
 *   allocation alone (64 buffers obtained and given back) both ways.
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
const OPS = 64, FLOATS = 256, BYTES = FLOATS * 4;
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
let sink = 0;
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
  /** The slab's cost as a multiple of the bump arena's (which cannot free single blocks). */
  cpuSlabOverBump: ms('cpu | slab') / ms('cpu | bump-and-reset'),
  /** > 1: the slab is that many times faster than the first-fit list it replaced. */
  cpuFirstFitOverSlab: ms('cpu | first-fit free list') / ms('cpu | slab'),
};
const out = {
  date: new Date().toISOString(), runtime: `node ${process.version}`, adapter: info.gpu?.adapter ?? null,
  note: 'One run; compare ratios, not absolute times. gpu: 64 ops of 1 KiB outputs + one readback per task; cpu: 64 mixed-size blocks per task.',
  ratios, rows, sink,
};
writeFileSync(new URL('./results/memory.json', import.meta.url), JSON.stringify(out, null, 2) + '\n');
console.table(rows);
console.log(ratios);
shutdown();
