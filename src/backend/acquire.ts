/**
 * Finding a WebGPU device. Browsers and Deno have `navigator.gpu`. Node gets it from the
 * `webgpu` package (Dawn), loaded lazily so importing Tandem never fails without it.
 *
 * On a Linux machine with no GPU, Dawn finds no adapter; Tandem then points the Vulkan loader
 * at the SwiftShader driver that Chromium ships (VK_ICD_FILENAMES) and starts a second Dawn
 * instance, which reads the environment afresh. Quirks:
 * - Chromium also ships its own libvulkan.so.1, which the system may lack. Dawn dlopens the
 *   loader by soname, so we preload Chromium's copy with RTLD_GLOBAL | RTLD_NODELETE (Node
 *   does not export RTLD_NODELETE; 0x1000 is glibc's value). Node reports "did not
 *   self-register" because it is not an addon, but the library stays loaded.
 * - Dawn's GPU object must stay referenced while any work can be pending, or Dawn's event
 *   loop crashes the process: the caller keeps `keepAlive` for the device's lifetime.
 */
export interface GPUInfo {
  adapter: string;
  fallback: boolean;
  features: string[];
}

export interface Acquired {
  device: GPUDevice;
  info: GPUInfo;
  keepAlive: unknown[];
}

/** Where Debian, Ubuntu and Fedora packages of Chromium put SwiftShader's Vulkan ICD. */
const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
];

type NodeProcess = {
  env: Record<string, string | undefined>;
  platform: string;
  versions?: { node?: string };
  dlopen(module: { exports: unknown }, filename: string, flags?: number): void;
  getBuiltinModule?(id: string): unknown;
};

export async function acquireGPU(): Promise<Acquired | null> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return fromGPU(nav.gpu, []);
  const proc = (globalThis as { process?: NodeProcess }).process;
  if (proc?.versions?.node) return acquireNode(proc);
  return null;
}

async function fromGPU(gpu: GPU, keepAlive: unknown[]): Promise<Acquired | null> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) return null;
  const device = await adapter.requestDevice({
    // f16 kernels use native f16 storage where they can (wgsl-half.ts), packed words elsewhere;
    // the row kernels fold with subgroup operations where they can (wgsl-group.ts); the trace
    // times gpu batches with timestamp queries where it can (gpu-timestamps.ts).
    requiredFeatures: (['shader-f16', 'subgroups', 'timestamp-query'] as const).filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
    },
  });
  const ai = adapter.info;
  const name = ai.description || [ai.vendor, ai.architecture, ai.device].filter(Boolean).join(' ') || 'unknown adapter';
  const fallback = (ai as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|software/i.test(`${name} ${ai.architecture}`);
  return { device, info: { adapter: name, fallback, features: [...adapter.features].sort() }, keepAlive: [...keepAlive, adapter] };
}

async function acquireNode(proc: NodeProcess): Promise<Acquired | null> {
  let create: (flags: string[]) => GPU;
  try {
    ({ create } = (await import('webgpu')) as unknown as { create: typeof create });
  } catch {
    return null; // the optional Dawn binding is not installed
  }
  const linux = proc.platform === 'linux';
  const chosen = proc.env.VK_ICD_FILENAMES ?? proc.env.VK_DRIVER_FILES;
  const userChoseDriver = chosen !== undefined;
  const systemVulkan = linux && hasSystemVulkan(proc);
  if (linux && userChoseDriver && !systemVulkan) {
    // A driver named without a loader on the system, e.g. inherited by a child of a process
    // where Tandem pointed at SwiftShader: load the libvulkan.so.1 shipped beside the driver.
    chosen.split(':').some((icd) => preload(proc, icd.replace(/[^/]+$/, 'libvulkan.so.1')));
  }
  if (!linux || userChoseDriver || systemVulkan) {
    const gpu = create([]);
    const got = await fromGPU(gpu, [gpu]);
    if (got || !linux || userChoseDriver) return got;
  }
  const icd = await findSwiftShader();
  if (!icd) return null;
  proc.env.VK_ICD_FILENAMES = icd;
  proc.env.XDG_RUNTIME_DIR ??= await tmpDir();
  if (!systemVulkan) preload(proc, icd.replace(/[^/]+$/, 'libvulkan.so.1'));
  const gpu = create([]);
  return fromGPU(gpu, [gpu]);
}

const RTLD_NOW = 2, RTLD_GLOBAL = 0x100, RTLD_NODELETE = 0x1000;

/** True when the dynamic linker can find a Vulkan loader by soname (or one is preloaded). */
function hasSystemVulkan(proc: NodeProcess): boolean {
  return preload(proc, 'libvulkan.so.1');
}

function preload(proc: NodeProcess, file: string): boolean {
  try {
    proc.dlopen({ exports: {} }, file, RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE);
    return true;
  } catch (e) {
    // Loaded but not a Node addon: exactly what we want.
    return /did not self-register/.test(String((e as Error).message));
  }
}

async function findSwiftShader(): Promise<string | null> {
  const fs = (await import('node:fs')) as typeof import('node:fs');
  return SWIFTSHADER_ICDS.find((p) => fs.existsSync(p)) ?? null;
}

async function tmpDir(): Promise<string> {
  const os = (await import('node:os')) as typeof import('node:os');
  return os.tmpdir();
}
