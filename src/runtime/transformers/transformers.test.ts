// The transformers runtime on a tiny model whose files the test writes (src/testing/transformers-fixtures.ts):
// saved into a real store and loaded back, its answers checked against the embedding table computed here (mean or
// [CLS] rows, normalized; softmax of the classifier's logits); padded batches equal texts run alone; corrupt,
// missing or wrong files refused at save time, leaving the store as it was; a missing package named with its fix.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isTiffinError } from '../../errors/index.ts';
import { Models } from '../../models/index.ts';
import { ModelStore } from '../../store/index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { linearRegression } from '../../onnx/builders.ts';
import { embeddingBagClassifier } from '../../onnx/text-models.ts';
import { BIAS, DIM, EMBEDDINGS, LABELS, WEIGHTS, expectedEmbedding, expectedScores, tokenize, writeTinyModel } from '../../testing/transformers-fixtures.ts';
import { tensor } from '../tensor.ts';
import { loadTransformers, modelLocation } from './library.ts';

const TEXTS = ['good movie', 'the plot was very very boring and bad', 'GREAT!', 'zebra'];

function near(actual: ArrayLike<number>, expected: readonly number[], what: string, eps = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < eps, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

const texts = (list: string[]) => ({ text: tensor('string', [list.length], [...list]) });

test('feature-extraction: saved with its settings, loaded from the store, mean/cls pooling and normalize as computed by hand', async () => {
  const models = new Models(new ModelStore(await tempDir('tf-store')));
  const folder = await writeTinyModel(await tempDir('tf-encoder'), 'feature-extraction');
  assert.ok(new Set(TEXTS.map((t) => tokenize(t).length)).size > 1, 'the texts tokenize to different lengths, so a batch pads');

  const saved = await models.save('enc:1', folder, { framework: 'transformers' });
  assert.equal(saved.entry, 'onnx/model.onnx');
  assert.match(saved.frameworkVersion, /^4\./);
  assert.deepEqual(saved.metadata, { task: 'feature-extraction', pooling: 'mean', normalize: true });
  assert.deepEqual(saved.signatures, {
    run: { batchable: true, batchDim: 0, inputs: [{ name: 'text', dtype: 'string', shape: [-1] }], outputs: [{ name: 'embeddings', dtype: 'float32', shape: [-1, DIM] }] },
  });
  assert.deepEqual(saved.files.map((f) => f.path).sort(), ['config.json', 'onnx/model.onnx', 'tokenizer.json', 'tokenizer_config.json']);

  await rm(folder, { recursive: true }); // loading reads the store's copy only
  const model = await models.load('enc:1');
  try {
    const batched = await model.run(texts(TEXTS));
    const emb = batched.get('embeddings', 'float32');
    assert.deepEqual(emb.shape, [TEXTS.length, DIM]);
    TEXTS.forEach((t, i) => near(emb.data.subarray(i * DIM, (i + 1) * DIM), expectedEmbedding(t, 'mean', true), `"${t}"`));
    for (const [i, t] of TEXTS.entries()) {
      const alone = (await model.run(texts([t]))).get('embeddings', 'float32');
      near(alone.data, Array.from(emb.data.subarray(i * DIM, (i + 1) * DIM)), `"${t}" alone vs padded in a batch`, 1e-6);
    }
    assert.deepEqual((await model.run(texts([]))).get('embeddings').shape, [0, DIM]);
    await assert.rejects(model.run({ text: tensor('float32', [1], Float32Array.of(1)) }), (e) => isTiffinError(e, 'TENSOR_INVALID'));
  } finally {
    await model.dispose();
  }

  const clsFolder = await writeTinyModel(await tempDir('tf-encoder-cls'), 'feature-extraction');
  await models.save('enc-cls:1', clsFolder, { framework: 'transformers', metadata: { pooling: 'cls', normalize: 'false', owner: 'search' } });
  assert.deepEqual((await models.get('enc-cls:1')).metadata, { owner: 'search', task: 'feature-extraction', pooling: 'cls', normalize: false });
  const cls = await models.load('enc-cls:1');
  try {
    const out = (await cls.run(texts(TEXTS))).get('embeddings', 'float32');
    TEXTS.forEach((t, i) => near(out.data.subarray(i * DIM, (i + 1) * DIM), expectedEmbedding(t, 'cls', false), `cls "${t}"`));
  } finally {
    await cls.dispose();
  }
});

test('text-classification: the task comes from config.json; label, score and every label\'s score are softmax(logits)', async () => {
  const models = new Models(new ModelStore(await tempDir('tf-store')));
  const folder = await writeTinyModel(await tempDir('tf-classifier'), 'text-classification');
  const saved = await models.save('sentiment:1', folder, { framework: 'transformers' });
  assert.deepEqual(saved.metadata, { task: 'text-classification' });
  assert.deepEqual(saved.signatures.run?.outputs, [
    { name: 'label', dtype: 'string', shape: [-1] }, { name: 'score', dtype: 'float32', shape: [-1] }, { name: 'scores', dtype: 'float32', shape: [-1, 2] },
  ]);
  const model = await models.load('sentiment:1');
  try {
    const out = await model.run(texts(TEXTS));
    const scores = out.get('scores', 'float32');
    TEXTS.forEach((t, i) => {
      const want = expectedScores(t);
      near(scores.data.subarray(i * 2, i * 2 + 2), want, `scores "${t}"`);
      const best = want[1]! > want[0]! ? 1 : 0;
      assert.equal(out.get('label', 'string').data[i], LABELS[best]);
      near([out.get('score', 'float32').data[i]!], [want[best]!], `score "${t}"`);
    });
    assert.ok(new Set(out.get('label', 'string').data).size === 2, 'the texts get both labels');
    const onlyLabel = await model.run(texts(['good']), { outputs: ['label'] });
    assert.deepEqual(Object.keys(onlyLabel), ['label']);
  } finally {
    await model.dispose();
  }
});

test('a folder with a missing, corrupt or wrong file is refused at save time, naming the file; the store is left as it was', async () => {
  const models = new Models(new ModelStore(await tempDir('tf-store')));
  const good = await writeTinyModel(await tempDir('tf-good'), 'feature-extraction');
  let n = 0;
  async function refused(change: (dir: string) => Promise<void>, message: RegExp, metadata?: Record<string, unknown>): Promise<void> {
    const dir = join(await tempDir('tf-bad'), `case-${n++}`);
    await cp(good, dir, { recursive: true });
    await change(dir);
    await assert.rejects(models.save(`bad:${n}`, dir, { framework: 'transformers', ...(metadata ? { metadata } : {}) }), (e) => {
      assert.ok(isTiffinError(e, 'MODEL_INVALID'), String(e));
      assert.match((e as Error).message, message);
      return true;
    });
  }
  await refused((d) => rm(join(d, 'config.json')), /config\.json is missing/);
  await refused((d) => writeFile(join(d, 'config.json'), '{"model_type": "bert",'), /config\.json is not valid JSON/);
  await refused((d) => writeFile(join(d, 'config.json'), '{"hidden_size": 4}'), /config\.json has no "model_type"/);
  await refused((d) => writeFile(join(d, 'onnx', 'model.onnx'), embeddingBagClassifier({ embeddings: EMBEDDINGS, weights: WEIGHTS, bias: BIAS })),
    /must return last_hidden_state .* for feature-extraction; it returns logits/);
  await refused((d) => writeFile(join(d, 'onnx', 'model.onnx'), linearRegression({ weights: [[1]], bias: [0] })), /must take input_ids \(int64/);
  await refused((d) => rm(join(d, 'tokenizer.json')), /tokenizer\.json is missing/);
  await refused((d) => writeFile(join(d, 'tokenizer.json'), '{"version": "1.0", "model": {'), /tokenizer\.json is not valid JSON/);
  await refused((d) => writeFile(join(d, 'tokenizer.json'), '{"version": "1.0"}'), /tokenizer\.json has no "model"/);
  await refused((d) => rm(join(d, 'tokenizer_config.json')), /tokenizer_config\.json is missing/);
  await refused((d) => rm(join(d, 'onnx', 'model.onnx')), /no ONNX file/);
  await refused((d) => writeFile(join(d, 'onnx', 'model.onnx'), 'not a protobuf at all'), /onnx\/model\.onnx is not a model onnxruntime can load/);
  await refused(async () => {}, /not served; the transformers framework serves feature-extraction and text-classification/, { task: 'translation' });
  await refused(async () => {}, /pooling must be mean or cls/, { pooling: 'max' });
  await refused(async () => {}, /id2label/, { task: 'text-classification' });
  await assert.rejects(models.save('bad:file', join(good, 'config.json'), { framework: 'transformers' }), /save the model folder/);
  await assert.rejects(models.save('bad:sub', join(good, 'onnx'), { framework: 'transformers' }), /not its onnx\/ subfolder/);
  assert.deepEqual(await models.list(), [], 'no refused save left a version behind');
});

test('a missing @huggingface/transformers is FRAMEWORK_UNAVAILABLE with the command that installs it; folders map into localModelPath', async () => {
  await assert.rejects(loadTransformers('@huggingface/transformers-not-installed'), (e) => {
    assert.ok(isTiffinError(e, 'FRAMEWORK_UNAVAILABLE'));
    assert.match((e as Error).message, /npm install @huggingface\/transformers@4/);
    return true;
  });
  assert.deepEqual(modelLocation('/home/u/.tiffin/models/minilm/01abc'), { localModelPath: '/home/u/.tiffin/models', id: 'minilm/01abc' });
  assert.deepEqual(modelLocation('/tmp/my models/a b'), { localModelPath: '/tmp/my models', id: '/tmp/my models/a b' });
});

test('importing tiffin does not load @huggingface/transformers: only a save or load of a transformers model does', async () => {
  // The package's CommonJS dependencies (sharp) land in require.cache when it loads; none may be there after the index.
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(${JSON.stringify(fileURLToPath(new URL('../../../package.json', import.meta.url)))});
    const loaded = () => Object.keys(require.cache).filter((k) => k.includes('@huggingface/transformers')).length;
    await import(${JSON.stringify(fileURLToPath(new URL('../../index.ts', import.meta.url)))});
    const before = loaded();
    await import('@huggingface/transformers');
    console.log(JSON.stringify({ before, after: loaded() }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('../../../', import.meta.url)) });
  const { before, after } = JSON.parse(stdout) as { before: number; after: number };
  assert.equal(before, 0, 'the index loaded none of it');
  assert.ok(after > 0, 'the probe sees the package once it is imported');
});
