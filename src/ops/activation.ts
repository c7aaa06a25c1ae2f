/**
 * Activations a matmul can apply in its epilogue (T.linear's `activation`), one row each:
 * `id` is what the Wasm kernels receive (assembly/gemm_desc.ts ACT_*; the branch lives in
 * assembly/gemm_ukernel.ts `activate`), `wgsl` an f32 expression in `a` spliced into
 * kernels/matmul_common.wgsl, `ref` the oracle. Rows reuse the elementwise spec where the op
 * exists there, so a fused relu and T.relu agree (NaN kept, -0 kept).
 * Hook: a new activation is a row here plus a branch in `activate` / `activateScalar`.
 */
import { UNARY } from './elementwise-spec.js';

export interface ActivationSpec {
  id: number;
  ref(a: number): number;
  wgsl: string;
}

export const ACTIVATIONS = {
  none: { id: 0, ref: (a) => a, wgsl: 'a' },
  relu: { id: 1, ref: UNARY.relu.ref, wgsl: UNARY.relu.wgsl },
} satisfies Record<string, ActivationSpec>;

export type Activation = keyof typeof ACTIVATIONS;
