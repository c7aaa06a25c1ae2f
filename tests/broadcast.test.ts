/** Broadcast rules and the collapse into kernel loops. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { broadcastShapes, collapseBroadcast } from '../src/ops/broadcast.ts';
import { ShapeError } from '../src/errors.ts';

test('broadcast: NumPy result shapes', () => {
  assert.equal(broadcastShapes([5, 7], [7], 'add'), [5, 7]);
  assert.equal(broadcastShapes([5, 1], [1, 7], 'add'), [5, 7]);
  assert.equal(broadcastShapes([], [2, 3], 'add'), [2, 3]);
  assert.equal(broadcastShapes([0, 3], [1], 'add'), [0, 3]);
  assert.throws(() => broadcastShapes([2, 3], [4], 'add'), (e: unknown) => e instanceof ShapeError && /\[2, 3\] and \[4\]/.test((e as Error).message));
});

test('broadcast: collapse merges contiguous loops', () => {
  assert.equal(collapseBroadcast([5, 7], [5, 7], [5, 7]), { shape: [35], aStrides: [1], bStrides: [1] });
  assert.equal(collapseBroadcast([5, 7], [5, 7], [7]), { shape: [5, 7], aStrides: [7, 1], bStrides: [0, 1] });
  assert.equal(collapseBroadcast([5, 7], [5, 7], []), { shape: [35], aStrides: [1], bStrides: [0] });
  assert.equal(collapseBroadcast([2, 3, 4], [2, 3, 4], [3, 4]), { shape: [2, 12], aStrides: [12, 1], bStrides: [0, 1] });
  assert.equal(collapseBroadcast([1, 1], [1], [1, 1]), { shape: [1], aStrides: [0], bStrides: [0] });
});

test.run();
