// Every input and output kind over real HTTP, against the demo service served with a real custom model
// from a temp store: JSON, text, tensors (JSON and binary), images (raw and multipart), files, multipart
// forms and server-sent event streams.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { Models } from '../../src/models/index.ts';
import type { RunningServer } from '../../src/server/index.ts';
import { RunnerModelProvider, startServer } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { demo } from './fixtures/demo-service.ts';
import { ADDER_MODEL_DIR, errorOf, png, postJson } from './helpers.ts';

let server: RunningServer;
let home: string;

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'tiffin-io-'));
  const models = new Models(new ModelStore(join(home, 'models')));
  await models.save('adder:1', ADDER_MODEL_DIR, { framework: 'custom' });
  server = await startServer(demo, { port: 0, logLevel: 'silent', provider: new RunnerModelProvider({ storeRoot: models.store.root }) });
  await server.ready;
});

after(async () => {
  await server.close();
  await rm(home, { recursive: true, force: true });
});

const url = (path: string) => `${server.url}${path}`;

describe('JSON in and out', () => {
  it('validates the body, calls the model and validates the output', async () => {
    const res = await postJson(url('/sum'), { a: 7, b: 5 });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await res.json(), { sum: 12, label: 'large' });
  });

  it('reports every invalid field with its path', async () => {
    const res = await postJson(url('/sum'), { a: 'seven', c: 1 });
    assert.equal(res.status, 400);
    const err = await errorOf(res);
    assert.equal(err.code, 'VALIDATION_FAILED');
    const issues = (err.details as { issues: { path: unknown[]; message: string }[] }).issues;
    assert.deepEqual(issues.map((i) => i.path), [['a'], ['b']]);
    assert.match(err.message, /a: .*expected number/);
    assert.match(err.message, /b: /);
  });

  it('refuses a body that is not JSON with 400 BAD_REQUEST', async () => {
    const res = await fetch(url('/sum'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a": 1,' });
    assert.equal(res.status, 400);
    const err = await errorOf(res);
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, /not valid JSON/);
  });

  it('says so when the body is empty', async () => {
    const res = await fetch(url('/sum'), { method: 'POST', headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /body is empty/);
  });

  it('lets a handler set the status and read the request id and headers', async () => {
    const res = await postJson(url('/whoami'), {}, { 'x-request-id': 'trace-42', 'user-agent': 'tiffin-test' });
    assert.equal(res.status, 202);
    assert.deepEqual(await res.json(), { requestId: 'trace-42', agent: 'tiffin-test' });
  });
});

describe('text', () => {
  it('takes text/plain and answers text/plain, with headers the handler set', async () => {
    const res = await fetch(url('/echo'), { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'héllo' });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(res.headers.get('x-echo-length'), '5');
    assert.equal(await res.text(), 'HÉLLO');
  });

  it('takes a JSON string too, and other charsets', async () => {
    assert.equal(await (await postJson(url('/echo'), 'json string')).text(), 'JSON STRING');
    const latin1 = Buffer.from('caf\xe9', 'latin1');
    const res = await fetch(url('/echo'), { method: 'POST', headers: { 'content-type': 'text/plain; charset=iso-8859-1' }, body: latin1 });
    assert.equal(await res.text(), 'CAFÉ');
  });
});

describe('tensors', () => {
  it('takes nested JSON arrays and answers JSON with dtype and shape', async () => {
    const res = await postJson(url('/scale'), [[1, 2], [3, 4.5]]);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-tensor-dtype'), 'float32');
    assert.equal(res.headers.get('x-tensor-shape'), '2,2');
    assert.deepEqual(await res.json(), { dtype: 'float32', shape: [2, 2], data: [2, 4, 6, 9] });
  });

  it('takes { shape, data } JSON', async () => {
    const res = await postJson(url('/scale'), { shape: [1, 2], data: [5, 6] });
    assert.deepEqual(await res.json(), { dtype: 'float32', shape: [1, 2], data: [10, 12] });
  });

  it('takes and gives little-endian binary with dtype and shape headers', async () => {
    const x = new Float32Array([1.5, -2, 3, 4, 0.25, 8]);
    const res = await fetch(url('/scale'), {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-tensor-dtype': 'float32', 'x-tensor-shape': '3,2', accept: 'application/octet-stream' },
      body: Buffer.from(x.buffer),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(res.headers.get('x-tensor-shape'), '3,2');
    assert.deepEqual([...new Float32Array(await res.arrayBuffer())], [3, -4, 6, 8, 0.5, 16]);
  });

  it('infers a binary tensor shape from its one dynamic dimension', async () => {
    const res = await fetch(url('/scale'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from(new Float32Array([1, 2, 3, 4]).buffer) });
    assert.deepEqual(await res.json(), { dtype: 'float32', shape: [2, 2], data: [2, 4, 6, 8] });
  });

  it('rejects wrong shapes, ragged arrays, wrong element types and byte counts with field paths', async () => {
    let err = await errorOf(await postJson(url('/scale'), [[1, 2, 3]]));
    assert.equal(err.code, 'VALIDATION_FAILED');
    assert.match(err.message, /expected shape \[-1, 2\].*got \[1, 3\]/);
    err = await errorOf(await postJson(url('/scale'), [[1, 2], [3]]));
    assert.deepEqual((err.details as { issues: { path: unknown[] }[] }).issues[0]?.path, [1]);
    err = await errorOf(await postJson(url('/scale'), [[1, 'x']]));
    assert.deepEqual((err.details as { issues: { path: unknown[] }[] }).issues[0]?.path, [0, 1]);
    const res = await fetch(url('/scale'), { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-tensor-shape': '2,2' }, body: Buffer.alloc(12) });
    assert.equal(res.status, 400);
    assert.match((await errorOf(res)).message, /12 bytes; shape \[2, 2\] of float32 needs 16/);
    const wrongDtype = await fetch(url('/scale'), { method: 'POST', headers: { 'content-type': 'application/octet-stream', 'x-tensor-dtype': 'int32' }, body: Buffer.alloc(8) });
    assert.match((await errorOf(wrongDtype)).message, /x-tensor-dtype is "int32" but this API takes float32/);
  });

  it('carries int64 beyond 2^53 as decimal strings', async () => {
    const big = '9007199254740993';
    const res = await postJson(url('/ids'), [1, big]);
    assert.deepEqual(await res.json(), { dtype: 'int64', shape: [2], data: [2, '9007199254740994'] });
  });
});

describe('images', () => {
  it('decodes a raw image/png body with sharp', async () => {
    const body = await png(7, 5, [10, 20, 30]);
    const res = await fetch(url('/describe'), { method: 'POST', headers: { 'content-type': 'image/png' }, body });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { width: 7, height: 5, channels: 3, format: 'png', bytes: body.length, firstPixel: [10, 20, 30] });
  });

  it('decodes an image sent as a multipart file', async () => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(await png(3, 9))], { type: 'image/png' }), 'tiny.png');
    const res = await fetch(url('/describe'), { method: 'POST', body: form });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { width: number; height: number };
    assert.equal(body.width, 3);
    assert.equal(body.height, 9);
  });

  it('answers 415 for a format the API does not take, and 400 for bytes that are no image', async () => {
    const webp = await sharp({ create: { width: 2, height: 2, channels: 3, background: '#fff' } }).webp().toBuffer();
    let res = await fetch(url('/describe'), { method: 'POST', headers: { 'content-type': 'image/webp' }, body: webp });
    assert.equal(res.status, 415);
    res = await fetch(url('/describe'), { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: webp });
    assert.equal(res.status, 415, 'sniffed from the bytes too');
    assert.match((await errorOf(res)).message, /image is webp; this API takes png, jpeg/);
    res = await fetch(url('/describe'), { method: 'POST', headers: { 'content-type': 'image/png' }, body: Buffer.from('not a png') });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'VALIDATION_FAILED');
  });

  it('encodes raw pixels a handler returns (image output)', async () => {
    const res = await fetch(url('/gray'), { method: 'POST', headers: { 'content-type': 'image/png' }, body: await png(4, 3, [255, 255, 255]) });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    const meta = await sharp(Buffer.from(await res.arrayBuffer())).metadata();
    assert.equal(meta.width, 4);
    assert.equal(meta.height, 3);
    assert.equal(meta.channels, 1);
  });
});

describe('files', () => {
  const csv = 'a,b\n1,2\n';
  const sha = createHash('sha256').update(csv).digest('hex');

  it('takes a raw body with its content type and a filename from Content-Disposition', async () => {
    const res = await fetch(url('/upload'), { method: 'POST', headers: { 'content-type': 'text/csv', 'content-disposition': 'attachment; filename="data.csv"' }, body: csv });
    assert.deepEqual(await res.json(), { filename: 'data.csv', contentType: 'text/csv', size: csv.length, sha256: sha });
  });

  it('takes a multipart file part', async () => {
    const form = new FormData();
    form.append('file', new Blob([csv], { type: 'text/csv' }), 'form.csv');
    const res = await fetch(url('/upload'), { method: 'POST', body: form });
    assert.deepEqual(await res.json(), { filename: 'form.csv', contentType: 'text/csv', size: csv.length, sha256: sha });
  });

  it('refuses content types outside the declared list (415), in raw and multipart bodies', async () => {
    let res = await fetch(url('/upload'), { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: '%PDF' });
    assert.equal(res.status, 415);
    assert.deepEqual((await errorOf(res)).details, { accepted: ['text/csv', 'application/octet-stream', 'multipart/form-data'] });
    const form = new FormData();
    form.append('file', new Blob(['%PDF'], { type: 'application/pdf' }), 'x.pdf');
    res = await fetch(url('/upload'), { method: 'POST', body: form });
    assert.equal(res.status, 415);
  });

  it('sends a file with its type and name (file output)', async () => {
    const res = await postJson(url('/download'), { rows: 3 });
    assert.equal(res.headers.get('content-type'), 'text/csv');
    assert.equal(res.headers.get('content-disposition'), "attachment; filename*=UTF-8''squares.csv");
    assert.equal(await res.text(), '0,0\n1,1\n2,4');
  });
});

describe('multipart forms', () => {
  it('reads each field with its own kind', async () => {
    const form = new FormData();
    form.append('photo', new Blob([new Uint8Array(await png(6, 2))], { type: 'image/png' }), 'p.png');
    form.append('caption', 'sunset');
    form.append('count', '3');
    const res = await fetch(url('/caption'), { method: 'POST', body: form });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { text: 'sunset x3', width: 6 });
  });

  it('reports invalid and missing fields under their names', async () => {
    const form = new FormData();
    form.append('caption', '');
    form.append('count', '2.5');
    const res = await fetch(url('/caption'), { method: 'POST', body: form });
    assert.equal(res.status, 400);
    const paths = ((await errorOf(res)).details as { issues: { path: unknown[] }[] }).issues.map((i) => i.path[0]);
    assert.deepEqual(paths.sort(), ['caption', 'count', 'photo']);
  });
});

describe('server-sent event streams', () => {
  it('frames each item as id: <n> and data: <json> with a blank line, multi-line safe, and ends the response', async () => {
    const res = await postJson(url('/count'), { n: 3 });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-cache');
    const text = await res.text();
    const frames = text.split('\n\n').filter(Boolean);
    assert.equal(frames.length, 3);
    assert.deepEqual(frames.map((f) => f.split('\n')[0]), ['id: 0', 'id: 1', 'id: 2']);
    assert.deepEqual(frames.map((f) => JSON.parse(f.split('\n')[1]!.replace(/^data: /, ''))), [
      { i: 0, label: 'item 0\nsecond line' },
      { i: 1, label: 'item 1\nsecond line' },
      { i: 2, label: 'item 2\nsecond line' },
    ]);
  });

  it('ends with an event: error frame when the generator throws midway', async () => {
    const res = await postJson(url('/count'), { n: 5, failAt: 2 });
    assert.equal(res.status, 200);
    const frames = (await res.text()).split('\n\n').filter(Boolean);
    assert.equal(frames.length, 3);
    const last = frames[2]!;
    assert.match(last, /^event: error\ndata: /);
    const body = JSON.parse(last.split('\n')[1]!.replace(/^data: /, '')) as { code: string; requestId: string; message: string };
    assert.equal(body.code, 'HANDLER_FAILED');
    assert.equal(body.requestId, res.headers.get('x-request-id'));
    assert.doesNotMatch(body.message, /failed at 2/, 'no internals outside development mode');
  });

  it('answers a normal JSON error when the input is invalid (before the stream starts)', async () => {
    const res = await postJson(url('/count'), { n: -1 });
    assert.equal(res.status, 400);
    assert.equal((await errorOf(res)).code, 'VALIDATION_FAILED');
  });
});
