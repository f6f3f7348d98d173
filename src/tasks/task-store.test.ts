import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { canMove, isFinished } from './task-state.ts';
import { TaskStore } from './task-store.ts';

describe('task state machine', () => {
  it('allows only the documented moves', () => {
    assert.ok(canMove('pending', 'running'));
    assert.ok(canMove('pending', 'cancelled'));
    assert.ok(canMove('running', 'done'));
    assert.ok(canMove('failed', 'pending'));
    assert.ok(!canMove('done', 'pending'));
    assert.ok(!canMove('pending', 'done'));
    assert.ok(!canMove('cancelled', 'running'));
    assert.ok(isFinished('failed') && !isFinished('running'));
  });
});

describe('TaskStore', () => {
  let dir: string;
  let clock = 1_000;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'tiffin-tasks-')); clock = 1_000; });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const open = (inlineLimit?: number) => new TaskStore(dir, { now: () => clock, ...(inlineLimit ? { inlineLimit } : {}) });

  it('keeps a submitted task across a reopen, FIFO', () => {
    const a = open();
    const t1 = a.submit('sum', { n: 1 });
    const t2 = a.submit('sum', { n: 2 });
    a.close();
    const b = open();
    assert.deepEqual(b.pending('sum', 10).map((t) => t.id), [t1.id, t2.id]);
    assert.equal(b.get(t1.id)?.input, '{"n":1}');
    b.close();
  });

  it('runs a task to done, counting attempts, and returns its result', () => {
    const s = open();
    const t = s.submit('sum', {});
    assert.equal(s.transition(t.id, 'running')?.attempts, 1);
    assert.equal(s.transition(t.id, 'running'), undefined, 'running twice is refused');
    const done = s.transition(t.id, 'done', { result: { total: 3 } });
    assert.equal(done?.status, 'done');
    assert.deepEqual(s.result(t.id), { total: 3 });
    assert.equal(s.transition(t.id, 'pending'), undefined, 'a done task cannot be retried');
    s.close();
  });

  it('stores large results as files and deletes them with the row', () => {
    const s = open(16);
    const t = s.submit('big', {});
    s.transition(t.id, 'running');
    s.transition(t.id, 'done', { result: { text: 'x'.repeat(100) } });
    assert.equal(readdirSync(join(dir, 'results')).length, 1);
    assert.equal((s.result(t.id) as { text: string }).text.length, 100);
    clock += 10;
    assert.equal(s.purge(clock), 1);
    assert.equal(s.get(t.id), undefined);
    assert.equal(readdirSync(join(dir, 'results')).length, 0);
    s.close();
  });

  it('retention deletes only finished tasks older than the cut-off', () => {
    const s = open();
    const old = s.submit('t', {});
    s.transition(old.id, 'cancelled');
    const pending = s.submit('t', {});
    clock = 5_000;
    const recent = s.submit('t', {});
    s.transition(recent.id, 'running');
    s.transition(recent.id, 'failed', { error: { code: 'HANDLER_FAILED', message: 'boom' } });
    assert.equal(s.purge(4_000), 1);
    assert.equal(s.get(old.id), undefined);
    assert.ok(s.get(pending.id));
    assert.deepEqual(s.get(recent.id)?.error, { code: 'HANDLER_FAILED', message: 'boom' });
    s.close();
  });

  it('lists tasks left running by a crash', () => {
    const a = open();
    const t = a.submit('t', {});
    a.transition(t.id, 'running');
    a.close(); // as if the process died here
    const b = open();
    assert.deepEqual(b.interrupted().map((r) => r.id), [t.id]);
    assert.equal(b.transition(t.id, 'pending')?.status, 'pending');
    assert.ok(existsSync(join(dir, 'tasks.db')));
    b.close();
  });
});
