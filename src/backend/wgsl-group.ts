/**
 * Workgroup folds for the row kernels (reduce and argreduce rows, softmax, layerNorm,
 * crossEntropy): one workgroup of 256 invocations per row, each invocation folds its strided
 * share of the row, then a *group fold* combines the 256 partials. The fold is one template in
 * two variants, chosen when the program is generated and named in its key (`group`):
 *   tree      kernels/group_tree.wgsl: a tree in workgroup memory, on every adapter.
 *   subgroup  kernels/group_subgroup.wgsl: subgroup operations, then one value per subgroup
 *             through workgroup memory; where the device has `subgroups` and the runtime's
 *             WGSL front end accepts `enable subgroups` (Deno's rejects it: "not yet supported
 *             in Naga").
 * A kernel names the folds it calls (`GroupFold`) and `withGroupFolds` appends their code
 * (and puts `enable subgroups;` first).
 */
import { WGSL } from '../gen/wgsl.js';

export type GroupVariant = 'tree' | 'subgroup';

/**
 * One fold a kernel calls as `name(lid, x) -> type`. `combine` (a WGSL expression over a and
 * b) must be associative and commutative: the variants fold in different orders. `identity`
 * is its identity (an expression; it may read the kernel's uniform P, as -inf must be).
 * `subgroup` is the body of `fn nameSubgroup(v) -> type`: combine over the subgroup's lanes.
 */
export interface GroupFold { name: string; type: string; combine: string; identity: string; subgroup: string }

/** Sum (f32 or a float vector), max and min; max and min take their identity from the kernel. */
export const sumFold = (name: string, type = 'f32'): GroupFold =>
  ({ name, type, combine: 'a + b', identity: `${type}()`, subgroup: 'return subgroupAdd(v);' });
export const maxFold = (name: string, identity: string): GroupFold =>
  ({ name, type: 'f32', combine: 'max(a, b)', identity, subgroup: 'return subgroupMax(v);' });
export const minFold = (name: string, identity: string): GroupFold =>
  ({ name, type: 'f32', combine: 'min(a, b)', identity, subgroup: 'return subgroupMin(v);' });

/**
 * Whether a device may run subgroup programs: it was created with `subgroups`, and the runtime
 * is not Deno, whose WGSL front end rejects `enable subgroups` even then.
 */
export function subgroupsUsable(features: { has(name: string): boolean }, deno = 'Deno' in globalThis): boolean {
  return features.has('subgroups') && !deno;
}

export const groupVariant = (subgroups: boolean | undefined): GroupVariant => (subgroups ? 'subgroup' : 'tree');

/** `code` with the folds' functions appended, their workgroup memory declared once per type. */
export function withGroupFolds(variant: GroupVariant, code: string, folds: GroupFold[]): string {
  const scratch = (type: string) => `groupScratch_${type.replace(/\W+/g, ' ').trim().replaceAll(' ', '_')}`;
  const out = variant === 'subgroup' ? ['enable subgroups;', code, 'var<workgroup> groupSlots: array<atomic<u32>, 2>;', 'var<private> groupCalls: u32;'] : [code];
  for (const type of new Set(folds.map((f) => f.type))) out.push(`var<workgroup> ${scratch(type)}: array<${type}, 256>;`);
  for (const f of folds) {
    out.push(`fn ${f.name}Combine(a: ${f.type}, b: ${f.type}) -> ${f.type} { return ${f.combine}; }`);
    if (variant === 'subgroup') out.push(`fn ${f.name}Subgroup(v: ${f.type}) -> ${f.type} {\n  ${f.subgroup}\n}`);
    out.push(WGSL[variant === 'subgroup' ? 'group_subgroup' : 'group_tree']
      .replaceAll('{{NAME}}', f.name).replaceAll('{{T}}', f.type).replaceAll('{{SCRATCH}}', scratch(f.type)).replaceAll('{{IDENTITY}}', f.identity));
  }
  return out.join('\n\n');
}
