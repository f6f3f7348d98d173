// The xgboost runtime against real XGBoost JSON files: each test writes a model in the format XGBoost 2.0.3's
// save_model("model.json") produces, saves it into a real store, loads it back and checks predictions computed
// by hand from the format's rules (x < split_condition goes left, NaN takes default_left, listed categories go
// right, base_score is a probability that becomes a margin for logistic objectives). Corrupt files are refused.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Models } from '../../models/index.ts';
import { ModelStore } from '../../store/index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import type { Tensors } from '../tensor.ts';
import { xgboostJson, xgboostUbjson, type XgbModel } from './test-fixtures.ts';

async function store(): Promise<Models> {
  return new Models(new ModelStore(await tempDir('xgb-store')));
}

async function saveXgb(models: Models, tag: string, model: XgbModel | string | Uint8Array, name = 'model.json') {
  const file = join(await tempDir('xgb-src'), name);
  await writeFile(file, typeof model === 'string' || model instanceof Uint8Array ? model : xgboostJson(model));
  return models.save(tag, file, { framework: 'xgboost' });
}

function rows(features: number, values: number[][]): Tensors {
  return { input: { dtype: 'float32', shape: [values.length, features], data: Float32Array.from(values.flat()) } };
}

function near(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-6, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

// Two trees over two features.
// tree 0: node 0: f0 < 0.5 (missing: left) -> leaf 1 (0.1) | node 2: f1 < 2 (missing: right) -> leaf 3 (-0.2) | leaf 4 (0.3)
// tree 1: node 0: f1 < 0.1 (missing: right) -> leaf 1 (0.05) | leaf 2 (-0.05)
const REGRESSOR: XgbModel = {
  objective: 'reg:squarederror',
  numFeature: 2,
  baseScore: '5E-1',
  trees: [
    { left_children: [1, -1, 3, -1, -1], right_children: [2, -1, 4, -1, -1], split_indices: [0, 0, 1, 0, 0],
      split_conditions: [0.5, 0.1, 2, -0.2, 0.3], default_left: [1, 0, 0, 0, 0] },
    { left_children: [1, -1, -1], right_children: [2, -1, -1], split_indices: [1, 0, 0],
      split_conditions: [0.1, 0.05, -0.05], default_left: [0, 0, 0] },
  ],
};

test('reg:squarederror: strict < splits, default directions for NaN, base_score added', async () => {
  const models = await store();
  const saved = await saveXgb(models, 'reg:1', REGRESSOR);
  assert.equal(saved.framework, 'xgboost');
  assert.equal(saved.frameworkVersion, '2.0.3');
  assert.deepEqual(saved.signatures.run, {
    batchable: true, batchDim: 0,
    inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 2] }],
    outputs: [{ name: 'predictions', dtype: 'float32', shape: [-1] }],
  });
  const model = await models.load('reg:1');
  const out = await model.run(rows(2, [
    [0.2, 0.05], // 0.5 + 0.1 (0.2 < 0.5) + 0.05 (0.05 < 0.1)
    [0.2, 0.1], // 0.1 is not < 0.1 (float32 0.1 on both sides): 0.5 + 0.1 - 0.05
    [0.5, 3], // 0.5 is not < 0.5: node 2, 3 is not < 2: 0.5 + 0.3 - 0.05
    [NaN, 1.5], // NaN at node 0 goes left (default_left 1): 0.5 + 0.1 - 0.05
    [0.7, NaN], // NaN at node 2 goes right (default_left 0): 0.5 + 0.3, then tree 1 right again: - 0.05
    [0.7, 1.9999999], // 1.9999999 < 2: 0.5 - 0.2 - 0.05
  ]));
  near(out.get('predictions', 'float32').data, [0.65, 0.55, 0.75, 0.55, 0.75, 0.25], 'predictions');
  assert.deepEqual(out.get('predictions').shape, [6]);
  await model.dispose();
});

test('binary:logistic: base_score is a probability turned into a margin; label and two-column probabilities', async () => {
  const models = await store();
  // One stump: f0 < 0 -> leaf -1 | leaf 1. base_score 0.2 becomes the margin log(0.2 / 0.8).
  await saveXgb(models, 'bin:1', {
    objective: 'binary:logistic', numFeature: 1, baseScore: '2E-1',
    trees: [{ left_children: [1, -1, -1], right_children: [2, -1, -1], split_indices: [0, 0, 0], split_conditions: [0, -1, 1], default_left: [0, 0, 0] }],
  });
  const model = await models.load('bin:1');
  assert.deepEqual(model.outputs, [
    { name: 'label', dtype: 'int64', shape: [-1] },
    { name: 'probabilities', dtype: 'float32', shape: [-1, 2] },
  ]);
  const base = Math.log(0.2 / 0.8);
  const out = await model.run(rows(1, [[-3], [3], [NaN]]));
  const p = [sigmoid(base - 1), sigmoid(base + 1), sigmoid(base + 1)]; // NaN takes the default (right) child
  near(out.get('probabilities', 'float32').data, p.flatMap((q) => [1 - q, q]), 'probabilities');
  // base + 1 = -0.386: still below 0.5, so every label is 0.
  assert.deepEqual([...out.get('label', 'int64').data], [0n, 0n, 0n]);
  const only = await model.run(rows(1, [[3]]), { outputs: ['label'] });
  assert.deepEqual(Object.keys(only), ['label']);
});

test('multi:softprob: trees assigned to classes by tree_info, softmax over classes', async () => {
  const models = await store();
  const stump = (feature: number, t: number, a: number, b: number) => ({
    left_children: [1, -1, -1], right_children: [2, -1, -1], split_indices: [feature, 0, 0], split_conditions: [t, a, b], default_left: [0, 0, 0],
  });
  await saveXgb(models, 'multi:1', {
    objective: 'multi:softprob', numFeature: 2, numClass: 3, baseScore: '5E-1',
    trees: [stump(0, 1, 1, -1), stump(1, 1, -1, 1), stump(0, 2, 0, 0.5), stump(0, 1, 0.5, 0), stump(1, 1, 0, 0.5), stump(1, 3, 0.2, -0.2)],
    treeInfo: [0, 1, 2, 0, 1, 2],
  });
  const model = await models.load('multi:1');
  assert.deepEqual(model.outputs[1], { name: 'probabilities', dtype: 'float32', shape: [-1, 3] });
  const out = await model.run(rows(2, [[0, 0], [5, 5]]));
  // Row [0, 0]: class 0 = 1 + 0.5, class 1 = -1 + 0, class 2 = 0 + 0.2 (each plus base 0.5, which softmax cancels).
  // Row [5, 5]: class 0 = -1 + 0, class 1 = 1 + 0.5, class 2 = 0.5 - 0.2.
  const softmax = (s: number[]) => s.map((v) => Math.exp(v) / s.reduce((a, b) => a + Math.exp(b), 0));
  near(out.get('probabilities', 'float32').data, [...softmax([1.5, -1, 0.2]), ...softmax([-1, 1.5, 0.3])], 'probabilities');
  assert.deepEqual([...out.get('label', 'int64').data], [0n, 1n]);
});

test('categorical splits: listed categories go right, others and invalid values left, NaN takes default_left', async () => {
  const models = await store();
  // Node 0 is categorical on f0 with categories {1, 3}: right -> leaf 2 (1), left -> leaf 1 (-1).
  await saveXgb(models, 'cat:1', {
    objective: 'reg:squarederror', numFeature: 1, baseScore: '0E0',
    trees: [{
      left_children: [1, -1, -1], right_children: [2, -1, -1], split_indices: [0, 0, 0], split_conditions: [0, -1, 1], default_left: [1, 0, 0],
      split_type: [1, 0, 0], categories: [1, 3], categories_nodes: [0], categories_segments: [0], categories_sizes: [2],
    }],
  });
  const model = await models.load('cat:1');
  const out = await model.run(rows(1, [[1], [3], [3.7], [0], [2], [40], [-1], [-0.5], [NaN]]));
  // 3.7 is category 3 (truncated); 40 lies beyond the set; negatives are never a category; NaN: default left.
  near(out.get('predictions', 'float32').data, [1, 1, 1, -1, -1, -1, -1, -1, -1], 'predictions');
});

test('dart: each tree scaled by its weight_drop; a batch scores like its rows one by one', async () => {
  const models = await store();
  await saveXgb(models, 'dart:1', { ...REGRESSOR, weightDrop: [0.5, 2] });
  const model = await models.load('dart:1');
  const single = await model.run(rows(2, [[0.2, 0.05]]));
  near(single.get('predictions', 'float32').data, [0.5 + 0.1 * 0.5 + 0.05 * 2], 'dart');

  const batch: number[][] = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 4 - 1;
  for (let i = 0; i < 500; i++) batch.push([i % 17 === 0 ? NaN : rand(), rand()]);
  const all = (await model.run(rows(2, batch))).get('predictions', 'float32').data;
  for (let i = 0; i < batch.length; i += 37) {
    assert.equal(all[i], (await model.run(rows(2, [batch[i]!]))).get('predictions', 'float32').data[0], `row ${i}`);
  }
});

test('UBJSON (model.ubj): the same document in binary form loads and predicts like the JSON file', async () => {
  const models = await store();
  const saved = await saveXgb(models, 'ubj:1', xgboostUbjson(REGRESSOR), 'model.ubj');
  assert.equal(saved.entry, 'model.ubj');
  assert.equal(saved.frameworkVersion, '2.0.3');
  const values = [[0.2, 0.05], [0.2, 0.1], [0.5, 3], [NaN, 1.5], [0.7, NaN], [0.7, 1.9999999]];
  const out = await (await models.load('ubj:1')).run(rows(2, values));
  near(out.get('predictions', 'float32').data, [0.65, 0.55, 0.75, 0.55, 0.75, 0.25], 'predictions'); // as in the JSON test
});

test('bad requests: wrong width, dtype or input name get TENSOR_INVALID', async () => {
  const models = await store();
  await saveXgb(models, 'reg:1', REGRESSOR);
  const model = await models.load('reg:1');
  await assert.rejects(model.run(rows(3, [[1, 2, 3]])), { code: 'TENSOR_INVALID', message: /shape \[-1, 2\]/ });
  await assert.rejects(model.run({ input: { dtype: 'float64', shape: [1, 2], data: new Float64Array(2) } }), { code: 'TENSOR_INVALID', message: /float32/ });
  await assert.rejects(model.run({ x: { dtype: 'float32', shape: [1, 2], data: new Float32Array(2) } }), { code: 'TENSOR_INVALID', message: /unknown input "x"/ });
});

test('refused at save time with a clear message, leaving the store empty', async () => {
  const models = await store();
  const good = JSON.parse(xgboostJson(REGRESSOR)) as { learner: Record<string, any> };
  const mutate = (f: (doc: { learner: Record<string, any> }) => void) => {
    const doc = structuredClone(good);
    f(doc);
    return JSON.stringify(doc);
  };
  const text = xgboostJson(REGRESSOR);
  const cases: [string, string | Uint8Array, RegExp][] = [
    ['cut short', text.slice(0, Math.floor(text.length / 2)), /is not JSON/],
    ['LightGBM text', 'tree\nversion=v4\nnum_class=1\n', /looks like a LightGBM text model/],
    ['UBJSON cut short', xgboostUbjson(REGRESSOR).subarray(0, 300), /is not valid UBJSON: the file ends early/],
    ['UBJSON with a bad marker', Buffer.from('{L\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0007learner?', 'latin1'), /unknown type marker "\?"/],
    ['an ONNX file', '\u0008\u0008\u0012\u0006tiffin', /is not JSON/],
    ['no learner', '{"version":[2,0,3]}', /learner must be an object/],
    ['gblinear', mutate((d) => { d.learner.gradient_booster = { name: 'gblinear', model: { weights: [1, 2, 3] } }; }), /not a tree booster/],
    ['cycle', mutate((d) => { d.learner.gradient_booster.model.trees[0].left_children[2] = 0; }), /reached twice/],
    ['child out of range', mutate((d) => { d.learner.gradient_booster.model.trees[1].right_children[0] = 9; }), /refers to node 9/],
    ['feature out of range', mutate((d) => { d.learner.gradient_booster.model.trees[1].split_indices[0] = 5; }), /feature 5, but rows have 2/],
    ['array length', mutate((d) => { d.learner.gradient_booster.model.trees[0].split_conditions.pop(); }), /split_conditions has 4 entries, expected 5/],
    ['objective', mutate((d) => { d.learner.objective.name = 'binary:hinge'; }), /objective "binary:hinge" is not supported/],
    ['base_score', mutate((d) => { d.learner.objective.name = 'binary:logistic'; d.learner.learner_model_param.base_score = '1.5'; }), /strictly between 0 and 1/],
    ['tree_info', mutate((d) => { d.learner.gradient_booster.model.tree_info = [0]; }), /tree_info has 1 entries, expected 2/],
  ];
  for (const [what, body, message] of cases) {
    await assert.rejects(saveXgb(models, 'bad:1', body), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MODEL_INVALID', `${what}: ${err.message}`);
      assert.match(err.message, message, what);
      return true;
    });
  }
  assert.deepEqual(await models.list(), []);
});
