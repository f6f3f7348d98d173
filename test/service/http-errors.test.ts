// The HTTP contract around the APIs: every error is JSON { code, message, requestId } with the right status
// (404, 405 + Allow, 413, 415, 400, 500 with no internals unless development mode), request ids, and CORS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { demo } from './fixtures/demo-service.ts';
import { errorOf, fakeModel, fakeProvider, postJson, serve } from './helpers.ts';

const provider = () => fakeProvider({ adder: fakeModel('adder:1', { add: (x) => ({ sum: (x as { a: number; b: number }).a + (x as { a: number; b: number }).b }) }) });

test('unknown routes answer 404 NOT_FOUND naming the APIs', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  const res = await fetch(`${server.url}/nope`, { method: 'POST' });
  assert.equal(res.status, 404);
  const err = await errorOf(res);
  assert.equal(err.code, 'NOT_FOUND');
  assert.match(err.message, /no route for POST \/nope; the APIs are POST \/sum, POST \/echo/);
  assert.match(err.message, /POST \/v1\/teapot/);
  const apis = (err.details as { apis: { name: string; path: string }[] }).apis;
  assert.deepEqual(apis.find((a) => a.name === 'teapot'), { name: 'teapot', method: 'POST', path: '/v1/teapot' });
});

test('a wrong method on a known path answers 405 with Allow', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  let res = await fetch(`${server.url}/sum`);
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'POST');
  assert.equal((await errorOf(res)).code, 'METHOD_NOT_ALLOWED');
  res = await fetch(`${server.url}/readyz`, { method: 'POST' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  res = await fetch(`${server.url}/sum/`, { method: 'DELETE' });
  assert.equal(res.status, 405, 'a trailing slash names the same path');
});

test('a body past maxBodySize answers 413 BODY_TOO_LARGE, raw or multipart', async (t) => {
  const server = await serve(t, demo, { provider: provider(), maxBodySize: 1024 });
  let res = await fetch(`${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(2048) });
  assert.equal(res.status, 413);
  let err = await errorOf(res);
  assert.equal(err.code, 'BODY_TOO_LARGE');
  assert.match(err.message, /larger than the 1 KiB limit \(server\.maxBodySize\)/);
  const form = new FormData();
  form.append('file', new Blob(['y'.repeat(4096)], { type: 'text/csv' }), 'big.csv');
  res = await fetch(`${server.url}/upload`, { method: 'POST', body: form });
  assert.equal(res.status, 413);
  err = await errorOf(res);
  assert.equal(err.code, 'BODY_TOO_LARGE');
  res = await fetch(`${server.url}/echo`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'small' });
  assert.equal(res.status, 200, 'bodies under the limit still pass');
});

test('an unsupported content type answers 415 naming what the API takes', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  const res = await fetch(`${server.url}/sum`, { method: 'POST', headers: { 'content-type': 'application/xml' }, body: '<a/>' });
  assert.equal(res.status, 415);
  const err = await errorOf(res);
  assert.equal(err.code, 'UNSUPPORTED_MEDIA_TYPE');
  assert.equal(err.message, 'API "sum" does not take application/xml; send Content-Type: application/json');
  assert.deepEqual(err.details, { accepted: ['application/json'] });
});

test('a failing handler answers 500 HANDLER_FAILED without internals or stack', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  const res = await fetch(`${server.url}/boom`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 500);
  const err = await errorOf(res);
  assert.equal(err.code, 'HANDLER_FAILED');
  assert.doesNotMatch(err.message, /kaboom/);
  assert.equal(err.stack, undefined);
  assert.equal(err.details, undefined);
});

test('development mode puts the cause and its stack in 500s', async (t) => {
  const server = await serve(t, demo, { provider: provider(), development: true });
  const err = await errorOf(await fetch(`${server.url}/boom`, { method: 'POST', body: 'x' }));
  assert.equal(err.code, 'HANDLER_FAILED');
  assert.match(err.message, /kaboom: internal detail/);
  assert.match(err.stack ?? '', /demo-service\.ts/);
});

test('a TiffinError from a handler keeps its code, status and details; custom routes work', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  const res = await fetch(`${server.url}/v1/teapot`, { method: 'POST', body: 'x' });
  assert.equal(res.status, 418);
  const err = await errorOf(res);
  assert.equal(err.code, 'BAD_REQUEST');
  assert.equal(err.message, 'I only brew tea');
  assert.deepEqual(err.details, { brew: 'tea' });
  assert.equal((await fetch(`${server.url}/teapot`, { method: 'POST', body: 'x' })).status, 404);
});

test('every response carries x-request-id: the caller\'s when sane, else generated', async (t) => {
  const server = await serve(t, demo, { provider: provider() });
  const given = await fetch(`${server.url}/livez`, { headers: { 'x-request-id': 'req-123.abc' } });
  assert.equal(given.headers.get('x-request-id'), 'req-123.abc');
  const generated = await fetch(`${server.url}/livez`);
  assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  const odd = await fetch(`${server.url}/livez`, { headers: { 'x-request-id': 'has spaces and <html>' } });
  assert.match(odd.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/, 'unsafe ids are replaced');
  const notFound = await fetch(`${server.url}/missing`, { headers: { 'x-request-id': 'nf-1' } });
  assert.equal(notFound.headers.get('x-request-id'), 'nf-1');
  assert.equal((await errorOf(notFound)).requestId, 'nf-1');
  const tooLarge = await fetch(`${server.url}/sum`, { method: 'POST', headers: { 'x-request-id': 'big-1', 'content-type': 'application/json' }, body: `"${'x'.repeat(33 * 1024 * 1024)}"` });
  assert.equal(tooLarge.status, 413);
  assert.equal(tooLarge.headers.get('x-request-id'), 'big-1');
});

test('CORS is off by default and answers preflights and exposes headers when configured', async (t) => {
  const plain = await serve(t, demo, { provider: provider() });
  const noCors = await fetch(`${plain.url}/livez`, { headers: { origin: 'https://app.example.com' } });
  assert.equal(noCors.headers.get('access-control-allow-origin'), null);

  const server = await serve(t, demo, { provider: provider(), cors: { origins: ['https://app.example.com'] } });
  const preflight = await fetch(`${server.url}/sum`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  assert.equal(preflight.status, 204);
  assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /POST/);
  const res = await postJson(`${server.url}/sum`, { a: 1, b: 2 }, { origin: 'https://app.example.com' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(res.headers.get('access-control-expose-headers') ?? '', /x-request-id/);
  const other = await postJson(`${server.url}/sum`, { a: 1, b: 2 }, { origin: 'https://evil.example' });
  assert.equal(other.headers.get('access-control-allow-origin'), null);
});
