// Random trees against a reference: many generated XGBoost and LightGBM models (unbalanced shapes, every
// decision_type, categorical splits, default directions) scored by the runtimes and by a direct, node-by-node
// reading of each format's rules written here from the libraries' own decision functions (XGBoost's
// predict_fn.h GetNextNode and categorical.h Decision; LightGBM's tree.h NumericalDecision and
// CategoricalDecision), on inputs full of the edge cases: NaN, 0, ±1e-36, -0.5, thresholds themselves.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Models } from '../../models/index.ts';
import { mulberry32 } from '../../onnx/index.ts';
import { ModelStore } from '../../store/index.ts';
import { tempDir } from '../../testing/temp-dir.ts';
import { lightgbmText, xgboostJson, type LgbTree, type XgbTree } from './test-fixtures.ts';

const FEATURES = 4;
const random = mulberry32(2026);
const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)]!;
const THRESHOLDS = [0, 0.5, -0.5, 1, 2.5, 0.1, 0.30000000000000004, -1e-36];

function inputs(n: number): number[][] {
  const special = [NaN, 0, -0, 1e-36, -1e-36, -0.5, 0.5, 1, 2, 3, 0.1, 0.3, -1, 2.5, 40];
  return Array.from({ length: n }, () => Array.from({ length: FEATURES }, () => (random() < 0.6 ? pick(special) : (random() - 0.5) * 8)));
}

async function predictions(framework: string, file: string, body: string, rows: number[][]): Promise<Float32Array> {
  const dir = await tempDir(`random-${framework}`);
  await writeFile(join(dir, file), body);
  const models = new Models(new ModelStore(join(dir, 'store')));
  await models.save('m', join(dir, file), { framework });
  const model = await models.load('m');
  const out = await model.run({ input: { dtype: 'float32', shape: [rows.length, FEATURES], data: Float32Array.from(rows.flat()) } });
  return out.get('predictions', 'float32').data;
}

/** A random LightGBM tree grown leaf-wise: split a random leaf until `leaves` leaves. */
function lgbTree(leaves: number): LgbTree {
  const t: Required<LgbTree> = { num_leaves: leaves, split_feature: [], threshold: [], decision_type: [], left_child: [], right_child: [],
    leaf_value: [], cat_boundaries: [0], cat_threshold: [] };
  // Leaf slots: where each current leaf hangs ([split, side]); leaf 0 starts as the root.
  const hang: [number, 'left_child' | 'right_child'][] = [[-1, 'left_child']];
  for (let s = 0; s < leaves - 1; s++) {
    const leaf = Math.floor(random() * hang.length);
    const [parent, side] = hang[leaf]!;
    if (parent >= 0) t[side][parent] = s;
    t.split_feature.push(Math.floor(random() * FEATURES));
    if (random() < 0.25) {
      const cats = [0, 1, 2, 3, 33, 40].filter(() => random() < 0.5);
      const words = [0, 0];
      for (const c of cats) words[c >>> 5]! |= 1 << (c & 31);
      t.threshold.push(t.cat_boundaries.length - 1);
      t.cat_threshold.push(words[0]! >>> 0, words[1]! >>> 0);
      t.cat_boundaries.push(t.cat_threshold.length);
      t.decision_type.push(1 | (pick([0, 2]) << 2));
    } else {
      t.threshold.push(pick(THRESHOLDS));
      t.decision_type.push(pick([0, 2]) | (pick([0, 1, 2]) << 2));
    }
    // The chosen leaf becomes this split; its left keeps the leaf's index, its right is a new leaf.
    t.left_child.push(~leaf);
    t.right_child.push(~hang.length);
    hang[leaf] = [s, 'left_child'];
    hang.push([s, 'right_child']);
  }
  t.leaf_value = Array.from({ length: leaves }, () => Math.round((random() - 0.5) * 2000) / 1000);
  if (t.cat_boundaries.length === 1) return { ...t, cat_boundaries: undefined, cat_threshold: undefined } as LgbTree;
  return t;
}

/** LightGBM's tree.h, node by node. */
function lgbReference(trees: LgbTree[], row: number[]): number {
  let sum = 0;
  for (const t of trees) {
    if (t.num_leaves === 1) {
      sum += t.leaf_value[0]!;
      continue;
    }
    let node = 0;
    while (node >= 0) {
      let x = Math.fround(row[t.split_feature![node]!]!);
      const d = t.decision_type![node]!;
      const go = (left: boolean) => (left ? t.left_child![node]! : t.right_child![node]!);
      if (d & 1) {
        if (Number.isNaN(x) || Math.trunc(x) < 0) node = go(false);
        else {
          const c = Math.trunc(x);
          const k = t.threshold![node]!;
          const from = t.cat_boundaries![k]!;
          const n = t.cat_boundaries![k + 1]! - from;
          node = go(c >>> 5 < n && ((t.cat_threshold![from + (c >>> 5)]! >>> (c & 31)) & 1) === 1);
        }
        continue;
      }
      const missing = (d >> 2) & 3;
      if (Number.isNaN(x) && missing !== 2) x = 0;
      if ((missing === 1 && x >= -1e-35 && x <= 1e-35) || (missing === 2 && Number.isNaN(x))) node = go((d & 2) !== 0);
      else node = go(x <= t.threshold![node]!);
    }
    sum += t.leaf_value[~node]!;
  }
  return sum;
}

/** A random XGBoost tree in breadth-first ids, grown by splitting random leaves. */
function xgbTree(splits: number): XgbTree {
  const t: Required<XgbTree> = { left_children: [-1], right_children: [-1], split_indices: [0], split_conditions: [0], default_left: [0],
    split_type: [0], categories: [], categories_nodes: [], categories_segments: [], categories_sizes: [] };
  for (let s = 0; s < splits; s++) {
    const leaves = t.left_children.flatMap((c, i) => (c === -1 ? [i] : []));
    const node = pick(leaves);
    const l = t.left_children.length;
    t.left_children[node] = l;
    t.right_children[node] = l + 1;
    t.split_indices[node] = Math.floor(random() * FEATURES);
    t.default_left[node] = random() < 0.5 ? 1 : 0;
    if (random() < 0.25) {
      const cats = [0, 1, 2, 3, 33, 40].filter(() => random() < 0.5);
      t.split_type[node] = 1;
      t.categories_nodes.push(node);
      t.categories_segments.push(t.categories.length);
      t.categories_sizes.push(cats.length);
      t.categories.push(...cats);
      t.split_conditions[node] = 0;
    } else t.split_conditions[node] = pick(THRESHOLDS);
    for (let k = 0; k < 2; k++) {
      t.left_children.push(-1); t.right_children.push(-1); t.split_indices.push(0); t.default_left.push(0); t.split_type.push(0);
      t.split_conditions.push(Math.round((random() - 0.5) * 2000) / 1000);
    }
  }
  // categories_nodes must be in ascending node order, as XGBoost writes them.
  const order = t.categories_nodes.map((n, i) => [n, i] as const).sort((a, b) => a[0] - b[0]);
  const cats = order.flatMap(([, i]) => t.categories.slice(t.categories_segments[i]!, t.categories_segments[i]! + t.categories_sizes[i]!));
  const sizes = order.map(([, i]) => t.categories_sizes[i]!);
  const segments = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
  return { ...t, categories: cats, categories_nodes: order.map(([n]) => n), categories_segments: segments, categories_sizes: sizes };
}

/** XGBoost's GetNextNode and Decision, in float32. */
function xgbReference(trees: XgbTree[], base: number, row: number[]): number {
  let sum = base;
  for (const t of trees) {
    let node = 0;
    while (t.left_children[node] !== -1) {
      const x = Math.fround(row[t.split_indices[node]!]!);
      if (Number.isNaN(x)) node = t.default_left[node] ? t.left_children[node]! : t.right_children[node]!;
      else if (t.split_type?.[node] === 1) {
        const k = t.categories_nodes!.indexOf(node);
        const set = t.categories!.slice(t.categories_segments![k]!, t.categories_segments![k]! + t.categories_sizes![k]!);
        const inSet = x >= 0 && set.includes(Math.trunc(x));
        node = inSet ? t.right_children[node]! : t.left_children[node]!;
      } else node = x < Math.fround(t.split_conditions[node]!) ? t.left_children[node]! : t.right_children[node]!;
    }
    sum += Math.fround(t.split_conditions[node]!);
  }
  return sum;
}

function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= 1e-5 * Math.max(1, Math.abs(expected[i]!)), `${what} row ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

test('LightGBM: random models of every decision_type score like tree.h, row by row', async () => {
  for (let m = 0; m < 6; m++) {
    const trees = Array.from({ length: 12 }, () => lgbTree(1 + Math.floor(random() * 12)));
    const rows = inputs(400);
    const got = await predictions('lightgbm', 'model.txt', lightgbmText({ objective: 'regression', maxFeatureIdx: FEATURES - 1, trees }), rows);
    close(got, rows.map((r) => lgbReference(trees, r)), `model ${m}`);
  }
});

test('XGBoost: random models with default directions and categorical splits score like predict_fn.h', async () => {
  for (let m = 0; m < 6; m++) {
    const trees = Array.from({ length: 12 }, () => xgbTree(Math.floor(random() * 12)));
    const rows = inputs(400);
    const got = await predictions('xgboost', 'model.json', xgboostJson({ objective: 'reg:squarederror', numFeature: FEATURES, baseScore: '2.5E-1', trees }), rows);
    close(got, rows.map((r) => xgbReference(trees, 0.25, r)), `model ${m}`);
  }
});
