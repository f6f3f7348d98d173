import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { startRetention } from './retention.ts';
import { TaskStore } from './task-store.ts';

it('startRetention sweeps at once, keeping recent and unfinished tasks', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-retention-'));
  let now = Date.now() - 10_000;
  const store = new TaskStore(dir, { now: () => now });
  try {
    const old = store.submit('t', {});
    store.transition(old.id, 'cancelled');
    now = Date.now();
    const fresh = store.submit('t', {});
    store.transition(fresh.id, 'cancelled');
    const waiting = store.submit('t', {});
    const stop = startRetention(store, 5_000);
    stop();
    assert.equal(store.get(old.id), undefined);
    assert.ok(store.get(fresh.id));
    assert.ok(store.get(waiting.id));
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
