/** T.nn: modules, layers, attention and losses (PyTorch's torch.nn, camelCase). */
export { Module, parameter } from './module.js';
export { Linear, ReLU, GELU, Tanh, Sigmoid, SiLU, LayerNorm, Embedding, Dropout, Conv2d, MaxPool2d, Flatten, Sequential, uniformParam, type InitOptions } from './layers.js';
export { MultiheadAttention, TransformerBlock, type AttentionOptions, type TransformerBlockOptions } from './attention.js';
export { crossEntropy, mseLoss, binaryCrossEntropyWithLogits, binaryCrossEntropyWithLogits as bceWithLogits, type CrossEntropyOptions, type Reduction } from './losses.js';
export { clipGradNorm } from '../optim/clip.js';
