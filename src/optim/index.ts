/** T.optim: optimizers with fused in-place updates, gradient clipping and learning-rate schedules. */
export { Optimizer, SGD, Adam, AdamW, type SGDOptions, type AdamOptions } from './optimizer.js';
export { clipGradNorm } from './clip.js';
export { LRScheduler, StepLR, CosineAnnealingLR, LinearLR, LambdaLR, SequentialLR } from './schedule.js';
