// Entry of the Wasm module. Kernels take raw pointers into the imported memory, which JS
// owns and lays out (src/backend/wasm.ts); nothing here allocates. Static data, if any,
// sits below __heap_base, which JS reads to know where its heap may start.
export * from './gen/elementwise';
export * from './reduce';
export * from './matmul';
export * from './copy';
export * from './softmax';
export * from './gather';
export * from './where';
export * from './convert';
export * from './preprocess';
export * from './optim';
export * from './amp';
export { f32_gemm, f32_gemm__scalar, f32_gemm_workspace_bytes } from './gemm';
export * from './im2col';
export * from './col2im';
export * from './maxpool';
export { f32_peak_madd } from './peak'; // for the benchmark's fraction-of-peak column

export function heapBase(): usize {
  return __heap_base;
}

/** 1 in the relaxed-SIMD build (asc --enable relaxed-simd), else 0. */
export function relaxedSimd(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
