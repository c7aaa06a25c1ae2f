/**
 * The `gpu` backend: WGSL programs on a WebGPU device.
 *
 * Submits: `run` records its dispatch into an open compute pass; the batch is submitted when
 * `batchLimit` dispatches have gathered and at the end of the current task (a microtask), so a
 * burst of ops costs one submit. A `write` is a copy recorded into the batch from the upload
 * ring (src/alloc/staging.ts), or, when the ring cannot take it, a submit and then
 * queue.writeBuffer (a queued write would overtake unsubmitted dispatches). A `read` is a copy
 * recorded into the batch towards the readback ring, so reads issued in one task (a
 * Promise.all of data()) share the batch's submit and one mapAsync.
 *
 * Memory: buffers come from a GPUBufferPool (src/alloc/gpu-pool.ts) and `free` gives them back;
 * the pool keeps a buffer freed while the batch is open out of reach until that batch's submit,
 * so a free never has to submit and reuse never races the GPU. Readback chunks, uniform arenas
 * and index flags use the pool too.
 *
 * Refusals: WebGPU reports an out-of-memory refusal only through an error scope, later, and a
 * refused buffer fails every command buffer that names it. So `alloc` of a new buffer of 1 MiB
 * or more (the pool's `checkAbove`; pool hits and small buffers are not checked) holds later
 * calls, like a compile does, until the device has answered; on a refusal the pool empties its
 * cache and makes the buffer again, which is swapped into the GPUBuf before anything uses it.
 * A second refusal is an OutOfMemoryError, thrown by the next call, and the buffer is *dead*:
 * calls that name it are skipped rather than submitted (which would fail their whole batch),
 * their outputs die too, and reading any of them throws the OutOfMemoryError. A free revives.
 *
 * Pipelines: cached by the JSON of the program's key; a miss compiles with
 * createComputePipelineAsync, one compile per key however many runs wait on it. `run` stays
 * synchronous, so a run whose pipeline is still compiling is *held*: it and every later
 * write, run, free and read are queued in call order and replayed when the pipeline resolves
 * (`read` awaits its turn). Queue order is therefore call order, which is the seam's ordering
 * guarantee, and the JS thread never blocks on a compile (SwiftShader takes ~1.5 s per
 * pipeline). `precompile` (T.warmup) compiles ahead so the first run finds its pipeline ready.
 * A program with a `fallback` (a small matmul) does not wait: while its pipeline compiles in
 * the background, runs use the fallback's, which compiles ~30x faster.
 *
 * Trace: while tracing, each submit makes one span on the `gpu` stream, timed by the GPU's
 * timestamp queries where the device has `timestamp-query`, by the host otherwise
 * (gpu-timestamps.ts). With tracing off, no query set is made and no pass is timed.
 *
 * Errors are never silent: a WGSL compile or pipeline validation error becomes a
 * GPUKernelError naming the program and the WGSL line (getCompilationInfo); validation errors
 * the device reports later, and a lost device, are kept and thrown as typed errors from the
 * next call that touches the device.
 */
import { DeviceError, DeviceLostError, GPUKernelError, type IndexError, OutOfMemoryError, TandemError } from '../errors.js';
import type { Backend, KernelName, KernelParams } from './backend.js';
import { GPUBufferPool, type GPUPoolOptions } from '../alloc/gpu-pool.js';
import { ReadbackRing, UploadRing } from '../alloc/staging.js';
import { GPUIndexErrors } from './gpu-index-errors.js';
import { CONV_DRIVERS } from './conv-driver.js';
import { GPU_KERNELS, type GridLimits, PROGRAMS, type Program } from './wgsl-programs.js';
import { nativeF16 } from './wgsl-half.js';
import { subgroupsUsable } from './wgsl-group.js';
import { span, tracing } from '../sched/trace.js'; // a leaf sink (imports nothing), like errors.js
import { GPUTimestamps, type TimedBatch, hostBatchSpan } from './gpu-timestamps.js';

// GPUBufferUsage / GPUMapMode values from the WebGPU spec; the globals are absent in Node.
const STORAGE = 0x80, UNIFORM = 0x40, COPY_SRC = 0x04, COPY_DST = 0x08;
/** Bytes of one uniform arena: 64 dispatches at the usual 256-byte offset alignment. */
const ARENA = 16384;

export interface GPUBuf { buffer: GPUBuffer; bytes: number }

function copyPadded(data: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(data.byteLength / 4) * 4);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return out;
}

export class WebGPUBackend implements Backend<GPUBuf> {
  readonly kind = 'gpu' as const;
  /** Dispatches per submit; 1 submits every run on its own (the dispatch benchmark compares). */
  batchLimit = 64;
  readonly limits: GridLimits;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly compiling = new Map<string, Promise<GPUComputePipeline | null>>();
  /** Calls held behind a compiling pipeline, and the chain that replays them in order. */
  private held = 0;
  private tail: Promise<void> = Promise.resolve();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private encoded = 0;
  /** The open batch's timestamp queries: set when its encoder opened while tracing. */
  private timed: TimedBatch | null = null;
  /** Null without `timestamp-query`; makes nothing on the device until a batch is timed. */
  readonly timestamps: GPUTimestamps | null;
  /** The uniform arena being filled for the open batch (see `uniformSlot`), and the full ones. */
  private arena: { buffer: GPUBuffer; host: Uint8Array; used: number } | null = null;
  private arenasInBatch: GPUBuffer[] = [];
  /** Every GPUBuffer this backend uses comes from here (see the file comment). */
  readonly pool: GPUBufferPool;
  readonly uploads: UploadRing;
  readonly readbacks: ReadbackRing;
  /** Buffers whose contents were lost to a second refusal (see the file comment), and why. */
  private readonly dead = new Map<GPUBuffer, string>();
  private oom: string | null = null;
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private flushQueued = false;
  private error: string | null = null;
  private kernelError: string | null = null;
  private lostReason: string | null = null;
  /** Flags of kernels that index by data; their IndexErrors surface from the next read(). */
  private readonly indexErrors: GPUIndexErrors;

  /** @param keepAlive objects that must outlive the device (Dawn's GPU object in Node). */
  constructor(readonly device: GPUDevice, private readonly keepAlive: unknown[] = [], poolOptions: GPUPoolOptions = {}) {
    const l = device.limits;
    this.limits = {
      maxWorkgroupsPerDim: l.maxComputeWorkgroupsPerDimension,
      tile: { maxInvocations: l.maxComputeInvocationsPerWorkgroup, maxSizeX: l.maxComputeWorkgroupSizeX, maxSizeY: l.maxComputeWorkgroupSizeY, maxSharedBytes: l.maxComputeWorkgroupStorageSize },
      nativeF16: nativeF16(device.features),
      subgroups: subgroupsUsable(device.features), // tests and benches may set it false: workgroup trees
    };
    this.pool = new GPUBufferPool(device, () => this.encoder !== null, poolOptions);
    this.uploads = new UploadRing(device, 1 << 20, 4, (bytes) => this.pool.reserved(bytes));
    this.readbacks = new ReadbackRing(this.pool);
    this.indexErrors = new GPUIndexErrors(device, this.pool);
    this.timestamps = device.features.has('timestamp-query') ? new GPUTimestamps(device) : null;
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
    const { buffer, settled } = this.pool.acquireChecked(size, STORAGE | COPY_SRC | COPY_DST);
    const buf: GPUBuf = { buffer, bytes };
    if (settled) {
      // Later calls wait for the device's answer, so a replacement is in place before any use.
      this.hold(async () => {
        const got = await settled;
        if (got instanceof OutOfMemoryError) {
          this.dead.set(buffer, got.message);
          this.oom ??= got.message;
        } else {
          buf.buffer = got;
        }
      });
    }
    return buf;
  }

  free(buf: GPUBuf): void {
    // Into the pool, reusable after the submit of any batch that may still read it.
    this.inOrder(() => {
      this.dead.delete(buf.buffer);
      this.pool.release(buf.buffer);
    });
  }

  /** Give idle pooled buffers back to the system (T.emptyCache). */
  emptyCache(): number {
    if (!this.timed) this.timestamps?.release();
    return this.pool.emptyCache();
  }

  write(buf: GPUBuf, data: ArrayBufferView): void {
    this.check();
    if (data.byteLength === 0) return;
    // writeBuffer wants a 4-byte multiple; pad odd-sized host data (u8, f16) through a copy.
    // A held write copies now: the caller may reuse its array before the write replays.
    const padded = data.byteLength % 4 === 0 && this.held === 0 ? data : copyPadded(data);
    this.inOrder(() => {
      if (this.dead.size > 0 && this.dead.has(buf.buffer)) return;
      const staged = this.uploads.stage(padded);
      if (staged) {
        this.endPass();
        this.openEncoder().copyBufferToBuffer(staged.buffer, staged.offset, buf.buffer, 0, Math.ceil(data.byteLength / 4) * 4);
        this.scheduleFlush();
        return;
      }
      this.flush();
      // Dawn's Node binding refuses views of a SharedArrayBuffer (the cpu engine's memory when
      // it is shared with workers): hand it a private copy.
      const own = typeof SharedArrayBuffer !== 'undefined' && padded.buffer instanceof SharedArrayBuffer ? copyPadded(padded) : padded;
      this.device.queue.writeBuffer(buf.buffer, 0, own.buffer as ArrayBuffer, own.byteOffset, own.byteLength);
    });
  }

  async read(buf: GPUBuf, bytes: number): Promise<Uint8Array> {
    this.check();
    if (bytes === 0) return new Uint8Array(0);
    let data!: Promise<Uint8Array>;
    let indexError: Promise<IndexError | null> = Promise.resolve(null);
    const copy = () => {
      const lost = this.dead.get(buf.buffer);
      if (lost !== undefined) {
        if (this.oom === lost) this.oom = null; // delivered here, not again by the next call
        throw new OutOfMemoryError(lost);
      }
      // Into the open batch's readback chunk; the batch is submitted at the end of this task.
      const slot = this.readbacks.reserve(bytes);
      this.endPass();
      const encoder = this.openEncoder();
      encoder.copyBufferToBuffer(buf.buffer, 0, slot.buffer, slot.offset, Math.ceil(bytes / 4) * 4);
      indexError = this.indexErrors.collect(this.readbacks, encoder); // of the runs encoded before this read
      data = slot.data;
      this.scheduleFlush();
    };
    try {
      if (this.held === 0) copy();
      else await new Promise<void>((resolve, reject) => this.inOrder(() => { try { copy(); resolve(); } catch (e) { reject(e); } }));
      this.check();
      const out = await data;
      this.check();
      const e = await indexError;
      if (e) throw e;
      return out;
    } catch (e) {
      this.check();
      // A map failed by a destroyed device can reject before device.lost resolves (Dawn: an
      // AbortError; Deno: a validation error): give the loss a moment to be reported.
      if (!(e instanceof TandemError)) await Promise.race([this.device.lost, new Promise((r) => setTimeout(r, 50))]);
      await Promise.resolve();
      this.check();
      throw e;
    }
  }

  run<K extends KernelName>(kernel: K, inputs: GPUBuf[], output: GPUBuf, params: KernelParams[K]): void {
    this.check();
    // Convolutions: im2col + GEMM + col2im through this backend's own run (conv-driver.ts).
    if (Object.hasOwn(CONV_DRIVERS, kernel)) return (CONV_DRIVERS[kernel as keyof typeof CONV_DRIVERS] as (b: this, i: GPUBuf[], o: GPUBuf, p: unknown) => void)(this, inputs, output, params);
    if (!GPU_KERNELS.has(kernel)) throw new DeviceError(`gpu: the ${kernel} kernel is not implemented on gpu yet; move the tensor with \`await t.to('cpu')\``);
    this.dispatch((PROGRAMS[kernel as keyof typeof PROGRAMS] as (p: KernelParams[K], l: GridLimits) => Program)(params, this.limits), inputs, output);
  }

  /**
   * Run a prepared program (bindings: inputs, output, uniforms), with run()'s ordering and
   * errors. For what the kernel table does not name: the matmul ladder's rungs, tests.
   */
  dispatch(prog: Program, inputs: GPUBuf[], output: GPUBuf): void {
    this.check();
    const key = JSON.stringify(prog.key);
    const ready = this.pipelines.get(key);
    if (ready && this.held === 0) return this.encode(ready, prog, inputs, output);
    if (!ready && prog.fallback) {
      this.dispatch(prog.fallback, inputs, output);
      // Then compile this one for later runs (errors surface at the next check()); after the
      // fallback's compile, which an implementation may otherwise queue behind this slow one.
      const fallbackCompile = this.compiling.get(JSON.stringify(prog.fallback.key)) ?? Promise.resolve();
      void fallbackCompile.then(() => { if (this.lostReason === null) void this.compile(prog, key); });
      return;
    }
    const pipeline = ready ? Promise.resolve(ready) : this.compile(prog, key);
    this.hold(async () => {
      const p = await pipeline;
      if (p && this.lostReason === null) this.encode(p, prog, inputs, output);
    });
  }

  /** Compile the pipelines of these programs (each key once); a GPUKernelError if any fails. */
  async precompile(progs: Program[]): Promise<void> {
    this.check();
    const got = await Promise.all(progs.map((p) => {
      const key = JSON.stringify(p.key);
      const ready = this.pipelines.get(key);
      return ready ? Promise.resolve(ready) : this.compile(p, key);
    }));
    if (got.includes(null)) {
      this.check();
      throw new GPUKernelError('gpu: a pipeline failed to compile (its error was thrown by an earlier call)');
    }
  }

  /** True when a pipeline for this program is compiled and cached (for tests and warmup). */
  hasPipeline(prog: Program): boolean { return this.pipelines.has(JSON.stringify(prog.key)); }

  /** Submit the dispatches recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.sealArena();
    this.endPass();
    // The batch's timestamps (resolved into its readback chunk, before the submit), or why not.
    const stamps = !this.timestamps ? 'no timestamp-query on this device'
      : this.timed ? this.timestamps.submitting(this.timed, this.encoder, (bytes) => this.readbacks.reserve(bytes))
      : this.timestamps.broken ?? 'the batch opened before tracing started';
    this.uploads.beforeSubmit();
    const commands = this.encoder.finish();
    const t0 = tracing || typeof stamps !== 'string' ? performance.now() : 0; // the work cannot start before this
    this.device.queue.submit([commands]);
    // After the submit: onSubmittedWorkDone (host spans) covers the work submitted before it.
    if (typeof stamps !== 'string') this.timestamps!.submitted(this.timed!, stamps, t0, this.encoded);
    else if (tracing) hostBatchSpan(this.device.queue, this.encoded, t0, stamps);
    this.encoder = null;
    this.timed = null;
    this.encoded = 0;
    this.uploads.afterSubmit();
    this.readbacks.afterSubmit();
    for (const u of this.arenasInBatch) this.pool.release(u); // the submit boundary: reusable now
    this.arenasInBatch = [];
    this.pool.submitted();
  }

  destroy(): void {
    this.lostReason ??= 'destroyed: shutdown() was called';
    this.encoder = null;
    this.timed = null;
    this.pass = null;
    this.arena = null;
    this.uploads.destroy();
    this.readbacks.destroy(new DeviceError('gpu: shutdown() was called before this read was submitted'));
    this.device.destroy();
    // keepAlive is NOT released here: Dawn still delivers the callbacks of work in flight (a
    // pipeline compile, a map) after destroy(), and if its GPU object is collected first the
    // process deadlocks or crashes in Dawn's event loop (seen with shutdown() during the lazy
    // calibration). It goes with this backend, once nothing in flight refers to it.
  }

  private encode(pipeline: GPUComputePipeline, prog: Program, inputs: GPUBuf[], output: GPUBuf): void {
    if (this.dead.size > 0) {
      const lost = [...inputs, output].map((b) => this.dead.get(b.buffer)).find((m) => m !== undefined);
      if (lost !== undefined) return void this.dead.set(output.buffer, lost);
    }
    const uniform = this.uniformSlot(prog.uniforms);
    const entries: GPUBindGroupEntry[] = [...inputs, output].map((b, binding) => ({ binding, resource: { buffer: b.buffer } }));
    entries.push({ binding: entries.length, resource: uniform });
    // Kernels that index by data get their flag buffer last (gpu-index-errors.ts).
    if (prog.indexError) entries.push({ binding: entries.length, resource: { buffer: this.indexErrors.track(prog.indexError) } });
    let layout = this.layouts.get(pipeline);
    if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
    const bindGroup = this.device.createBindGroup({ layout, entries });
    if (!this.pass) {
      const encoder = this.openEncoder(); // first: it decides whether the batch is timed
      this.pass = encoder.beginComputePass(this.timed ? this.timestamps!.passDescriptor(this.timed) : undefined);
    }
    // Dispatches in one pass are ordered: WebGPU synchronises each dispatch's storage writes
    // with the next one's reads, so a batch behaves like separate submits.
    this.pass!.setPipeline(pipeline);
    this.pass!.setBindGroup(0, bindGroup);
    this.pass!.dispatchWorkgroups(...prog.grid);
    if (++this.encoded >= this.batchLimit) this.flush();
    else this.scheduleFlush();
  }

  private openEncoder(): GPUCommandEncoder {
    if (this.encoder) return this.encoder;
    this.timed = tracing && this.timestamps ? this.timestamps.begin() : null;
    return (this.encoder = this.device.createCommandEncoder());
  }

  /** Close the compute pass so a copy can be recorded between dispatches (in order). */
  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Submit at the end of the current task. */
  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => { this.flushQueued = false; if (this.lostReason === null) this.flush(); });
  }

  /**
   * A slice of a shared uniform buffer for one dispatch: a batch's uniforms go to the GPU in one
   * writeBuffer per ARENA bytes (at seal, before the batch's submit, so queue order holds)
   * instead of a buffer created, written and destroyed per dispatch.
   */
  private uniformSlot(words: Uint32Array): GPUBufferBinding {
    const align = this.device.limits.minUniformBufferOffsetAlignment;
    const size = words.byteLength, span = Math.ceil(size / align) * align;
    if (this.arena && this.arena.used + span > ARENA) this.sealArena();
    this.arena ??= { buffer: this.pool.acquire(Math.max(ARENA, span), UNIFORM | COPY_DST), host: new Uint8Array(Math.max(ARENA, span)), used: 0 };
    const offset = this.arena.used;
    this.arena.host.set(new Uint8Array(words.buffer, words.byteOffset, size), offset);
    this.arena.used += span;
    return { buffer: this.arena.buffer, offset, size };
  }

  private sealArena(): void {
    if (!this.arena) return;
    this.device.queue.writeBuffer(this.arena.buffer, 0, this.arena.host, 0, this.arena.used);
    this.arenasInBatch.push(this.arena.buffer);
    this.arena = null;
  }

  /** One compile per key in flight; resolves null (with the error kept for check()) on failure. */
  private compile(prog: Program, key: string): Promise<GPUComputePipeline | null> {
    const inFlight = this.compiling.get(key);
    if (inFlight) return inFlight;
    this.device.pushErrorScope('validation');
    const t0 = tracing ? performance.now() : 0;
    const module = this.device.createShaderModule({ code: prog.code, label: key });
    const moduleError = this.device.popErrorScope();
    const done = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: prog.entry }, label: key })
      .then((p) => {
        this.pipelines.set(key, p);
        if (tracing) span('compile', prog.entry, 'compile', t0, performance.now(), { key });
        return p;
      }, async (e: unknown) => {
        this.kernelError ??= await describeCompileError(module, prog, key, e, await moduleError.catch(() => null));
        return null;
      })
      .finally(() => this.compiling.delete(key));
    this.compiling.set(key, done);
    return done;
  }

  /** Do `step` now, or after the held calls before it when a compile is holding the queue. */
  private inOrder(step: () => void): void {
    if (this.held === 0) step();
    else this.hold(step);
  }

  private hold(step: () => void | Promise<void>): void {
    this.held++;
    this.tail = this.tail
      .then(step)
      .catch((e: unknown) => { this.kernelError ??= `gpu: a held call failed: ${(e as Error).message ?? e}`; })
      .finally(() => { this.held--; });
  }

  /** Throw what the device reported since the last check, or that it is lost. */
  private check(): void {
    if (this.lostReason !== null) throw new DeviceLostError(`gpu: the WebGPU device was lost (${this.lostReason}); re-run init()`);
    if (this.oom !== null) {
      const msg = this.oom;
      this.oom = null;
      throw new OutOfMemoryError(msg);
    }
    if (this.pool.refused !== null) {
      const msg = this.pool.refused;
      this.pool.refused = null;
      this.pool.emptyCache();
      throw new OutOfMemoryError(msg);
    }
    if (this.kernelError !== null) {
      const msg = this.kernelError;
      this.kernelError = null;
      throw new GPUKernelError(msg);
    }
    if (this.error !== null) {
      const msg = this.error;
      this.error = null;
      throw new GPUKernelError(`gpu: WebGPU reported an error: ${msg}`);
    }
  }
}

/** The compiler's messages with their WGSL line and its text; the pipeline error's otherwise. */
async function describeCompileError(module: GPUShaderModule, prog: Program, key: string, e: unknown, moduleError: GPUError | null): Promise<string> {
  const lines = prog.code.split('\n');
  let where: string[] = [];
  try {
    const info = await module.getCompilationInfo();
    where = info.messages.filter((m) => m.type === 'error').map((m) => `line ${m.lineNum}:${m.linePos}: ${m.message} (\`${lines[m.lineNum - 1]?.trim() ?? ''}\`)`);
  } catch { /* a runtime without getCompilationInfo: the messages below still carry the line */ }
  const detail = where.length ? where.join('; ') : [moduleError?.message, (e as Error)?.message ?? String(e)].filter(Boolean).join('; ');
  return `gpu: the WGSL program ${key} failed to compile: ${detail}`;
}
