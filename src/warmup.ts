/**
 * T.warmup: compile ahead the GPU pipelines a list of kernel calls will need, so the first real
 * call finds its pipeline ready instead of holding the queue behind a compile (~1.5 s per
 * pipeline on SwiftShader, tens of ms on a hardware GPU). An op is named by its kernel and the
 * kernel's params as the backend seam takes them (KernelParams in backend/backend.ts), e.g.
 *   await T.warmup([{ op: 'matmul', m: 64, k: 784, n: 256, transposeB: true, bias: true, activation: 'relu' }])
 * Shapes travel in uniforms, so any shape that selects the same program warms it: for matmul,
 * what matters is the rung (m = 1 or n = 1 selects gemv), bias and activation.
 * Without a GPU this does nothing; a name that is no gpu kernel is a DeviceError; a program that does
 * not compile is a GPUKernelError naming its WGSL line.
 */
import type { KernelName, KernelParams } from './backend/backend.js';
import type { WebGPUBackend } from './backend/webgpu.js';
import { GPU_KERNELS, type GridLimits, PROGRAMS, type Program } from './backend/wgsl-programs.js';
import { DeviceError } from './errors.js';
import { backendFor, info } from './runtime.js';

export type WarmupOp = { [K in KernelName]: { op: K } & KernelParams[K] }[KernelName];

/** Resolves with how many distinct pipelines the ops need, once all of them are compiled. */
export async function warmup(ops: WarmupOp[]): Promise<{ pipelines: number }> {
  if (!info().gpu) return { pipelines: 0 };
  const gpu = backendFor('gpu', 'warmup') as WebGPUBackend;
  const progs = new Map<string, Program>();
  for (const { op, ...params } of ops) {
    if (!GPU_KERNELS.has(op)) throw new DeviceError(`warmup: ${JSON.stringify(op)} is not a gpu kernel (known: ${[...GPU_KERNELS].join(', ')})`);
    const prog = (PROGRAMS[op as keyof typeof PROGRAMS] as (p: unknown, l: GridLimits) => Program)(params, gpu.limits);
    progs.set(JSON.stringify(prog.key), prog);
  }
  await gpu.precompile([...progs.values()]);
  return { pipelines: progs.size };
}
