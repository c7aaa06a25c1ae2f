/**
 * Memory statistics and cache control across both engines (PyTorch's torch.cuda.memory_stats,
 * reset_peak_memory_stats and empty_cache). Bytes in use count what allocators handed out,
 * rounded to their size classes; bytes reserved count what was obtained from the system (Wasm
 * linear memory above the module's data; GPU buffers in use, pending, pooled, the upload ring, and
 * the readback chunks, which are pooled buffers).
 */
import { liveTensors } from './lifetime.js';
import { backends } from './runtime.js';

export interface DeviceMemoryStats {
  bytesInUse: number;
  bytesReserved: number;
  peakBytesInUse: number;
  /** Tensors made and not yet disposed on this device. */
  liveTensors: number;
  /** Allocator calls (blocks or buffers asked for, served from a cache or not). */
  allocations: number;
  /** Times memory was obtained from the system: a new slab, a memory.grow, a new GPUBuffer. */
  reservations: number;
}

/** Stats of the cpu engine and of the gpu (null when init() found no adapter). */
export function memoryStats(): { cpu: DeviceMemoryStats; gpu: DeviceMemoryStats | null } {
  const { cpu, gpu } = backends('memoryStats');
  return {
    cpu: { ...cpu.heap.stats, liveTensors: liveTensors('cpu') },
    gpu: gpu ? { ...gpu.pool.stats, liveTensors: liveTensors('gpu') } : null,
  };
}

/** Start the peaks over from the bytes in use now. */
export function resetPeak(): void {
  const { cpu, gpu } = backends('resetPeak');
  cpu.heap.resetPeak();
  gpu?.pool.resetPeak();
}

/**
 * Give cached memory back: idle pooled GPU buffers are destroyed, and empty Wasm slabs return
 * to the heap's free list for blocks of any size (Wasm memory itself cannot shrink). Returns
 * the bytes released on each device.
 */
export function emptyCache(): { cpu: number; gpu: number } {
  const { cpu, gpu } = backends('emptyCache');
  return { cpu: cpu.heap.emptyCache(), gpu: gpu?.emptyCache() ?? 0 };
}
