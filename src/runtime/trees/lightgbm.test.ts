// The lightgbm runtime against real LightGBM text models: each test writes a file as LightGBM 4's
// save_model("model.txt") does, saves it into a real store, loads it and checks predictions worked out by hand
// from the format's rules (LightGBM's tree.h): x <= threshold goes left; decision_type bit 0 categorical, bit 1
// default left, bits 2-3 missing type (None: NaN is read as 0; Zero: 0 and NaN take the default; NaN: NaN takes
// the default); categories in the bitset go left, NaN and negatives right; a child < 0 is leaf ~child.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Models } from '../../models/index.ts';
import { ModelStore } from '../../store/index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import type { Tensors } from '../tensor.ts';
import { lightgbmText, xgboostJson, type LgbModel, type LgbTree } from './test-fixtures.ts';

async function store(): Promise<Models> {
  return new Models(new ModelStore(await tempDir('lgb-store')));
}

async function saveLgb(models: Models, tag: string, model: LgbModel | string) {
  const file = join(await tempDir('lgb-src'), 'model.txt');
  await writeFile(file, typeof model === 'string' ? model : lightgbmText(model));
  return models.save(tag, file, { framework: 'lightgbm' });
}

function rows(features: number, values: number[][]): Tensors {
  return { input: { dtype: 'float32', shape: [values.length, features], data: Float32Array.from(values.flat()) } };
}

function near(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-6, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

const stump = (feature: number, threshold: number, left: number, right: number, decision = 2): LgbTree => ({
  num_leaves: 2, split_feature: [feature], threshold: [threshold], decision_type: [decision], left_child: [-1], right_child: [-2], leaf_value: [left, right],
});

// Tree 0: split 0: f0 <= 0.5, missing NaN, default left (decision_type 2 | 2 << 2 = 10) -> split 1 | split 2
//         split 1: f1 <= 1.5, missing Zero, default right (1 << 2 = 4) -> leaf 0 (1) | leaf 1 (2)
//         split 2: f1 <= -0.5, missing None (0) -> leaf 2 (3) | leaf 3 (4)
// Tree 1: a single leaf, 0.25.  Tree 2: f0 <= 100, missing NaN, default right (8) -> leaf 0 (0) | leaf 1 (10).
const REGRESSOR: LgbModel = {
  objective: 'regression',
  maxFeatureIdx: 1,
  trees: [
    { num_leaves: 4, split_feature: [0, 1, 1], threshold: [0.5, 1.5, -0.5], decision_type: [10, 4, 0], left_child: [1, -1, -3], right_child: [2, -2, -4], leaf_value: [1, 2, 3, 4] },
    { num_leaves: 1, leaf_value: [0.25] },
    stump(0, 100, 0, 10, 8),
  ],
};

test('regression: <= splits, the three missing types, default directions, a single-leaf tree', async () => {
  const models = await store();
  const saved = await saveLgb(models, 'reg:1', REGRESSOR);
  assert.equal(saved.framework, 'lightgbm');
  assert.equal(saved.frameworkVersion, 'v4');
  assert.deepEqual(saved.signatures.run, {
    batchable: true, batchDim: 0,
    inputs: [{ name: 'input', dtype: 'float32', shape: [-1, 2] }],
    outputs: [{ name: 'predictions', dtype: 'float32', shape: [-1] }],
  });
  const model = await models.load('reg:1');
  const out = await model.run(rows(2, [
    [0.5, 1.0], // 0.5 <= 0.5: split 1; 1 <= 1.5: leaf 0 = 1; + 0.25 + 0
    [NaN, 2], // NaN at split 0 (type NaN, default left): split 1; 2 > 1.5: leaf 1 = 2; tree 2: NaN, default right: 10
    [0.2, 0], // 0 at split 1 (type Zero) is missing: default right, leaf 1 = 2 (a plain 0 <= 1.5 would go left)
    [0.2, NaN], // NaN at split 1 (type Zero) counts as zero: missing, leaf 1 = 2
    [0.6, NaN], // split 2 (type None): NaN is read as 0; 0 > -0.5: leaf 3 = 4
    [0.6, -0.5], // -0.5 <= -0.5: leaf 2 = 3
    [200, 0], // split 2: leaf 3 = 4; tree 2: 200 > 100: 10
  ]));
  near(out.get('predictions', 'float32').data, [1.25, 12.25, 2.25, 2.25, 4.25, 3.25, 14.25], 'predictions');
});

test('binary sigmoid:k: probability 1 / (1 + exp(-k * score)), label where it passes 0.5', async () => {
  const models = await store();
  await saveLgb(models, 'bin:1', { objective: 'binary sigmoid:0.5', maxFeatureIdx: 0, trees: [stump(0, 0, -2, 1), stump(0, 5, 0.5, 3)] });
  const model = await models.load('bin:1');
  assert.deepEqual(model.outputs, [
    { name: 'label', dtype: 'int64', shape: [-1] },
    { name: 'probabilities', dtype: 'float32', shape: [-1, 2] },
  ]);
  const out = await model.run(rows(1, [[-1], [1], [6]]));
  const p = [-1.5, 1.5, 4].map((s) => 1 / (1 + Math.exp(-0.5 * s))); // scores: -2 + 0.5, 1 + 0.5, 1 + 3
  near(out.get('probabilities', 'float32').data, p.flatMap((q) => [1 - q, q]), 'probabilities');
  assert.deepEqual([...out.get('label', 'int64').data], [0n, 1n, 1n]);
});

test('multiclass: tree i adds to class i % num_tree_per_iteration; softmax; multiclassova sigmoids each class', async () => {
  const models = await store();
  const trees = [stump(0, 1, 1, -1), stump(1, 1, -1, 1), stump(0, 2, 0, 0.5), stump(0, 1, 0.5, 0), stump(1, 1, 0, 0.5), stump(1, 3, 0.2, -0.2)];
  await saveLgb(models, 'multi:1', { objective: 'multiclass num_class:3', numClass: 3, maxFeatureIdx: 1, trees });
  const model = await models.load('multi:1');
  const out = await model.run(rows(2, [[0, 0], [5, 5]]));
  // Row [0, 0]: classes 1 + 0.5, -1 + 0, 0 + 0.2; row [5, 5]: -1 + 0, 1 + 0.5, 0.5 - 0.2.
  const softmax = (s: number[]) => s.map((v) => Math.exp(v) / s.reduce((a, b) => a + Math.exp(b), 0));
  near(out.get('probabilities', 'float32').data, [...softmax([1.5, -1, 0.2]), ...softmax([-1, 1.5, 0.3])], 'softmax');
  assert.deepEqual([...out.get('label', 'int64').data], [0n, 1n]);

  await saveLgb(models, 'ova:1', { objective: 'multiclassova num_class:3 sigmoid:1', numClass: 3, maxFeatureIdx: 1, trees });
  const ova = await (await models.load('ova:1')).run(rows(2, [[0, 0]]));
  near(ova.get('probabilities', 'float32').data, [1.5, -1, 0.2].map((s) => 1 / (1 + Math.exp(-s))), 'ova');
});

test('categorical splits: bitset categories go left; NaN and negatives right; -0.5 truncates to category 0', async () => {
  const models = await store();
  // Categories {0, 1, 3, 33}: word 0 = 1 | 2 | 8 = 11, word 1 = 1 << 1 = 2. decision_type 1 | (NaN missing << 2) = 9.
  await saveLgb(models, 'cat:1', {
    objective: 'regression', maxFeatureIdx: 0,
    trees: [{ num_leaves: 2, split_feature: [0], threshold: [0], decision_type: [9], left_child: [-1], right_child: [-2], leaf_value: [-1, 1], cat_boundaries: [0, 2], cat_threshold: [11, 2] }],
  });
  const model = await models.load('cat:1');
  const out = await model.run(rows(1, [[0], [1], [1.9], [3], [33], [2], [32], [64], [NaN], [-1], [-0.5]]));
  near(out.get('predictions', 'float32').data, [-1, -1, -1, -1, -1, 1, 1, 1, 1, 1, -1], 'predictions');
});

test('float64 thresholds compare exactly with float32 inputs; a batch scores like its rows one by one', async () => {
  const models = await store();
  // float32(0.3) = 0.30000001192... is above the double 0.30000000000000004, so it goes right; float32(0.2) goes left.
  await saveLgb(models, 'thr:1', { objective: 'multiclass num_class:2', numClass: 2, maxFeatureIdx: 0, trees: [stump(0, 0.30000000000000004, 1, 2), stump(0, -1e300, 5, 7)] });
  const model = await models.load('thr:1');
  const probs = (await model.run(rows(1, [[0.3], [0.2]]))).get('probabilities', 'float32').data;
  const softmax = (s: number[]) => s.map((v) => Math.exp(v) / s.reduce((a, b) => a + Math.exp(b), 0));
  near(probs, [...softmax([2, 7]), ...softmax([1, 7])], 'probabilities');
  const batch = Array.from({ length: 203 }, (_, i) => [i % 11 === 0 ? NaN : (i - 100) / 97]);
  const all = (await model.run(rows(1, batch))).get('probabilities', 'float32').data;
  for (let i = 0; i < batch.length; i += 29) {
    assert.deepEqual([...all.subarray(i * 2, i * 2 + 2)], [...(await model.run(rows(1, [batch[i]!]))).get('probabilities', 'float32').data], `row ${i}`);
  }
});

test('average_output (random forest mode): the mean of the trees, not their sum', async () => {
  const models = await store();
  await saveLgb(models, 'rf:1', { objective: 'regression', maxFeatureIdx: 0, averageOutput: true, trees: [stump(0, 0, 1, 2), stump(0, 0, 3, 6)] });
  const out = await (await models.load('rf:1')).run(rows(1, [[-1], [1]]));
  near(out.get('predictions', 'float32').data, [2, 4], 'mean'); // (1 + 3) / 2, (2 + 6) / 2
});

test('refused at save time with a clear message, leaving the store empty', async () => {
  const models = await store();
  const text = lightgbmText(REGRESSOR);
  const cases: [string, string, RegExp][] = [
    ['XGBoost JSON', xgboostJson({ objective: 'reg:squarederror', numFeature: 1, baseScore: '5E-1', trees: [] }), /looks like JSON: an XGBoost model\?/],
    ['cut short', text.slice(0, text.indexOf('Tree=1')), /no "end of trees" line|tree_sizes lists 3 trees but the file holds 1/],
    ['binary garbage', '\u0000\u0001\u0002binary', /first line must be "tree"/],
    ['tree count', lightgbmText({ ...REGRESSOR, header: { tree_sizes: '10 20' } }), /tree_sizes lists 2 trees but the file holds 3/],
    ['child out of range', text.replace('left_child=1 -1 -3', 'left_child=7 -1 -3'), /refers to node 7/],
    ['leaf out of range', text.replace('right_child=2 -2 -4', 'right_child=2 -2 -9'), /refers to node 11/],
    ['cycle', text.replace('left_child=1 -1 -3', 'left_child=1 0 -3'), /reached twice/],
    ['feature out of range', text.replace('split_feature=0 1 1', 'split_feature=0 1 4'), /feature 4, but rows have 2/],
    ['short array', text.replace('threshold=0.5 1.5 -0.5', 'threshold=0.5 1.5'), /threshold has 2 values, expected 3/],
    ['not a number', text.replace('leaf_value=1 2 3 4', 'leaf_value=1 2 x 4'), /holds "x", not a number/],
    ['objective', lightgbmText({ ...REGRESSOR, objective: 'custom_thing' }), /objective "custom_thing" is not supported/],
    ['linear tree', text.replace('is_linear=0', 'is_linear=1'), /linear tree/],
    ['no header field', lightgbmText({ ...REGRESSOR, header: { max_feature_idx: undefined } }), /no max_feature_idx= line/],
  ];
  for (const [what, body, message] of cases) {
    await assert.rejects(saveLgb(models, 'bad:1', body), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'MODEL_INVALID', `${what}: ${err.message}`);
      assert.match(err.message, message, what);
      return true;
    });
  }
  assert.deepEqual(await models.list(), []);
});
