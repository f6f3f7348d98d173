import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { logisticRegression } from '../onnx/index.ts';
import { tensor } from '../runtime/tensor.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { Models } from './index.ts';

test('models.save validates with the runtime, stores, and models.load runs the stored copy', async () => {
  const models = new Models(new ModelStore(await tempDir('models')));
  const work = await tempDir('models-work');
  const file = join(work, 'clf.onnx');
  await writeFile(file, logisticRegression({ weights: [[2, -2], [0, 0]], bias: [0, 0] }));

  const manifest = await models.save('clf:1', file, { framework: 'onnx', batchable: true, labels: { team: 'a' }, metadata: { auc: 0.9 } });
  assert.equal(manifest.entry, 'clf.onnx');
  assert.equal(manifest.signatures.run?.batchable, true);
  assert.deepEqual(manifest.signatures.run?.outputs.map((o) => o.name), ['label', 'probabilities']);
  assert.match(manifest.files[0]!.sha256, /^[0-9a-f]{64}$/);

  await writeFile(file, 'overwritten after saving'); // the store holds its own copy
  const model = await models.load('clf');
  const out = await model.run({ input: tensor('float32', [2, 2], Float32Array.from([1, 0, -1, 0])) });
  assert.deepEqual([...(out.label!.data as BigInt64Array)], [0n, 1n]);
  await model.dispose();

  await assert.rejects(models.save('clf:2', file, { framework: 'onnx' }), (e) => isTiffinError(e, 'MODEL_INVALID'));
  assert.deepEqual((await models.list()).map((m) => m.version), ['1'], 'a refused save leaves the store as it was');
});

test('models.save stores a custom model folder and loads it back', async () => {
  const models = new Models(new ModelStore(await tempDir('models')));
  const dir = await tempDir('models-custom');
  await writeFile(join(dir, 'model.ts'), 'export default class { greet(name: string) { return `hello ${name}`; } }\n');
  const manifest = await models.save('greeter:1', dir, { framework: 'custom' });
  assert.deepEqual(Object.keys(manifest.signatures), ['greet']);
  const model = await models.load('greeter:1');
  assert.equal(await model.call('greet', 'tiffin'), 'hello tiffin');
});
