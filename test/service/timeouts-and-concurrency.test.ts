// Per-request timeouts and per-API concurrency limits, from the outside: a real server, real HTTP. A request
// past its deadline gets 504 in the JSON error shape and its model call sees the request cancelled (so a
// runner drops it from its queue); a client may shorten the deadline with x-tiffin-timeout-ms but not
// lengthen it; an API at its maxConcurrency answers 429 with Retry-After, and serves again once calls finish.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { isTiffinError } from '../../src/errors/index.ts';
import type { CallOptions, ModelHandle } from '../../src/runtime/types.ts';
import { service } from '../../src/service/index.ts';
import { deferred, errorOf, fakeProvider, postJson, serve } from './helpers.ts';

/** A model whose `wait` call settles only when `release` is called or its signal fires (then rejecting with the reason). */
function waitingModel(): { handle: ModelHandle; signals: CallOptions['signal'][]; release: () => void } {
  const signals: CallOptions['signal'][] = [];
  const released = deferred();
  const handle: ModelHandle = {
    tag: 'slow:1', framework: 'fake', signatures: {}, inputs: [], outputs: [],
    run: () => Promise.reject(new Error('not used')),
    call: (_method, _input, options) => {
      signals.push(options?.signal);
      return new Promise((resolve, reject) => {
        released.promise.then(() => resolve('done'));
        options?.signal?.addEventListener('abort', () => reject((options.signal as { reason?: unknown }).reason));
      });
    },
  };
  return { handle, signals, release: () => released.resolve() };
}

function slowService(options: { timeoutMs?: number; maxConcurrency?: number }) {
  return service('slow', { models: { slow: 'slow:1' } }).api('wait', {
    input: z.object({}),
    output: z.object({ answer: z.string() }),
    ...options,
    handler: async (_input, ctx) => ({ answer: String(await ctx.models.slow.call('wait', null)) }),
  });
}

test('a request past its API timeout gets 504 TIMEOUT and its model call is cancelled', async (t) => {
  const model = waitingModel();
  const server = await serve(t, slowService({ timeoutMs: 300 }), { provider: fakeProvider({ slow: model.handle }) });
  await server.ready;
  const started = Date.now();
  const res = await postJson(`${server.url}/wait`, {});
  const took = Date.now() - started;
  assert.equal(res.status, 504);
  const body = await errorOf(res);
  assert.equal(body.code, 'TIMEOUT');
  assert.match(body.message, /did not answer within 300 ms/);
  assert.ok(took >= 250 && took < 3000, `answered after ${took} ms`);
  assert.equal(model.signals.length, 1);
  assert.equal(model.signals[0]!.aborted, true, 'the model call was cancelled with the request');
  assert.ok(isTiffinError((model.signals[0] as { reason?: unknown }).reason, 'TIMEOUT'));
});

test('x-tiffin-timeout-ms shortens the deadline, never lengthens it, and must be a number', async (t) => {
  const model = waitingModel();
  const server = await serve(t, slowService({ timeoutMs: 10_000 }), { provider: fakeProvider({ slow: model.handle }) });
  await server.ready;
  let started = Date.now();
  const shortened = await postJson(`${server.url}/wait`, {}, { 'x-tiffin-timeout-ms': '150' });
  assert.equal(shortened.status, 504);
  assert.match((await errorOf(shortened)).message, /within 150 ms/);
  assert.ok(Date.now() - started < 3000);

  const bad = await postJson(`${server.url}/wait`, {}, { 'x-tiffin-timeout-ms': 'soon' });
  assert.equal(bad.status, 400);
  assert.match((await errorOf(bad)).message, /x-tiffin-timeout-ms must be a whole number/);

  const capped = await serve(t, slowService({ timeoutMs: 200 }), { provider: fakeProvider({ slow: waitingModel().handle }) });
  await capped.ready;
  started = Date.now();
  const longer = await postJson(`${capped.url}/wait`, {}, { 'x-tiffin-timeout-ms': '60000' });
  assert.equal(longer.status, 504);
  assert.match((await errorOf(longer)).message, /within 200 ms/);

  // A call that finishes in time is answered as usual.
  const quick = postJson(`${server.url}/wait`, {});
  setTimeout(model.release, 100);
  const ok = await quick;
  assert.equal(ok.status, 200);
  assert.deepEqual(await ok.json(), { answer: 'done' });
});

test('an API at its maxConcurrency answers 429 with Retry-After and serves again once calls finish', async (t) => {
  const model = waitingModel();
  const server = await serve(t, slowService({ maxConcurrency: 2 }), { provider: fakeProvider({ slow: model.handle }) });
  await server.ready;
  const held = [postJson(`${server.url}/wait`, {}), postJson(`${server.url}/wait`, {})];
  while (model.signals.length < 2) await new Promise((r) => setTimeout(r, 10));
  const refused = await postJson(`${server.url}/wait`, {});
  assert.equal(refused.status, 429);
  assert.equal(refused.headers.get('retry-after'), '1');
  const body = await errorOf(refused);
  assert.equal(body.code, 'TOO_MANY_REQUESTS');
  assert.match(body.message, /already has 2 requests in progress/);
  model.release();
  for (const res of await Promise.all(held)) assert.equal(res.status, 200);
  const again = await postJson(`${server.url}/wait`, {});
  assert.equal(again.status, 200);
});

test('timeoutMs and maxConcurrency must be whole numbers above 0', () => {
  assert.throws(() => slowService({ timeoutMs: 0 }), /timeoutMs must be a whole number above 0/);
  assert.throws(() => slowService({ maxConcurrency: 1.5 }), /maxConcurrency must be a whole number above 0/);
});
