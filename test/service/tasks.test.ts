// Tasks end to end on a real server: submit answers 202 at once, the task runs through the service's runner
// (the adder custom model in a worker), status/get/cancel/retry answer as documented, bad input is refused
// before anything is stored, the typed client waits for results, the OpenAPI document lists the routes, large
// results live as files, and a task interrupted by a shutdown runs again (or fails) by its onRestart policy.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { z } from 'zod';
import { createClient } from '../../src/client/index.ts';
import { service } from '../../src/service/index.ts';
import { startServer } from '../../src/serving/index.ts';
import { errorOf, postJson, storeWithAdder } from './helpers.ts';

const sumOut = z.object({ sum: z.number(), attempt: z.number() });

const heldIn = z.object({ fail: z.boolean().default(false) });
const heldOut = z.object({ ok: z.boolean() });

/** A task handler that waits for the gate (or its signal), then succeeds or fails as asked. */
function heldUntil(gate: { open: Promise<void> }) {
  return async ({ fail }: z.output<typeof heldIn>, ctx: { signal: AbortSignal }) => {
    await Promise.race([gate.open, new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)))]);
    if (fail) throw new Error('the held task was told to fail');
    return { ok: true };
  };
}

/** A service whose tasks add through the adder model; `gate` holds the `held` task until released. */
function tasksService(gate: { open: Promise<void> }, stats = { active: 0, peak: 0 }) {
  return service('task-demo', { models: { adder: 'adder:latest' } })
    .api('ping', { input: z.object({}), output: z.object({ ok: z.boolean() }), handler: () => ({ ok: true }) })
    .task('sum', {
      input: z.object({ a: z.number(), b: z.number(), ms: z.number().int().max(2_000).default(0) }),
      output: sumOut,
      summary: 'Adds slowly',
      concurrency: 2,
      handler: async ({ a, b, ms }, ctx) => {
        stats.active++;
        stats.peak = Math.max(stats.peak, stats.active);
        try {
          await delay(ms, undefined, { signal: ctx.signal });
          const { sum } = (await ctx.models.adder.call('add', { a, b })) as { sum: number };
          return { sum, attempt: ctx.attempt };
        } finally {
          stats.active--;
        }
      },
    })
    .task('held', { input: heldIn, output: heldOut, handler: heldUntil(gate) })
    .task('fragile', { input: heldIn, output: heldOut, onRestart: 'fail', handler: heldUntil(gate) })
    .task('big', {
      input: z.object({ n: z.number().int().max(1_000_000) }),
      output: z.object({ items: z.array(z.number()) }),
      onRestart: 'fail',
      handler: async ({ n }) => ({ items: Array.from({ length: n }, (_, i) => i) }),
    });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'tiffin-tasks-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function startTasks(t: TestContext, gate: { open: Promise<void> }, dir: string, stats?: { active: number; peak: number }) {
  const { home } = await storeWithAdder(t);
  const server = await startServer(tasksService(gate, stats), {
    port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownGraceMs: 300, storeRoot: join(home, 'models'),
    tasks: { dir, inlineResultLimit: 64 * 1024 },
  });
  t.after(() => server.close());
  await server.ready;
  return server;
}

async function statusOf(url: string, task: string, id: string) {
  const res = await fetch(`${url}/${task}/status?task_id=${id}`);
  assert.equal(res.status, 200);
  return (await res.json()) as { status: string; attempts: number; error?: { code: string; message: string } };
}

async function until<T>(what: string, check: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
    await delay(20);
  }
}

test('submit answers 202 at once; the task runs through the runner; status and get answer; concurrency holds', async (t) => {
  const stats = { active: 0, peak: 0 };
  const { url } = await startTasks(t, { open: new Promise(() => {}) }, tempDir(t), stats);
  const res = await postJson(`${url}/sum/submit`, { a: 2, b: 40, ms: 1_000 });
  assert.equal(res.status, 202);
  const info = (await res.json()) as { task_id: string; status: string; task: string };
  assert.equal(info.task, 'sum');
  assert.equal(res.headers.get('location'), `/sum/status?task_id=${info.task_id}`);

  assert.notEqual((await statusOf(url, 'sum', info.task_id)).status, 'done', 'submit answered before the task finished');
  const early = await fetch(`${url}/sum/get?task_id=${info.task_id}`);
  assert.equal(early.status, 409);
  const notDone = await errorOf(early);
  assert.equal(notDone.code, 'TASK_NOT_DONE');
  assert.match(notDone.message, /poll its status/);

  const ids = [info.task_id];
  for (let i = 0; i < 5; i++) ids.push(((await (await postJson(`${url}/sum/submit`, { a: i, b: 1, ms: 50 })).json()) as { task_id: string }).task_id);
  for (const id of ids) await until('done', async () => ((await statusOf(url, 'sum', id)).status === 'done' ? true : undefined));
  const got = await fetch(`${url}/sum/get?task_id=${info.task_id}`);
  assert.equal(got.status, 200);
  assert.deepEqual(await got.json(), { sum: 42, attempt: 1 });
  assert.deepEqual(await (await fetch(`${url}/sum/get?task_id=${ids[3]}`)).json(), { sum: 3, attempt: 1 });
  assert.equal(stats.peak, 2, 'concurrency: 2');
  const done = await statusOf(url, 'sum', info.task_id);
  assert.equal(done.attempts, 1);
});

test('bad input is refused before anything is stored; unknown ids and wrong methods answer clearly', async (t) => {
  const dir = tempDir(t);
  const { url } = await startTasks(t, { open: new Promise(() => {}) }, dir);
  const bad = await postJson(`${url}/sum/submit`, { a: 'two', b: 1 });
  assert.equal(bad.status, 400);
  const err = await errorOf(bad);
  assert.equal(err.code, 'VALIDATION_FAILED');
  assert.match(JSON.stringify(err.details), /"a"/);
  const text = await fetch(`${url}/sum/submit`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hi' });
  assert.equal(text.status, 415);
  const missing = await fetch(`${url}/sum/status`);
  assert.equal(missing.status, 400);
  assert.match((await errorOf(missing)).message, /task_id/);
  const unknown = await fetch(`${url}/sum/status?task_id=nope`);
  assert.equal(unknown.status, 404);
  assert.equal((await errorOf(unknown)).code, 'TASK_NOT_FOUND');
  const wrong = await fetch(`${url}/sum/submit`);
  assert.equal(wrong.status, 405);
  assert.equal(wrong.headers.get('allow'), 'POST');
  // An id of another task kind is not found under this one.
  const held = ((await (await postJson(`${url}/held/submit`, {})).json()) as { task_id: string }).task_id;
  assert.equal((await fetch(`${url}/sum/status?task_id=${held}`)).status, 404);
  // The API beside the tasks still answers.
  assert.equal((await postJson(`${url}/ping`, {})).status, 200);
});

test('cancel and retry: a running task is cancelled through its signal, a failed one runs again', async (t) => {
  let release!: () => void;
  const gate = { open: new Promise<void>((r) => (release = r)) };
  const { url } = await startTasks(t, gate, tempDir(t));
  const running = ((await (await postJson(`${url}/held/submit`, {})).json()) as { task_id: string }).task_id;
  const queued = ((await (await postJson(`${url}/held/submit`, {})).json()) as { task_id: string }).task_id;
  await until('running', async () => ((await statusOf(url, 'held', running)).status === 'running' ? true : undefined));
  assert.equal((await statusOf(url, 'held', queued)).status, 'pending', 'concurrency 1: the second waits');

  const cancelled = await postJson(`${url}/held/cancel`, { task_id: queued });
  assert.equal(cancelled.status, 200);
  assert.equal(((await cancelled.json()) as { status: string }).status, 'cancelled');
  const again = await postJson(`${url}/held/cancel`, { task_id: queued });
  assert.equal(again.status, 409);
  assert.equal((await errorOf(again)).code, 'TASK_STATE_CONFLICT');
  const byQuery = await fetch(`${url}/held/cancel?task_id=${running}`, { method: 'POST' });
  assert.equal(((await byQuery.json()) as { status: string }).status, 'cancelled');

  const failing = ((await (await postJson(`${url}/held/submit`, { fail: true })).json()) as { task_id: string }).task_id;
  release();
  const failed = await until('failed', async () => {
    const s = await statusOf(url, 'held', failing);
    return s.status === 'failed' ? s : undefined;
  });
  assert.equal(failed.error?.code, 'HANDLER_FAILED');
  assert.match(failed.error!.message, /told to fail/);
  const doneRetry = await postJson(`${url}/held/retry`, { task_id: running });
  assert.equal(((await doneRetry.json()) as { status: string }).status, 'pending');
  await until('retried task done', async () => ((await statusOf(url, 'held', running)).status === 'done' ? true : undefined));
  const twice = await postJson(`${url}/held/retry`, { task_id: running });
  assert.equal(twice.status, 409);
  assert.match((await errorOf(twice)).message, /only failed or cancelled tasks can be retried/);
});

test('the typed client submits, waits for results and reports a failed task with its reason', async (t) => {
  let release!: () => void;
  const gate = { open: new Promise<void>((r) => (release = r)) };
  const svc = tasksService(gate);
  const { url } = await startTasks(t, gate, tempDir(t));
  const client = createClient<typeof svc>(url);
  const task = await client.sum.submit({ a: 1, b: 2, ms: 100 });
  assert.equal(typeof task.id, 'string');
  const result = await task.result({ pollIntervalMs: 20 });
  assert.deepEqual(result, { sum: 3, attempt: 1 });
  // Reattached by id, as another process would.
  assert.equal((await client.sum.task(task.id).status()).status, 'done');

  const failing = await client.held.submit({ fail: true });
  release();
  await assert.rejects(failing.result({ pollIntervalMs: 20 }), (err: Error & { code?: string }) => err.code === 'HANDLER_FAILED' && /told to fail/.test(err.message));
  const slow = await client.sum.submit({ a: 0, b: 0, ms: 1_000 });
  await assert.rejects(slow.result({ pollIntervalMs: 20, timeoutMs: 100 }), (err: Error & { code?: string }) => err.code === 'TIMEOUT');
  assert.equal((await slow.cancel()).status, 'cancelled');
});

test('the OpenAPI document lists every task route with its schemas', async (t) => {
  const { url } = await startTasks(t, { open: new Promise(() => {}) }, tempDir(t));
  const doc = (await (await fetch(`${url}/docs.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; requestBody?: { content: Record<string, { schema: { properties: object } }> } }>>; components: { schemas: Record<string, unknown> } };
  for (const action of ['submit', 'cancel', 'retry']) assert.ok(doc.paths[`/sum/${action}`]?.post, `POST /sum/${action}`);
  for (const action of ['status', 'get']) assert.ok(doc.paths[`/sum/${action}`]?.get, `GET /sum/${action}`);
  assert.deepEqual(Object.keys(doc.paths['/sum/submit']!.post!.requestBody!.content['application/json']!.schema.properties).sort(), ['a', 'b', 'ms']);
  assert.ok(doc.components.schemas.TaskInfo);
});

test('a large result is stored as a file and read back whole', async (t) => {
  const dir = tempDir(t);
  const { url } = await startTasks(t, { open: new Promise(() => {}) }, dir);
  const id = ((await (await postJson(`${url}/big/submit`, { n: 50_000 })).json()) as { task_id: string }).task_id;
  await until('done', async () => ((await statusOf(url, 'big', id)).status === 'done' ? true : undefined));
  assert.ok(existsSync(join(dir, 'results', `${id}.json`)), readdirSync(join(dir, 'results')).join(', '));
  const body = (await (await fetch(`${url}/big/get?task_id=${id}`)).json()) as { items: number[] };
  assert.equal(body.items.length, 50_000);
  assert.equal(body.items[49_999], 49_999);
});

test('a task still running at shutdown runs again after the restart; one with onRestart "fail" fails with the reason', async (t) => {
  const dir = tempDir(t);
  const never = { open: new Promise<void>(() => {}) };
  const { home } = await storeWithAdder(t);
  const options = { port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownGraceMs: 200, storeRoot: join(home, 'models'), tasks: { dir } };
  const first = await startServer(tasksService(never), options);
  await first.ready;
  const held = ((await (await postJson(`${first.url}/held/submit`, {})).json()) as { task_id: string }).task_id;
  const fragile = ((await (await postJson(`${first.url}/fragile/submit`, {})).json()) as { task_id: string }).task_id;
  await until('running', async () => ((await statusOf(first.url, 'held', held)).status === 'running' ? true : undefined));
  await until('running', async () => ((await statusOf(first.url, 'fragile', fragile)).status === 'running' ? true : undefined));
  await first.close();

  const second = await startServer(tasksService({ open: Promise.resolve() }), options);
  t.after(() => second.close());
  await second.ready;
  const done = await until('done after the restart', async () => {
    const s = await statusOf(second.url, 'held', held);
    return s.status === 'done' ? s : undefined;
  });
  assert.equal(done.attempts, 2);
  const failed = await statusOf(second.url, 'fragile', fragile);
  assert.equal(failed.status, 'failed');
  assert.equal(failed.error?.code, 'TASK_INTERRUPTED');
  assert.match(failed.error!.message, /restarted while the task ran \(onRestart: 'fail'\)/);
  assert.deepEqual(await (await fetch(`${second.url}/held/get?task_id=${held}`)).json(), { ok: true });
});

test('a handler submits a task to a dependency through ctx.services, and its client reads the result', async (t) => {
  const { home } = await storeWithAdder(t);
  const dir = tempDir(t);
  const jobs = tasksService({ open: Promise.resolve() });
  const front = service('front', { depends: { jobs } }).api('enqueue', {
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ id: z.string(), result: sumOut }),
    handler: async ({ a, b }, ctx) => {
      const task = await ctx.services.jobs.sum.submit({ a, b, ms: 10 });
      return { id: task.id, result: await task.result({ pollIntervalMs: 20, timeoutMs: 10_000 }) };
    },
  });
  // The dependency runs in this process on its own loopback port, with its own task store (under TIFFIN_HOME).
  process.env.TIFFIN_HOME = home;
  t.after(() => delete process.env.TIFFIN_HOME);
  const server = await startServer(front, { port: 0, host: '127.0.0.1', logLevel: 'silent', shutdownGraceMs: 300, storeRoot: join(home, 'models'), tasks: { dir } });
  t.after(() => server.close());
  await server.ready;
  const res = await postJson(`${server.url}/enqueue`, { a: 20, b: 22 });
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { id: string; result: { sum: number } };
  assert.equal(body.result.sum, 42);
  assert.ok(existsSync(join(home, 'tasks', 'task-demo', 'tasks.db')), 'the dependency keeps its tasks in its own store');
});
