// Models that fail to load, served for real (serveModels: runner pools in worker threads, fastify on loopback):
// one whose store entry is valid but whose ONNX file is garbage, one whose file was deleted after it was saved.
// Each is FAILED with a reason naming the model, the file and onnxruntime's own message; the V2 model-ready endpoint
// says it is not ready and why; /v2/health/ready follows strictReadiness; and the healthy model keeps serving.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Models } from '../../src/models/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { getJson, postJson, saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

let models: Models;
const servers: ModelServer[] = [];
const served = [{ name: 'good' }, { name: 'garbled' }, { name: 'deleted' }];
/** The file each broken model's runtime was asked to load, and the words onnxruntime uses for what is wrong. */
const broken: Record<string, { file: string; runtime: RegExp }> = {};

before(async () => {
  models = await tempModels();
  await saveOnnx(models, 'good:1', linearRegression({ weights: [[2]], bias: [1] }));
  // Garbage saved through the store itself: model.yaml and its sha256 are right, so verify passes; only the runtime can tell.
  const dir = await tempDir('garbage');
  await writeFile(join(dir, 'model.onnx'), randomBytes(300));
  await models.store.write({ name: 'garbled', version: '1', framework: 'onnx', frameworkVersion: '1.30.0', sourcePath: join(dir, 'model.onnx'), signatures: (await models.get('good:1')).signatures });
  broken.garbled = { file: join(models.store.root, 'garbled', '1', 'model.onnx'), runtime: /Protobuf parsing failed/ };
  // A model file deleted after the save (a bad copy, a cleanup script).
  const m = await saveOnnx(models, 'deleted:1', linearRegression({ weights: [[2]], bias: [1] }));
  await rm(join(models.store.root, 'deleted', '1', m.entry));
  broken.deleted = { file: join(models.store.root, 'deleted', '1', m.entry), runtime: /File doesn't exist/ };
});

after(async () => {
  for (const s of servers) await s.close();
});

async function serve(strictReadiness?: boolean): Promise<ModelServer> {
  const server = await serveModels({
    store: models.store, models: served, pollIntervalMs: 0, grpc: false, http: { port: 0, logLevel: 'silent' },
    ...(strictReadiness === undefined ? {} : { strictReadiness }),
  });
  servers.push(server);
  await server.ready;
  return server;
}

const infer = (url: string, model: string) => postJson(`${url}/v2/models/${model}/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], data: [3] }] });

/** The cause, in full: which model and version, which file, and what onnxruntime said. */
function assertNamesCause(text: string, name: string): void {
  const { file, runtime } = broken[name]!;
  assert.ok(text.includes(`${name}:1`), `names the model: ${text}`);
  assert.ok(text.includes(file), `names the file ${file}: ${text}`);
  assert.match(text, /onnxruntime could not load/);
  assert.match(text, runtime, `carries the runtime's message: ${text}`);
}

test('the store cannot see a garbage ONNX file (its digest is right) but sees a deleted one', async () => {
  assert.deepEqual(await models.verify(), [
    { tag: 'deleted:1', ok: false, problems: ['model.onnx is missing'] },
    { tag: 'garbled:1', ok: true, problems: [] },
    { tag: 'good:1', ok: true, problems: [] },
  ]);
});

test('broken models are FAILED with the cause, not ready over V2, the server is unready (strict), and the good model keeps serving', async () => {
  const { url } = await serve();
  const index = (await postJson(`${url}/v2/repository/index`, {})).body as { name: string; version: string; state: string; reason: string }[];
  assert.deepEqual(index.map((r) => [r.name, r.version, r.state]), [['deleted', '1', 'FAILED'], ['garbled', '1', 'FAILED'], ['good', '1', 'READY']]);
  for (const name of ['garbled', 'deleted']) {
    assertNamesCause(index.find((r) => r.name === name)!.reason, name);
    const ready = await getJson(`${url}/v2/models/${name}/ready`);
    assert.equal(ready.status, 400);
    const body = ready.body as { name: string; ready: boolean; error: string };
    assert.deepEqual([body.name, body.ready], [name, false]);
    assertNamesCause(body.error, name);
    assert.equal((await getJson(`${url}/v2/models/${name}/versions/1/ready`)).status, 400);
    const res = await infer(url, name);
    assert.equal(res.status, 503);
    assertNamesCause((res.body as { error: string }).error, name);
  }
  assert.deepEqual(await getJson(`${url}/v2/models/good/ready`), { status: 200, body: { name: 'good', ready: true } });
  assert.deepEqual(await getJson(`${url}/v2/health/ready`), { status: 400, body: { ready: false } }, 'strict readiness: a configured model that failed makes the server unready');
  assert.deepEqual(await getJson(`${url}/v2/health/live`), { status: 200, body: { live: true } }, 'but it is alive: restarting it would not help');
  const readyz = await getJson(`${url}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match((readyz.body as { message: string }).message, /\/v2\/repository\/index/, 'the probe says where to look');

  // The good model serves, before and after the broken ones are asked for, and under concurrent calls.
  const results = await Promise.all(Array.from({ length: 8 }, () => infer(url, 'good')));
  for (const r of results) {
    assert.equal(r.status, 200);
    assert.deepEqual((r.body as { outputs: { data: number[] }[] }).outputs[0]!.data, [7]);
  }
});

test('with strictReadiness off the server is ready while the broken models stay not ready', async () => {
  const { url } = await serve(false);
  assert.deepEqual(await getJson(`${url}/v2/health/ready`), { status: 200, body: { ready: true } });
  assert.equal((await getJson(`${url}/v2/models/garbled/ready`)).status, 400);
  assert.equal((await getJson(`${url}/v2/models/deleted/ready`)).status, 400);
  assert.equal((await infer(url, 'good')).status, 200);
  assert.equal((await infer(url, 'garbled')).status, 503);
});
