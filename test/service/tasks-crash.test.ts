// The tasks crash test: 50 tasks submitted to a real `tiffin serve` process, which is killed with SIGKILL while
// they run; a second process on the same task store finishes them. Every task ends done (with the right result)
// or failed with a reason; none is lost; a task whose handler completed twice was retried (attempts > 1).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTiffin } from '../../src/testing/cli-process.ts';
import { FIXTURES, postJson, storeWithAdder } from './helpers.ts';

const SERVICE = join(FIXTURES, 'task-service.ts');
// The CLI from source with bin/tiffin.js's V8 flags given up front, so that no re-executed child sits between the
// test and the server: SIGKILL reaches the server itself (bin/tiffin.js's child would shut down gracefully).
const FROM_SOURCE = {
  bin: fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url)),
  nodeArgs: ['--import', import.meta.resolve('tsx'), '--no-allocation-site-pretenuring', '--no-parallel-scavenge'],
};

function completions(log: string): string[] {
  return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
}

test('SIGKILL mid-run loses no task: after a restart every task ends done or failed with a reason', async (t) => {
  const { home } = await storeWithAdder(t);
  const work = mkdtempSync(join(tmpdir(), 'tiffin-task-crash-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const log = join(work, 'completions.log');
  const env = { TIFFIN_HOME: home, TIFFIN_TASKS_DIR: join(work, 'tasks'), TASK_LOG: log, TIFFIN_LOG_LEVEL: 'warn' };
  const args = ['serve', SERVICE, '--port', '0', '--no-grpc'];

  const first = startTiffin(t, args, { cwd: work, env, ...FROM_SOURCE });
  const [, url1] = await first.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  const submitted: { id: string; a: number; b: number }[] = [];
  for (let i = 0; i < 50; i++) {
    const res = await postJson(`${url1}/add/submit`, { a: i, b: 1000, ms: 60 });
    assert.equal(res.status, 202, first.output());
    submitted.push({ id: ((await res.json()) as { task_id: string }).task_id, a: i, b: 1000 });
  }
  // Kill it with work done, work running and work pending.
  const end = Date.now() + 20_000;
  while (completions(log).length < 12) {
    assert.ok(Date.now() < end, `tasks did not start: ${first.output()}`);
    await delay(10);
  }
  first.child.kill('SIGKILL');
  await first.exit;
  const beforeKill = completions(log).length;
  assert.ok(beforeKill < 50, `the kill came too late (${beforeKill} of 50 done)`);

  const second = startTiffin(t, args, { cwd: work, env, ...FROM_SOURCE });
  const [, url2] = await second.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  const states = new Map<string, { status: string; attempts: number; error?: { code: string; message: string } }>();
  const deadline = Date.now() + 30_000;
  for (const task of submitted) {
    for (;;) {
      const res = await fetch(`${url2}/add/status?task_id=${task.id}`);
      assert.equal(res.status, 200, `task ${task.id} was lost: ${res.status}`);
      const s = (await res.json()) as { status: string; attempts: number; error?: { code: string; message: string } };
      if (s.status === 'done' || s.status === 'failed') {
        states.set(task.id, s);
        break;
      }
      assert.ok(Date.now() < deadline, `task ${task.id} still ${s.status}: ${second.output()}`);
      await delay(20);
    }
  }

  const count = new Map<string, number>();
  for (const id of completions(log)) count.set(id, (count.get(id) ?? 0) + 1);
  let interrupted = 0;
  for (const task of submitted) {
    const s = states.get(task.id)!;
    if (s.attempts > 1) interrupted++;
    if (s.status === 'failed') {
      assert.ok(s.error?.message, `failed task ${task.id} has a reason`);
      continue;
    }
    const res = await fetch(`${url2}/add/get?task_id=${task.id}`);
    assert.deepEqual(await res.json(), { sum: task.a + task.b });
    const runs = count.get(task.id) ?? 0;
    assert.ok(runs >= 1, `done task ${task.id} completed its handler`);
    assert.ok(runs === 1 || s.attempts > 1, `task ${task.id} completed ${runs} times in ${s.attempts} attempt(s)`);
  }
  assert.ok(interrupted >= 1, 'some task was running at the kill and was retried after the restart');
  second.child.kill('SIGTERM');
  assert.equal(await second.exit, 0, second.output());
});
