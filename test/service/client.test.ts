// The typed client against a real server: one method per API with types from the service, every io kind,
// errors as ClientError, streams as async iterables, readiness waiting, retries, timeouts and routes.
// The @ts-expect-error lines make `tsc` prove the typing: each must be a type error.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, it, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import sharp from 'sharp';
import { z } from 'zod';
import { ClientError, createClient, type Client } from '../../src/client/index.ts';
import type { Tensor } from '../../src/runtime/tensor.ts';
import { startServer } from '../../src/serving/index.ts';
import { io, service } from '../../src/service/index.ts';
import { demo } from './fixtures/demo-service.ts';
import { deferred, fakeModel, fakeProvider, png, serve } from './helpers.ts';

const adder = fakeModel('adder:1', {
  add: (x) => {
    const { a, b } = x as { a: number; b: number };
    return { sum: a + b };
  },
  run: (feeds) => {
    const x = (feeds as Record<string, Tensor<'float32'>>).x!;
    return { y: { dtype: 'float32', shape: x.shape, data: x.data.map((v) => v * 2) } };
  },
});

async function demoClient(t: Parameters<typeof serve>[0], options: Parameters<typeof createClient>[1] = {}): Promise<Client<typeof demo>> {
  const server = await serve(t, demo, { provider: fakeProvider({ adder }) });
  const client = createClient<typeof demo>(server.url, { routes: { teapot: '/v1/teapot' }, ...options });
  await client.waitUntilReady();
  return client;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

describe('typed calls', () => {
  it('JSON and text, with output types from the schemas', async (t) => {
    const client = await demoClient(t);
    const result: { sum: number; label: 'small' | 'large' } = await client.sum({ a: 20, b: 1 });
    assert.deepEqual(result, { sum: 21, label: 'large' });
    const upper: string = await client.echo('hi there');
    assert.equal(upper, 'HI THERE');
    const who = await client.whoami({}, { requestId: 'client-req-1' });
    assert.equal(who.requestId, 'client-req-1');
  });

  it('tensors: a Tensor goes as binary, nested arrays as JSON; a Tensor comes back', async (t) => {
    const client = await demoClient(t);
    const y = await client.scale({ dtype: 'float32', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(y.shape, [2, 2]);
    assert.ok(y.data instanceof Float32Array, 'float32 data arrives as a Float32Array');
    assert.deepEqual([...y.data], [2, 4, 6, 8]);
    const fromArrays = await client.scale([[0.5, 1]]);
    assert.deepEqual([...fromArrays.data], [1, 2]);
    const ids = await client.ids([1n, 9007199254740993n]);
    assert.deepEqual([...ids.data], [2n, 9007199254740994n]);
  });

  it('images and files: Blobs and bytes go raw, Files keep their names, binary outputs come back as Blob/File', async (t) => {
    const client = await demoClient(t);
    const pngBytes = await png(5, 4, [1, 2, 3]);
    const described = await client.describe(new Blob([new Uint8Array(pngBytes)], { type: 'image/png' }));
    assert.deepEqual(described, { width: 5, height: 4, channels: 3, format: 'png', bytes: pngBytes.length, firstPixel: [1, 2, 3] });
    assert.equal((await client.describe(new Uint8Array(pngBytes))).width, 5, 'untyped bytes are sniffed');

    const gray: Blob = await client.gray(new Uint8Array(pngBytes));
    assert.equal(gray.type, 'image/png');
    assert.equal((await sharp(Buffer.from(await gray.arrayBuffer())).metadata()).channels, 1);

    const uploaded = await client.upload(new File(['x,y\n'], 'points.csv', { type: 'text/csv' }));
    assert.deepEqual({ ...uploaded, sha256: undefined }, { filename: 'points.csv', contentType: 'text/csv', size: 4, sha256: undefined });
    const file = await client.download({ rows: 2 });
    assert.ok(file instanceof File, 'a named file arrives as a File');
    assert.equal(file.name, 'squares.csv');
    assert.equal(await file.text(), '0,0\n1,1');
  });

  it('multipart: an object holding a Blob becomes form fields', async (t) => {
    const client = await demoClient(t);
    const photo = new Blob([new Uint8Array(await png(8, 3))], { type: 'image/png' });
    assert.deepEqual(await client.caption({ photo, caption: 'dusk', count: 2 }), { text: 'dusk x2', width: 8 });
  });

  it('streams: an async iterable of typed items; a failure midway throws ClientError', async (t) => {
    const client = await demoClient(t);
    const items: { i: number; label: string }[] = [];
    for await (const item of client.count({ n: 3 })) items.push(item);
    assert.deepEqual(items.map((i) => i.i), [0, 1, 2]);
    assert.equal(items[0]?.label, 'item 0\nsecond line');

    const seen: number[] = [];
    await assert.rejects(
      (async () => {
        for await (const item of client.count({ n: 5, failAt: 1 })) seen.push(item.i);
      })(),
      (err: unknown) => err instanceof ClientError && err.code === 'HANDLER_FAILED' && typeof err.requestId === 'string',
    );
    assert.deepEqual(seen, [0]);
  });

  it('errors: ClientError with status, code, message, details and requestId', async (t) => {
    const client = await demoClient(t);
    const err = await client.sum({ a: 1, b: Number.NaN }).catch((e: unknown) => e);
    assert.ok(err instanceof ClientError, 'errors are ClientErrors');
    assert.equal(err.status, 400);
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.match(err.message, /b: /);
    assert.deepEqual((err.details as { issues: { path: unknown[] }[] }).issues[0]?.path, ['b']);
    assert.match(err.requestId ?? '', /^[0-9a-f-]{36}$/);
    const teapot = await client.teapot('x').catch((e: unknown) => e);
    assert.ok(teapot instanceof ClientError, 'errors are ClientErrors');
    assert.equal(teapot.status, 418, 'custom routes come from the routes option');
  });

  it('the types follow the service (checked by tsc)', () => {
    const check = (client: Client<typeof demo>) => {
      // @ts-expect-error a: string where the schema says number
      void client.sum({ a: '1', b: 2 });
      // @ts-expect-error b is required
      void client.sum({ a: 1 });
      // @ts-expect-error no API of that name
      void client.nope({});
      // @ts-expect-error text APIs take strings
      void client.echo(42);
      // @ts-expect-error streamed APIs are iterables, not promises
      void client.count({ n: 1 }).then;
      const label: Promise<'small' | 'large'> = client.sum({ a: 1, b: 2 }).then((r) => r.label);
      void label;
    };
    void check;
  });
});

test('waitUntilReady waits for startup hooks; calls made before ready are retried on 503', async (t) => {
  const gate = deferred();
  const svc = service('gated')
    .onStartup(() => gate.promise)
    .api('ping', { input: z.object({}), output: z.object({ pong: z.literal(true) }), handler: () => ({ pong: true as const }) });
  const server = await serve(t, svc, { provider: fakeProvider({}) });
  const client = createClient<typeof svc>(server.url, { retries: 10, retryDelayMs: 20, maxRetryDelayMs: 100 });

  // The message names the last answer (`NOT_READY: running startup hooks`) unless a loaded machine answered none in time.
  await assert.rejects(client.waitUntilReady({ timeoutMs: 300, intervalMs: 20 }), (err: unknown) => err instanceof ClientError && err.code === 'NOT_READY' && /was not ready within 300 ms \(last: /.test(err.message));
  await assert.rejects(client.ping({}, { retries: 0 }), (err: unknown) => err instanceof ClientError && err.status === 503 && err.code === 'NOT_READY');

  const early = client.ping({});
  const waiting = client.waitUntilReady({ timeoutMs: 5_000, intervalMs: 20 });
  setTimeout(() => gate.resolve(), 150);
  await waiting;
  assert.deepEqual(await early, { pong: true });
});

test('a refused connection is retried until the server is up; a 500 is not retried', async (t) => {
  const port = await freePort();
  let calls = 0;
  const svc = service('late')
    .api('hello', { input: io.text(), output: io.text(), handler: (s) => `hello ${s}` })
    .api('fails', {
      input: io.text(),
      output: io.text(),
      handler: () => {
        calls += 1;
        throw new Error('no');
      },
    });
  const client = createClient<typeof svc>(`http://127.0.0.1:${port}`, { retries: 30, retryDelayMs: 50, maxRetryDelayMs: 200 });
  const pending = client.hello('world');
  await delay(120);
  const server = await startServer(svc, { port, logLevel: 'silent', provider: fakeProvider({}) });
  t.after(() => server.close());
  assert.equal(await pending, 'hello world');
  await assert.rejects(client.fails('x'), (err: unknown) => err instanceof ClientError && err.status === 500);
  assert.equal(calls, 1);
  await assert.rejects(createClient<typeof svc>(`http://127.0.0.1:${await freePort()}`, { retries: 1, retryDelayMs: 1 }).hello('x'), (err: unknown) => err instanceof ClientError && err.code === 'NETWORK_ERROR' && /ECONNREFUSED/.test(err.message));
});

test('a slow call times out with TIMEOUT; breaking out of a stream closes it on the server', async (t) => {
  let streamClosed = false;
  const svc = service('slowpoke')
    .api('slow', { input: io.text(), output: io.text(), handler: async (s, ctx) => { await delay(2_000, undefined, { signal: ctx.signal }).catch(() => {}); return s; } })
    .api('forever', {
      input: z.object({}),
      output: io.stream(z.object({ n: z.number() })),
      async *handler() {
        try {
          for (let n = 0; ; n++) {
            yield { n };
            await delay(5);
          }
        } finally {
          streamClosed = true;
        }
      },
    });
  const server = await serve(t, svc, { provider: fakeProvider({}) });
  const client = createClient<typeof svc>(server.url);
  await client.waitUntilReady();
  await assert.rejects(client.slow('x', { timeoutMs: 100 }), (err: unknown) => err instanceof ClientError && err.code === 'TIMEOUT' && err.status === 0);
  for await (const item of client.forever({})) {
    if (item.n === 3) break;
  }
  const deadline = Date.now() + 5_000;
  while (!streamClosed && Date.now() < deadline) await delay(10);
  assert.ok(streamClosed, 'the server stopped the generator');
});
