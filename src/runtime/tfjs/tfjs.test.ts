// The tfjs adapter in process: a layers model saved by tfjs itself is stored with a real signature, runs a batch
// whose answers match the hand computation (src/testing/tfjs-fixtures.ts), and broken folders are refused at save
// time with a message naming what is wrong, leaving the store empty.
import assert from 'node:assert/strict';
import { readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError } from '../../errors/index.ts';
import { Models } from '../../models/index.ts';
import { ModelStore } from '../../store/index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { expectedDense, expectedGraph, writeDenseModel, writeGraphModel } from '../../testing/tfjs-fixtures.ts';
import { tensor } from '../tensor.ts';

test('a tfjs layers model saves with its signature and runs a batch as computed by hand', async () => {
  const dir = join(await tempDir('tfjs-model'), 'dense');
  await writeDenseModel(dir);
  const models = new Models(new ModelStore(await tempDir('tfjs-store')));
  const saved = await models.save('dense:1', dir, { framework: 'tfjs', batchable: true });
  assert.equal(saved.framework, 'tfjs');
  assert.equal(saved.metadata.tfjsFormat, 'layers-model');
  assert.deepEqual(saved.signatures.run, {
    batchable: true, batchDim: 0,
    inputs: [{ name: 'hidden_input', dtype: 'float32', shape: [-1, 3] }],
    outputs: [{ name: 'score', dtype: 'float32', shape: [-1, 1] }],
  });
  const model = await models.load('dense:1');
  try {
    const rows = [[1, 2, 3], [-1, 0.5, 2], [0, 0, 0], [3, -2, 1]];
    const out = await model.run({ hidden_input: tensor('float32', [4, 3], Float32Array.from(rows.flat())) });
    const y = out.get('score', 'float32');
    assert.deepEqual(y.shape, [4, 1]);
    rows.forEach((row, i) => assert.ok(Math.abs(y.data[i]! - expectedDense(row)) < 1e-5, `row ${i}: ${y.data[i]} vs ${expectedDense(row)}`));
    await assert.rejects(model.run({ hidden_input: tensor('float32', [1, 4], new Float32Array(4)) }), (e) => isTiffinError(e));
  } finally {
    await model.dispose();
  }
});

test('a tfjs graph model (the converter format) saves with its signature and runs as computed by hand', async () => {
  const dir = join(await tempDir('tfjs-graph'), 'graph');
  await writeGraphModel(dir);
  const models = new Models(new ModelStore(await tempDir('tfjs-store')));
  const saved = await models.save('graph:1', dir, { framework: 'tfjs', batchable: true });
  assert.equal(saved.metadata.tfjsFormat, 'graph-model');
  assert.deepEqual(saved.signatures.run?.inputs, [{ name: 'features', dtype: 'float32', shape: [-1, 3] }]);
  assert.deepEqual(saved.signatures.run?.outputs.map((o) => o.name), ['scores']);
  const model = await models.load('graph:1');
  try {
    const rows = [[1, 2, 3], [-1, 0.5, 2], [4, -1, 0]];
    const out = await model.run({ features: tensor('float32', [3, 3], Float32Array.from(rows.flat())) });
    const y = out.get('scores', 'float32');
    assert.deepEqual(y.shape, [3, 2]);
    rows.forEach((row, i) => expectedGraph(row).forEach((v, j) => assert.ok(Math.abs(y.data[i * 2 + j]! - v) < 1e-5, `row ${i}[${j}]: ${y.data[i * 2 + j]} vs ${v}`)));
  } finally {
    await model.dispose();
  }
});

test('broken tfjs folders are refused at save time, naming the problem, and nothing is stored', async () => {
  const root = await tempDir('tfjs-broken');
  const store = new ModelStore(await tempDir('tfjs-store'));
  const models = new Models(store);
  const refuse = async (name: string, damage: (dir: string) => Promise<void>, message: RegExp) => {
    const dir = join(root, name);
    await writeDenseModel(dir);
    await damage(dir);
    await assert.rejects(models.save(`${name}:1`, dir, { framework: 'tfjs' }), (e) => {
      assert.ok(isTiffinError(e, 'MODEL_INVALID'), String(e));
      assert.match(e.message, message);
      return true;
    });
  };
  await refuse('truncated', (d) => truncate(join(d, 'weights.bin'), 20), /hold 20 bytes.*need 44/);
  await refuse('missing', (d) => rm(join(d, 'weights.bin')), /lists the weight file weights\.bin, which is not in/);
  await refuse('notjson', (d) => writeFile(join(d, 'model.json'), '{"modelTopology": '), /model\.json is not valid JSON/);
  await refuse('escape', async (d) => {
    const json = JSON.parse(await readFile(join(d, 'model.json'), 'utf8')) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0]!.paths = ['../outside.bin'];
    await writeFile(join(d, 'model.json'), JSON.stringify(json));
  }, /outside the model folder/);
  await refuse('onnx', (d) => writeFile(join(d, 'model.json'), JSON.stringify({ producer: 'not tfjs' })), /no modelTopology/);
  assert.deepEqual((await store.list()).map((m) => m.name), []);
});
