// The production loader applies a served model's config to its runner pool: the per-model deadline (a call still
// queued when it passes answers TIMEOUT and never runs) and the split limit (a request of more rows than
// maxBatchSize × maxSplits is refused with LIMIT_EXCEEDED before it is queued).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { saveCrashy, testStore } from '../testing/runner-fixtures.ts';
import { runnerPoolLoader } from './runner-loader.ts';

test('timeoutMs is the deadline of calls that bring none; maxSplits bounds the rows of one request', async (t) => {
  const store = await testStore('runner-loader');
  await saveCrashy(store, 'slow:1', 300);
  const { manifest } = await store.models.store.get('slow:1');
  const load = runnerPoolLoader(store.models.store, { replicas: 1 });
  const model = await load('slow:1', { manifest, config: { name: 'slow', timeoutMs: 200, batching: { maxBatchSize: 4, maxSplits: 2 } } });
  t.after(() => model.close());

  // The first call (with a deadline of its own) holds the only replica for 300 ms; the second, under the model's
  // 200 ms, is still queued when it passes.
  const first = model.call('double', [1], { timeoutMs: 5000 });
  const second = model.call('double', [2]).then(() => 'answered', (err: unknown) => err);
  const timedOut = await second;
  assert.ok(isTiffinError(timedOut, 'TIMEOUT'), `expected TIMEOUT, got ${String(timedOut)}`);
  assert.deepEqual(await first, [2], 'a call that started within its deadline answers');
  const running = await model.call('double', [3]).catch((err: unknown) => err);
  assert.ok(isTiffinError(running, 'TIMEOUT'), 'a call past the deadline while it runs answers TIMEOUT too');

  assert.deepEqual(await model.call('double', [1, 2, 3, 4, 5, 6, 7, 8], { timeoutMs: 5000 }), [2, 4, 6, 8, 10, 12, 14, 16], '8 rows = 2 batches of 4');
  const tooMany = await model.call('double', [1, 2, 3, 4, 5, 6, 7, 8, 9]).catch((err: unknown) => err);
  assert.ok(isTiffinError(tooMany, 'LIMIT_EXCEEDED'), `expected LIMIT_EXCEEDED, got ${String(tooMany)}`);
  assert.match(tooMany.message, /9 rows.*batching\.maxSplits/);
  assert.equal(tooMany.status, 413);
});
