// A served service's life: readiness before and after models load and startup hooks finish, graceful
// shutdown with a request in flight, the grace period running out, startup failure, and a client that
// walks away from a stream.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { z } from 'zod';
import { isTiffinError } from '../../src/errors/index.ts';
import type { ModelHandle } from '../../src/runtime/types.ts';
import { InProcessModelProvider, io, service } from '../../src/service/index.ts';
import { deferred, errorOf, fakeModel, fakeProvider, postJson, serve, storeWithAdder } from './helpers.ts';

async function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(10);
  }
}

test('/readyz is 503 while models load and startup hooks run, 200 after; /livez is 200 throughout', async (t) => {
  const modelsLoaded = deferred();
  const warmedUp = deferred();
  let warmUpSaw: unknown;
  const model = fakeModel('m:1', { predict: (x) => x });
  const svc = service('warm', { models: { m: 'm:1' } })
    .onStartup(async (ctx) => {
      warmUpSaw = await ctx.models.m.call('predict', 'warm-up');
      await warmedUp.promise;
    })
    .api('ping', { input: z.object({}), output: z.object({ ok: z.boolean() }), handler: () => ({ ok: true }) });
  const server = await serve(t, svc, { provider: fakeProvider({ m: model }, () => modelsLoaded.promise) });

  assert.equal((await fetch(`${server.url}/livez`)).status, 200);
  let res = await fetch(`${server.url}/readyz`);
  assert.equal(res.status, 503);
  let err = await errorOf(res);
  assert.equal(err.code, 'NOT_READY');
  assert.match(err.message, /loading models \(m:1\)/);
  assert.equal(res.headers.get('retry-after'), '1');
  res = await postJson(`${server.url}/ping`, {});
  assert.equal(res.status, 503, 'APIs refuse work before ready');
  assert.equal((await errorOf(res)).code, 'NOT_READY');

  modelsLoaded.resolve();
  await until(async () => (await errorOf(await fetch(`${server.url}/readyz`))).message.includes('startup hooks'), 'startup hooks phase');
  assert.equal(warmUpSaw, 'warm-up', 'startup hooks run after the models load, with them');
  res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 503);
  assert.equal(((await res.json()) as { status: string }).status, 'starting');

  warmedUp.resolve();
  await server.ready;
  res = await fetch(`${server.url}/readyz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ready' });
  assert.deepEqual(await (await postJson(`${server.url}/ping`, {})).json(), { ok: true });
  const health = (await (await fetch(`${server.url}/healthz`)).json()) as Record<string, unknown>;
  assert.equal(health.status, 'ready');
  assert.deepEqual(health.models, { m: 'm:1' });
  assert.deepEqual(health.apis, ['ping']);
});

test('graceful shutdown: the in-flight request completes while readiness is 503 and new requests are refused, then the listener closes and hooks run', async (t) => {
  const entered = deferred();
  const release = deferred();
  const events: string[] = [];
  const provider = fakeProvider({});
  const svc = service('slow')
    .onShutdown((ctx) => {
      events.push(`shutdown hook (${ctx.service})`);
    })
    .api('slow', {
      input: io.text(),
      output: io.text(),
      handler: async (text) => {
        entered.resolve();
        await release.promise;
        events.push('request finished');
        return `done ${text}`;
      },
    });
  const server = await serve(t, svc, { provider });
  await server.ready;

  const inFlight = fetch(`${server.url}/slow`, { method: 'POST', body: 'work' });
  await entered.promise;
  const closed = server.close().then(() => events.push('closed'));

  // Draining: the listener stays open while the request runs, readiness says 503, new requests are turned away.
  await until(async () => (await fetch(`${server.url}/readyz`)).status === 503, 'readiness to turn 503');
  const late = await fetch(`${server.url}/slow`, { method: 'POST', body: 'late' });
  assert.equal(late.status, 503);
  assert.equal((await errorOf(late)).code, 'SHUTTING_DOWN');
  assert.deepEqual(events, [], 'hooks wait for the in-flight request');
  release.resolve();
  const res = await inFlight;
  assert.equal(res.status, 200);
  assert.equal(await res.text(), 'done work');
  await until(() => connectionRefused(server.port), 'the listener to close');
  await closed;
  assert.deepEqual(events, ['request finished', 'shutdown hook (slow)', 'closed']);
  assert.equal(provider.closed, true, 'models are released last');
});

test('when the grace period runs out, in-flight requests are cancelled through ctx.signal', async (t) => {
  const entered = deferred();
  let reason: unknown;
  const svc = service('stuck').api('stuck', {
    input: io.text(),
    output: io.text(),
    handler: async (_text, ctx) => {
      entered.resolve();
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      reason = ctx.signal.reason;
      return 'cancelled';
    },
  });
  const server = await serve(t, svc, { provider: fakeProvider({}), shutdownGraceMs: 200 });
  await server.ready;
  const request = fetch(`${server.url}/stuck`, { method: 'POST', body: 'x' }).catch((err: unknown) => err);
  await entered.promise;
  const t0 = Date.now();
  await server.close();
  assert.ok(Date.now() - t0 < 2_000, 'close does not wait past the grace period');
  assert.ok(isTiffinError(reason, 'SHUTTING_DOWN'));
  await request;
});

test('a failing startup hook rejects `ready` and keeps /readyz at 503 with the reason', async (t) => {
  const svc = service('broken')
    .onStartup(() => {
      throw new Error('warm-up exploded');
    })
    .api('x', { input: io.text(), output: io.text(), handler: (s) => s });
  const server = await serve(t, svc, { provider: fakeProvider({}) });
  await assert.rejects(server.ready, /warm-up exploded/);
  const err = await errorOf(await fetch(`${server.url}/readyz`));
  assert.equal(err.code, 'NOT_READY');
  assert.match(err.message, /startup failed: .*warm-up exploded/);
});

test('the in-process provider loads store models by tag and reports a missing one', async (t) => {
  const { models } = await storeWithAdder(t);
  const ok = service('adder', { models: { adder: 'adder:latest' } }).api('add', {
    input: z.object({ a: z.number(), b: z.number() }),
    output: z.object({ sum: z.number() }),
    handler: async (input, ctx) => z.object({ sum: z.number() }).parse(await ctx.models.adder.call('add', input)),
  });
  const server = await serve(t, ok, { provider: new InProcessModelProvider(models) });
  await server.ready;
  assert.deepEqual(await (await postJson(`${server.url}/add`, { a: 2, b: 3 })).json(), { sum: 5 });

  const missing = service('missing', { models: { ghost: 'ghost:latest' } });
  const down = await serve(t, missing, { provider: new InProcessModelProvider(models) });
  await assert.rejects(down.ready, (err: unknown) => isTiffinError(err, 'MODEL_NOT_FOUND') && /model "ghost" \(ghost:latest\)/.test(err.message));
});

test('a client that goes away mid-stream stops the generator and fires ctx.signal', async (t) => {
  let finished = false;
  let aborted = false;
  const svc = service('ticker').api('ticks', {
    input: z.object({}),
    output: io.stream(z.object({ n: z.number() })),
    async *handler(_input, ctx) {
      ctx.signal.addEventListener('abort', () => (aborted = true));
      try {
        for (let n = 0; ; n++) {
          yield { n };
          await delay(5);
        }
      } finally {
        finished = true;
      }
    },
  });
  const server = await serve(t, svc, { provider: fakeProvider({}) });
  await server.ready;
  const res = await postJson(`${server.url}/ticks`, {});
  const reader = res.body!.getReader();
  const first = await reader.read();
  assert.match(new TextDecoder().decode(first.value), /^id: 0\ndata: \{"n":0\}/);
  await reader.cancel();
  await until(() => finished && aborted, 'the generator to be closed');
});

test('a model call through ctx.models stops when the client goes away, with no signal passed by the handler', async (t) => {
  const called = deferred();
  const cancelled = deferred();
  const waiting: ModelHandle = {
    ...fakeModel('slow:1', {}),
    run: (_feeds, options) =>
      new Promise((_resolve, reject) => {
        called.resolve();
        options?.signal?.addEventListener('abort', () => {
          cancelled.resolve();
          reject(new Error('cancelled'));
        });
      }),
  };
  const svc = service('waits', { models: { slow: 'slow:1' } }).api('wait', {
    input: io.text(),
    output: io.text(),
    handler: async (_text, ctx) => {
      await ctx.models.slow.run({});
      return 'finished';
    },
  });
  const server = await serve(t, svc, { provider: fakeProvider({ slow: waiting }) });
  await server.ready;
  const client = new AbortController();
  const request = fetch(`${server.url}/wait`, { method: 'POST', body: 'x', signal: client.signal }).catch((err: unknown) => err);
  await called.promise;
  client.abort();
  await request;
  await Promise.race([cancelled.promise, delay(5_000).then(() => assert.fail('the model call was not cancelled'))]);
});

test('a client that stops reading a stream holds the generator back (backpressure): the server buffers a bounded amount', async (t) => {
  let produced = 0;
  const chunk = 'x'.repeat(64 * 1024);
  const svc = service('firehose').api('flood', {
    input: z.object({}),
    output: io.stream(z.object({ n: z.number(), pad: z.string() })),
    async *handler() {
      for (let n = 0; n < 100_000; n++) {
        produced = n + 1;
        yield { n, pad: chunk };
      }
    },
  });
  const server = await serve(t, svc, { provider: fakeProvider({}) });
  await server.ready;
  const res = await postJson(`${server.url}/flood`, {});
  const reader = res.body!.getReader();
  await reader.read();
  // Not reading: the socket and stream buffers fill, write() reports it, and the server stops pulling items.
  await delay(500);
  const stalled = produced;
  await delay(500);
  assert.equal(produced, stalled, 'the generator waits while the client does not read');
  assert.ok(stalled < 1000, `at most a few buffers of 64 KiB items were produced ahead (${stalled})`);
  // Reading again lets it go on.
  for (let i = 0; i < 200; i++) await reader.read();
  assert.ok(produced > stalled, 'reading resumes the generator');
  await reader.cancel();
});
