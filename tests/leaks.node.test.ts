/**
 * Node only (it needs a garbage collector it can trigger): T.debugLeaks reports a tensor that
 * was garbage-collected without dispose(), with the stack where it was made, and stays quiet
 * for disposed ones.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as T from '../src/index.ts';
import './harness.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function makeLeak(): void {
  T.ones([5, 7]); // dropped without dispose
}

test('node: debugLeaks reports tensors collected without dispose, with where they were made', async () => {
  const reports: T.LeakReport[] = [];
  T.debugLeaks((r) => reports.push(r));
  try {
    makeLeak();
    T.ones([3, 3]).dispose();
    for (let i = 0; i < 20 && reports.length === 0; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.is(reports.length, 1, 'one leak, the disposed tensor is not reported');
    assert.match(reports[0].tensor, /\[5, ?7\]/);
    assert.is(reports[0].device, 'cpu');
    assert.match(reports[0].createdAt, /makeLeak/);
  } finally {
    T.debugLeaks(false);
  }
});

test.run();
