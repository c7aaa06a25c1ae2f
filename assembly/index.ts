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
export * from './optim';

export function heapBase(): usize {
  return __heap_base;
}
