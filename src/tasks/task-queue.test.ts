import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { TaskQueue } from './task-queue.ts';
import { TaskStore } from './task-store.ts';

async function until(check: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await delay(5);
  }
}

describe('TaskQueue', () => {
  let dir: string;
  let store: TaskStore;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tiffin-queue-')); store = new TaskStore(dir); });
  afterEach(() => { store.close(); rmSync(dir, { recursive: true, force: true }); });

  it('runs FIFO within its concurrency', async () => {
    const order: number[] = [];
    let active = 0;
    let peak = 0;
    const q = new TaskQueue({ task: 't', store, concurrency: 2, run: async (input) => {
      active++; peak = Math.max(peak, active);
      order.push((input as { n: number }).n);
      await delay(20);
      active--;
      return (input as { n: number }).n * 2;
    } });
    const ids = [1, 2, 3, 4, 5].map((n) => store.submit('t', { n }).id);
    q.pump();
    await until(() => ids.every((id) => store.get(id)?.status === 'done'));
    assert.deepEqual(order, [1, 2, 3, 4, 5]);
    assert.equal(peak, 2);
    assert.equal(store.result(ids[4]!), 10);
  });

  it('cancels pending and running tasks; retries a failed one', async () => {
    let fail = true;
    const q = new TaskQueue({ task: 't', store, run: async (input, signal) => {
      if ((input as { slow?: boolean }).slow) await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
      if (fail) throw new Error('boom');
      return 'ok';
    } });
    const slow = store.submit('t', { slow: true });
    const queued = store.submit('t', {});
    q.pump();
    await until(() => store.get(slow.id)?.status === 'running');
    assert.equal(q.cancel(queued.id).status, 'cancelled');
    assert.equal(q.cancel(slow.id).status, 'cancelled');
    const bad = store.submit('t', {});
    q.pump();
    await until(() => store.get(bad.id)?.status === 'failed');
    assert.equal(store.get(bad.id)?.error?.message, 'boom');
    fail = false;
    q.retry(bad.id);
    await until(() => store.get(bad.id)?.status === 'done');
    assert.equal(store.get(bad.id)?.attempts, 2);
    assert.throws(() => q.retry(bad.id), { code: 'TASK_STATE_CONFLICT' });
    assert.throws(() => q.cancel('nope'), { code: 'TASK_NOT_FOUND' });
  });

  it('applies onRestart to tasks left running', () => {
    const a = store.submit('t', {});
    const b = store.submit('u', {});
    store.transition(a.id, 'running');
    store.transition(b.id, 'running');
    const never = async () => new Promise<never>(() => {});
    new TaskQueue({ task: 't', store, onRestart: 'retry', run: never }).recover();
    new TaskQueue({ task: 'u', store, onRestart: 'fail', run: never }).recover();
    assert.equal(store.get(a.id)?.status, 'running', 'retried and started again');
    assert.equal(store.get(a.id)?.attempts, 2);
    assert.equal(store.get(b.id)?.status, 'failed');
    assert.match(store.get(b.id)?.error?.message ?? '', /restarted/);
  });
});
