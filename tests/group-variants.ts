/**
 * The group folds the row kernels are tested with (src/backend/wgsl-group.ts): the test
 * backend as init() made it, which folds with subgroups where the device has them, and a
 * second backend on the same device with subgroups turned off, which folds with the workgroup
 * tree. Where the device has no usable subgroups, only the tree runs, and this says so on the
 * console (gpu-group.test.ts asserts when that is allowed); nothing is reported as subgroup
 * that did not run as subgroup.
 */
import type { Backend } from '../src/backend/backend.ts';
import type { GroupVariant } from '../src/backend/wgsl-group.ts';
import { WebGPUBackend } from '../src/backend/webgpu.ts';
import { RUNTIME, info } from './harness.ts';
import { gpu } from './seam.ts';

/** Row lengths: 0 where allowed is added by the tests; 1, tails of 4-lane subgroups, of 32 and of the 256 lanes, primes. */
export const ROW_SIZES = [1, 2, 3, 5, 7, 16, 31, 32, 33, 63, 64, 65, 255, 256, 257, 1000, 1031, 4099];

export const GROUP_BACKENDS: [GroupVariant, Backend][] = [];
if (gpu) {
  const device = gpu as WebGPUBackend;
  if (device.limits.subgroups) GROUP_BACKENDS.push(['subgroup', device]);
  else console.log(`${RUNTIME}: webgpu: no usable subgroups (adapter ${info.gpu?.adapter}, features: ${info.gpu?.features.includes('subgroups') ? 'subgroups listed but not usable in this runtime' : 'no subgroups'}): the row kernels are tested with the workgroup tree only`);
  const tree = new WebGPUBackend(device.device);
  tree.limits.subgroups = false;
  GROUP_BACKENDS.push(['tree', tree]);
}
