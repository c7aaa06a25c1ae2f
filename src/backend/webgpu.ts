/**
 * The `gpu` backend: WGSL programs on a WebGPU device. Each `run` encodes one dispatch and
 * submits it at once (batched submits and a buffer pool come with the scheduler and memory
 * issues), so queue order is call order and the seam's ordering guarantee holds.
 *
 * Errors are never silent: validation errors the device reports, and a lost device, are kept
 * and thrown as typed errors from the next call that touches the device.
 */
import { DeviceError, GPUKernelError, OutOfMemoryError } from '../errors.js';
import type { Backend, KernelName, KernelParams } from './backend.js';
import { GPUIndexErrors } from './gpu-index-errors.js';
import { GPU_KERNELS, type GridLimits, PROGRAMS, type Program } from './wgsl-programs.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const STORAGE = 0x80, UNIFORM = 0x40, COPY_SRC = 0x04, COPY_DST = 0x08, MAP_READ = 0x01;
const MAP_MODE_READ = 0x1;

export interface GPUBuf { buffer: GPUBuffer; bytes: number }

function copyPadded(data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

export class WebGPUBackend implements Backend<GPUBuf> {
  readonly kind = 'gpu' as const;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly limits: GridLimits;
  private error: string | null = null;
  private lostReason: string | null = null;
  /** Flags of kernels that index by data; their IndexErrors surface from the next read(). */
  private readonly indexErrors: GPUIndexErrors;

  /** @param keepAlive objects that must outlive the device (Dawn's GPU object in Node). */
  constructor(readonly device: GPUDevice, private readonly keepAlive: unknown[] = []) {
    this.limits = { maxWorkgroupsPerDim: device.limits.maxComputeWorkgroupsPerDimension };
    this.indexErrors = new GPUIndexErrors(device);
    device.addEventListener('uncapturederror', (ev) => {
      this.error ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
    void device.lost.then((info) => {
      this.lostReason = `${info.reason}: ${info.message}`;
    });
  }

  get lost(): boolean { return this.lostReason !== null; }

  alloc(bytes: number): GPUBuf {
    this.check();
    // Bindings must be non-empty and 4-byte multiples; a zero-sized tensor still gets 4 bytes.
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    // Kernels bind whole buffers, so the binding limit is the real cap, not maxBufferSize.
    const cap = Math.min(this.device.limits.maxBufferSize, this.device.limits.maxStorageBufferBindingSize);
    if (size > cap) throw new OutOfMemoryError(`gpu: a buffer of ${bytes} bytes exceeds this adapter's limit of ${cap} bytes per storage binding`);
    return { buffer: this.device.createBuffer({ size, usage: STORAGE | COPY_SRC | COPY_DST }), bytes };
  }

  free(buf: GPUBuf): void {
    // Work already submitted keeps the buffer alive until it completes (WebGPU semantics).
    buf.buffer.destroy();
  }

  write(buf: GPUBuf, data: ArrayBufferView): void {
    this.check();
    if (data.byteLength === 0) return;
    // writeBuffer wants a 4-byte multiple; pad odd-sized host data (u8, f16) through a copy.
    const padded = data.byteLength % 4 === 0 ? data : copyPadded(data);
    this.device.queue.writeBuffer(buf.buffer, 0, padded.buffer as ArrayBuffer, padded.byteOffset, padded.byteLength);
  }

  async read(buf: GPUBuf, bytes: number): Promise<Uint8Array> {
    this.check();
    if (bytes === 0) return new Uint8Array(0);
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(buf.buffer, 0, staging, 0, size);
    this.device.queue.submit([enc.finish()]);
    const indexError = this.indexErrors.collect(); // IndexErrors of runs issued before this read
    try {
      await staging.mapAsync(MAP_MODE_READ);
      const out = new Uint8Array(staging.getMappedRange().slice(0, bytes));
      staging.unmap();
      this.check();
      const e = await indexError;
      if (e) throw e;
      return out;
    } catch (e) {
      this.check();
      throw e;
    } finally {
      staging.destroy();
    }
  }

  run<K extends KernelName>(kernel: K, inputs: GPUBuf[], output: GPUBuf, params: KernelParams[K]): void {
    this.check();
    if (!GPU_KERNELS.has(kernel)) throw new DeviceError(`gpu: the ${kernel} kernel is not implemented on gpu yet; move the tensor with \`await t.to('cpu')\``);
    const prog = (PROGRAMS[kernel as keyof typeof PROGRAMS] as (p: KernelParams[K], l: GridLimits) => Program)(params, this.limits);
    const pipeline = this.pipeline(prog);
    const uniform = this.device.createBuffer({ size: prog.uniforms.byteLength, usage: UNIFORM | COPY_DST });
    this.device.queue.writeBuffer(uniform, 0, prog.uniforms);
    const buffers = [...inputs.map((b) => b.buffer), output.buffer, uniform];
    if (prog.indexError) buffers.push(this.indexErrors.track(prog.indexError));
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const enc = this.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...prog.grid);
    pass.end();
    this.device.queue.submit([enc.finish()]);
    uniform.destroy();
  }

  destroy(): void {
    this.lostReason ??= 'destroyed: shutdown() was called';
    this.device.destroy();
    this.keepAlive.length = 0;
  }

  private pipeline(prog: Program): GPUComputePipeline {
    const key = JSON.stringify(prog.key);
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: prog.code, label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: prog.entry }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Throw what the device reported since the last check, or that it is lost. */
  private check(): void {
    if (this.lostReason !== null) throw new DeviceError(`gpu: the WebGPU device was lost (${this.lostReason}); re-run init()`);
    if (this.error !== null) {
      const msg = this.error;
      this.error = null;
      throw new GPUKernelError(`gpu: WebGPU reported an error: ${msg}`);
    }
  }
}
