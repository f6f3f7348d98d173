// TorchServe-style routes: /ping and /predictions/{m}[/{v}] with Tiffin's generic JSON handler, and
// TorchServe's {"code", "type", "message"} errors.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { linearRegression, mixedIO } from '../../onnx/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import { getJson, postJson, repositoryOver, saveOnnx, serveProtocols, tempModels, type TestServer } from '../../testing/protocol-serving.ts';

let repository: ModelRepository;
let server: TestServer;

before(async () => {
  const models = await tempModels();
  await saveOnnx(models, 'lr:1', linearRegression({ weights: [[1], [2]], bias: [1] }));
  await saveOnnx(models, 'lr:2', linearRegression({ weights: [[1], [2]], bias: [2] }));
  await saveOnnx(models, 'mixed:1', mixedIO());
  repository = repositoryOver(models, [{ name: 'lr', versions: 'all' }, { name: 'mixed' }]);
  await repository.start();
  server = await serveProtocols(repository);
});

after(async () => {
  await server?.close();
  await repository?.close();
});

test('GET /ping answers Healthy', async () => {
  assert.deepEqual(await getJson(`${server.url}/ping`), { status: 200, body: { status: 'Healthy' } });
});

test('POST /predictions/{m}: one row in, one row out; a batch in, a batch out; /{v} picks the version', async () => {
  assert.deepEqual((await postJson(`${server.url}/predictions/lr`, [1, 2])).body, [7]);
  assert.deepEqual((await postJson(`${server.url}/predictions/lr`, [[1, 2], [0, 0]])).body, [[7], [2]]);
  assert.deepEqual((await postJson(`${server.url}/predictions/lr`, { input: [1, 2] })).body, [7]);
  assert.deepEqual((await postJson(`${server.url}/predictions/lr/1`, [1, 2])).body, [6]);
});

test('several inputs by name; several outputs answer an object by name', async () => {
  const res = await postJson(`${server.url}/predictions/mixed`, { x: [1, 2, 3], count: [4], flag: [true], text: ['hi'] });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, { sum: [6], doubled: [8], negated: [false], echoed: ['hi'] });
});

test('errors use TorchServe\'s shape: code, type and message', async () => {
  const missing = await postJson(`${server.url}/predictions/nope`, [1, 2]);
  assert.equal(missing.status, 404);
  assert.deepEqual(Object.keys(missing.body as object), ['code', 'type', 'message']);
  assert.deepEqual([(missing.body as { code: number }).code, (missing.body as { type: string }).type], [404, 'ModelNotFoundException']);
  const badVersion = await postJson(`${server.url}/predictions/lr/9`, [1, 2]);
  assert.equal(badVersion.status, 404);
  const bad = await postJson(`${server.url}/predictions/lr`, [1, 2, 3]);
  assert.equal(bad.status, 400);
  assert.equal((bad.body as { type: string }).type, 'BadRequestException');
  const partial = await postJson(`${server.url}/predictions/mixed`, { x: [1, 2, 3] });
  assert.equal(partial.status, 400);
  assert.match((partial.body as { message: string }).message, /missing input "count"/);
});
