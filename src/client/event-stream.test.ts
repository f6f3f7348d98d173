// The client's SSE parser and retry rules, below HTTP: frames split across chunks, every line ending,
// multi-line data, comments; which failures are safe to retry, and how long to wait.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readEvents } from './event-stream.ts';
import { backoffMs, retryAfterMs, retryableNetworkError, retryableStatus } from './retry.ts';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

async function collect(chunks: string[]) {
  const out = [];
  for await (const e of readEvents(streamOf(chunks))) out.push(e);
  return out;
}

test('frames split anywhere, with \\n, \\r\\n and \\r endings, comments and multi-line data', async () => {
  const events = await collect(['data: {"a"', ':1}\n\n: keep-alive\n\nda', 'ta: one\r\ndata: two\r', '\n\r\nevent: error\rdata: {"code":"X"}\r\r']);
  assert.deepEqual(events, [
    { event: 'message', data: '{"a":1}' },
    { event: 'message', data: 'one\ntwo' },
    { event: 'error', data: '{"code":"X"}' },
  ]);
});

test('a final frame without its blank line is not delivered (the stream broke off)', async () => {
  assert.deepEqual(await collect(['data: 1\n\ndata: 2\n']), [{ event: 'message', data: '1' }]);
});

test('retry rules: refused connections and 503/429 always; 502/504 and broken connections only when idempotent', () => {
  const refused = new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
  const reset = new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
  assert.equal(retryableNetworkError(refused, false), true);
  assert.equal(retryableNetworkError(reset, false), false);
  assert.equal(retryableNetworkError(reset, true), true);
  assert.equal(retryableNetworkError(new Error('other'), true), false);
  assert.deepEqual([503, 429, 502, 504, 500, 400].map((s) => retryableStatus(s, false)), [true, true, false, false, false, false]);
  assert.deepEqual([502, 504, 500].map((s) => retryableStatus(s, true)), [true, true, false]);
});

test('Retry-After in seconds or as a date; backoff doubles with jitter under a cap', () => {
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs(new Date(10_000).toUTCString(), 4_000), 6_000);
  assert.equal(retryAfterMs('soon'), undefined);
  for (let attempt = 0; attempt < 6; attempt++) {
    const ms = backoffMs(attempt, 100, 1_000);
    const full = Math.min(1_000, 100 * 2 ** attempt);
    assert.ok(ms >= full / 2 && ms <= full, `attempt ${attempt}: ${ms}`);
  }
});
