// The quickstart, end to end: train the Iris model, save it, serve examples/iris/service.ts through runners,
// and send the request the README's curl line sends.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import iris from '../../examples/iris/service.ts';
import { loadIris, train } from '../../examples/iris/train.ts';
import { Models } from '../../src/models/index.ts';
import { logisticRegression } from '../../src/onnx/index.ts';
import { RunnerModelProvider, startServer } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

test('the README quickstart: the Iris service answers the curl request with the right species', async (t) => {
  const trained = train(await loadIris());
  assert.ok(trained.accuracy > 0.95, `training accuracy ${trained.accuracy}`);
  const work = await tempDir('iris');
  const file = join(work, 'iris.onnx');
  await writeFile(file, logisticRegression({ weights: trained.weights, bias: trained.bias }));
  const models = new Models(new ModelStore(join(work, 'store')));
  await models.save('iris', file, { framework: 'onnx', batchable: true });

  const server = await startServer(iris, { port: 0, logLevel: 'silent', provider: new RunnerModelProvider({ storeRoot: models.store.root, replicas: 1 }) });
  t.after(() => server.close());
  await server.ready;

  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  const body = /-d '(\{"sepal_length".*?\})'/.exec(readme)?.[1];
  assert.ok(body, 'the README has a curl line with a JSON body');
  const res = await fetch(`${server.url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200);
  const answer = (await res.json()) as { species: string; probabilities: Record<string, number> };
  assert.equal(answer.species, 'virginica');
  assert.deepEqual(Object.keys(answer.probabilities), ['setosa', 'versicolor', 'virginica']);
  const total = Object.values(answer.probabilities).reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(total - 1) < 1e-3);

  // A setosa from the data set, and a body that names no flower.
  const setosa = await fetch(`${server.url}/classify`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sepal_length: 5.1, sepal_width: 3.5, petal_length: 1.4, petal_width: 0.2 }),
  });
  assert.equal(((await setosa.json()) as { species: string }).species, 'setosa');
  const bad = await fetch(`${server.url}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"sepal_length":-1}' });
  assert.equal(bad.status, 400);
  const error = (await bad.json()) as { code: string; details: { issues: { path: string[] }[] } };
  assert.equal(error.code, 'VALIDATION_FAILED');
  assert.deepEqual(error.details.issues.map((i) => i.path.join('.')).sort(), ['petal_length', 'petal_width', 'sepal_length', 'sepal_width']);
});
