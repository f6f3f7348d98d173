// The API documentation: /docs.json is an OpenAPI 3.1 document listing every API with its request and
// response schemas (each a valid JSON Schema 2020-12, every $ref resolving), and /docs serves Swagger UI.
import assert from 'node:assert/strict';
import { before, after, describe, it } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { RunningServer } from '../../src/server/index.ts';
import { startServer } from '../../src/serving/index.ts';
import { demo } from './fixtures/demo-service.ts';
import { fakeProvider } from './helpers.ts';

type Json = Record<string, unknown>;

let server: RunningServer;
let doc: Json;

before(async () => {
  server = await startServer(demo, { port: 0, logLevel: 'silent', provider: fakeProvider({}) });
  const res = await fetch(`${server.url}/docs.json`);
  assert.equal(res.status, 200);
  doc = (await res.json()) as Json;
});

after(() => server.close());

function get(root: unknown, pointer: string): unknown {
  return pointer
    .replace(/^#\//, '')
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<unknown>((node, key) => (node !== null && typeof node === 'object' ? (node as Json)[key] : undefined), root);
}

/** Every object in the document, with its JSON pointer. */
function* walk(node: unknown, pointer = '#'): Generator<[string, Json]> {
  if (node === null || typeof node !== 'object') return;
  if (!Array.isArray(node)) yield [pointer, node as Json];
  for (const [k, v] of Object.entries(node)) yield* walk(v, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
}

describe('/docs.json', () => {
  it('is an OpenAPI 3.1 document with info from the service', () => {
    assert.equal(doc.openapi, '3.1.0');
    assert.deepEqual(doc.info, { title: 'demo', version: '1.2.3', description: 'Every io kind' });
    for (const key of Object.keys(doc)) assert.ok(['openapi', 'info', 'tags', 'paths', 'components', 'servers', 'webhooks', 'jsonSchemaDialect', 'security', 'externalDocs'].includes(key), `unexpected top-level key ${key}`);
  });

  it('lists every API as a POST at its route, with request and response content', () => {
    const paths = doc.paths as Record<string, Json>;
    for (const api of demo.apis) {
      const op = paths[api.route]?.post as Json | undefined;
      assert.ok(op, `${api.name} is documented at ${api.route}`);
      assert.equal(op.operationId, api.name);
      const content = (op.requestBody as { content: Record<string, { schema: Json }> }).content;
      assert.ok(Object.keys(content).length > 0, `${api.name} has request content`);
      for (const media of Object.values(content)) assert.equal(typeof media.schema, 'object');
      const ok = (op.responses as Record<string, Json>)['200'] as { content: Record<string, { schema: Json }> };
      assert.ok(Object.keys(ok.content).length > 0, `${api.name} has response content`);
      for (const status of ['400', '413', '415', '500', '503']) assert.ok((op.responses as Json)[status], `${api.name} documents ${status}`);
    }
    const ops = Object.values(paths).flatMap((p) => Object.values(p) as Json[]);
    assert.equal(new Set(ops.map((o) => o.operationId)).size, ops.length, 'operationIds are unique');
    for (const probe of ['/livez', '/readyz', '/healthz']) assert.ok(paths[probe]?.get, `${probe} is documented`);
  });

  it('carries the zod schemas as JSON Schema, inputs and outputs', () => {
    const sum = get(doc, '#/paths/~1sum/post') as Json;
    const input = get(sum, 'requestBody/content/application~1json/schema') as Json;
    assert.equal(input.type, 'object');
    assert.deepEqual(input.required, ['a', 'b']);
    assert.deepEqual(get(input, 'properties/b'), { type: 'number', description: 'the second addend' });
    assert.deepEqual(get(sum, 'responses/200/content/application~1json/schema/properties/label'), { type: 'string', enum: ['small', 'large'] });
    assert.deepEqual(sum.tags, ['math']);
    assert.equal(sum.summary, 'Adds two numbers with the adder model');

    const scale = get(doc, '#/paths/~1scale/post') as Json;
    assert.ok(get(scale, 'requestBody/content/application~1octet-stream'), 'binary tensors are documented');
    assert.ok((scale.parameters as Json[]).some((p) => p.name === 'x-tensor-shape' || p.$ref !== undefined));
    assert.ok(get(doc, '#/paths/~1describe/post/requestBody/content/image~1png'));
    assert.ok(get(doc, '#/paths/~1describe/post/requestBody/content/multipart~1form-data'));
    const caption = get(doc, '#/paths/~1caption/post/requestBody/content/multipart~1form-data/schema') as Json;
    assert.deepEqual(Object.keys(caption.properties as Json), ['photo', 'caption', 'count']);
    const stream = get(doc, '#/paths/~1count/post/responses/200/content/text~1event-stream') as Json;
    assert.equal((stream['x-item-schema'] as Json).type, 'object');
  });

  it('resolves every $ref, and every schema compiles as JSON Schema 2020-12', () => {
    for (const [pointer, node] of walk(doc)) {
      if (typeof node.$ref === 'string') assert.ok(get(doc, node.$ref) !== undefined, `${pointer}: $ref ${node.$ref} resolves`);
    }
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    let compiled = 0;
    for (const [pointer, node] of walk(doc)) {
      const schema = node.schema ?? node['x-item-schema'];
      if (!pointer.includes('/paths/') || schema === undefined || typeof schema !== 'object') continue;
      if ((schema as Json).$ref) continue;
      assert.doesNotThrow(() => ajv.compile(schema as Json), `${pointer}/schema compiles`);
      compiled += 1;
    }
    assert.ok(compiled > 20, `compiled ${compiled} schemas`);
    const validate = ajv.compile(get(doc, '#/paths/~1sum/post/requestBody/content/application~1json/schema') as Json);
    assert.equal(validate({ a: 1, b: 2 }), true);
    assert.equal(validate({ a: 'x' }), false);
  });
});

describe('/docs', () => {
  it('serves Swagger UI for the same document', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /swagger/i);
    assert.deepEqual(await (await fetch(`${server.url}/docs/json`)).json(), doc);
  });

  it('is absent when docs are off', async (t) => {
    const plain = await startServer(demo, { port: 0, logLevel: 'silent', provider: fakeProvider({}), docs: false });
    t.after(() => plain.close());
    assert.equal((await fetch(`${plain.url}/docs.json`)).status, 404);
    assert.equal((await fetch(`${plain.url}/docs`)).status, 404);
  });
});
