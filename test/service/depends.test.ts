// Services that depend on services: a frontend calls a dependency with its own types (in the same process, or at a
// configured URL), in sequence and in parallel; the request id and trace context pass through; a failing or
// missing dependency answers 502/503 naming it, and /readyz waits for it.
import assert from 'node:assert/strict';
import { dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { mapConcurrent, parallel, sequence, service, startServer } from '../../src/index.ts';
import { startTiffin } from '../../src/testing/cli-process.ts';
import { postJson } from './helpers.ts';

const words = service('words', { description: 'string helpers' })
  .api('upper', {
    input: z.object({ text: z.string() }),
    output: z.object({ text: z.string(), requestId: z.string(), traceparent: z.string().optional() }),
    handler: async ({ text }, ctx) => ({ text: text.toUpperCase(), requestId: ctx.requestId, ...(ctx.headers.traceparent ? { traceparent: ctx.headers.traceparent } : {}) }),
  })
  .api('count', { input: z.object({ text: z.string() }), output: z.object({ n: z.number() }), handler: async ({ text }) => ({ n: text.length }) })
  .api('boom', { input: z.object({}), output: z.object({}), handler: async () => { throw new Error('kaput'); } });

let warmedUp = '';
const frontend = service('frontend', { depends: { words } })
  .onStartup(async (ctx) => {
    // Dependencies started here are ready before this service's startup hooks.
    warmedUp = (await ctx.services.words.upper({ text: 'warm' })).text;
  })
  .api('shout', {
    input: z.object({ words: z.array(z.string()) }),
    output: z.object({ text: z.string(), ids: z.array(z.string()), traceparents: z.array(z.string()) }),
    handler: async (input, ctx) => {
      // Fan-out to the dependency; each answer has the dependency's own output type.
      const answers = await mapConcurrent(input.words, (text) => ctx.services.words.upper({ text }), { concurrency: 4 });
      return { text: answers.map((a) => a.text).join(' '), ids: answers.map((a) => a.requestId), traceparents: answers.flatMap((a) => (a.traceparent ? [a.traceparent] : [])) };
    },
  })
  .api('stats', {
    input: z.object({ text: z.string() }),
    output: z.object({ upper: z.string(), length: z.number(), shortUpper: z.string() }),
    handler: async ({ text }, ctx) => {
      const { upper, count } = await parallel({ upper: () => ctx.services.words.upper({ text }), count: () => ctx.services.words.count({ text }) });
      const shorten = sequence((s: string) => s.slice(0, 3), (s) => ctx.services.words.upper({ text: s }), (a) => a.text);
      return { upper: upper.text, length: count.n, shortUpper: await shorten(text) };
    },
  })
  .api('broken', { input: z.object({}), output: z.object({}), handler: async (_i, ctx) => ctx.services.words.boom({}) });

test('in the same process: typed calls in sequence and in parallel, the request id and trace context pass through', async (t) => {
  const server = await startServer(frontend, { port: 0, logLevel: 'silent' });
  t.after(() => server.close());
  await server.ready;
  assert.equal(warmedUp, 'WARM');

  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const res = await postJson(`${server.url}/shout`, { words: ['a', 'b', 'c'] }, { 'x-request-id': 'req-42', traceparent: `00-${traceId}-00f067aa0ba902b7-01` });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { text: string; ids: string[]; traceparents: string[] };
  assert.equal(body.text, 'A B C');
  assert.deepEqual(body.ids, ['req-42', 'req-42', 'req-42'], 'the caller\'s request id reaches the dependency');
  assert.equal(body.traceparents.length, 3);
  for (const tp of body.traceparents) assert.equal(tp.split('-')[1], traceId, 'the dependency call continues the trace');

  const stats = await postJson(`${server.url}/stats`, { text: 'tiffin' });
  assert.deepEqual(await stats.json(), { upper: 'TIFFIN', length: 6, shortUpper: 'TIF' });

  const broken = await postJson(`${server.url}/broken`, {});
  assert.equal(broken.status, 502);
  const error = (await broken.json()) as { code: string; message: string };
  assert.equal(error.code, 'DEPENDENCY_FAILED');
  assert.match(error.message, /dependency "words" \(service words at http:\/\/127\.0\.0\.1:\d+\) answered 500/);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
});

test('at a configured URL: a dependency that goes away answers 503 naming it and turns /readyz 503; it recovers', async (t) => {
  const dep = await startServer(words, { port: 0, logLevel: 'silent' });
  await dep.ready;
  const port = dep.port;
  const server = await startServer(frontend, { port: 0, logLevel: 'silent', dependencies: { words: { url: dep.url } } });
  t.after(() => server.close());
  await server.ready;
  assert.equal((await (await postJson(`${server.url}/shout`, { words: ['x'] })).json() as { text: string }).text, 'X');

  await dep.close();
  const down = await postJson(`${server.url}/shout`, { words: ['x'] });
  assert.equal(down.status, 503);
  const error = (await down.json()) as { code: string; message: string };
  assert.equal(error.code, 'DEPENDENCY_UNAVAILABLE');
  assert.match(error.message, /dependency "words"/);
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 503);
  const readyz = (await (await fetch(`${server.url}/readyz`)).json()) as { code: string; message: string };
  assert.equal(readyz.code, 'NOT_READY');
  assert.match(readyz.message, /dependency "words" \(http:\/\/127\.0\.0\.1:\d+\) is not ready/);

  const again = await startServer(words, { port, logLevel: 'silent' });
  t.after(() => again.close());
  await again.ready;
  await waitFor(async () => (await fetch(`${server.url}/readyz`)).status === 200);
  assert.equal((await postJson(`${server.url}/shout`, { words: ['y'] })).status, 200);
});

async function waitFor(check: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('tiffin serve --split runs the dependency in its own process; SIGTERM stops both', async (t) => {
  const fixture = fileURLToPath(new URL('./fixtures/split-service.ts', import.meta.url));
  for (const split of [false, true]) {
    const run = startTiffin(t, ['serve', fixture, '--port', '0', '--no-grpc', ...(split ? ['--split'] : [])], { cwd: dirname(fixture), env: { TIFFIN_LOG_LEVEL: 'warn' } });
    const [, url] = await run.waitFor(/tiffin: ready at (http:\/\/127\.0\.0\.1:\d+)/);
    const res = await postJson(`${url}/shout`, { text: 'hi' }, { 'x-request-id': 'split-1' });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { text: string; frontendPid: number; wordsPid: number; requestId: string };
    assert.equal(body.text, 'HI!');
    assert.equal(body.requestId, 'split-1');
    if (split) assert.notEqual(body.wordsPid, body.frontendPid, 'with --split the dependency has its own process');
    else assert.equal(body.wordsPid, body.frontendPid, 'by default the dependency runs in the same process');
    run.child.kill('SIGTERM');
    assert.equal(await run.exit, 0);
    if (split) assert.throws(() => process.kill(body.wordsPid, 0), 'the dependency process is gone');
  }
});
