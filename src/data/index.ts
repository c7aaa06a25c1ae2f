/**
 * `T.data`: datasets, the DataLoader and its per-sample transforms (issue 8).
 * See loader.ts for the pipeline, workers.ts for the threads, transforms.ts for the steps.
 */
export { Dataset, IterableDataset, TensorDataset, type Column, type Item } from './dataset.js';
export { DataLoader, type Batch, type DataLoaderOptions, type EpochStats } from './loader.js';
import { custom, normalize, oneHot, randomCrop, randomFlip } from './transforms.js';
/** The built-in steps for `transform` / `targetTransform`. */
export const transforms = { randomCrop, randomFlip, normalize, oneHot, custom };
export type { Transform } from './transforms.js';
