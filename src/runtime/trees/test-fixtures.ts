// Test support: writes model files in XGBoost's JSON and UBJSON formats and LightGBM's text format, field for
// field as the libraries write them (XGBoost 2.0.3's `save_model("model.json")` and `("model.ubj")`, LightGBM 4's
// `save_model("model.txt")`), from trees given in each library's own arrays, so tests can state expected
// predictions by hand. The benchmark (bench/trees.ts) writes its model with it too.

/** One XGBoost tree in the JSON's own arrays; leaves have left_children -1 and their value in split_conditions. */
export interface XgbTree {
  left_children: number[];
  right_children: number[];
  split_indices: number[];
  split_conditions: number[];
  default_left: number[];
  split_type?: number[];
  categories?: number[];
  categories_nodes?: number[];
  categories_segments?: number[];
  categories_sizes?: number[];
}

export interface XgbModel {
  objective: string;
  numFeature: number;
  numClass?: number;
  /** As XGBoost writes it: a string such as "5E-1". */
  baseScore: string;
  trees: XgbTree[];
  /** The class of each tree (multi-class models); default all 0. */
  treeInfo?: number[];
  /** DART models: each tree's weight. */
  weightDrop?: number[];
}

function xgbTreeJson(tree: XgbTree, id: number, numFeature: number) {
  const n = tree.left_children.length;
  const parents = new Array<number>(n).fill(2147483647);
  tree.left_children.forEach((c, i) => { if (c >= 0) parents[c] = i; });
  tree.right_children.forEach((c, i) => { if (c >= 0) parents[c] = i; });
  return {
    base_weights: tree.split_conditions.map((v) => v),
    categories: tree.categories ?? [],
    categories_nodes: tree.categories_nodes ?? [],
    categories_segments: tree.categories_segments ?? [],
    categories_sizes: tree.categories_sizes ?? [],
    default_left: tree.default_left,
    id,
    left_children: tree.left_children,
    loss_changes: new Array<number>(n).fill(0),
    parents,
    right_children: tree.right_children,
    split_conditions: tree.split_conditions,
    split_indices: tree.split_indices,
    split_type: tree.split_type ?? new Array<number>(n).fill(0),
    sum_hessian: new Array<number>(n).fill(1),
    tree_param: { num_deleted: '0', num_feature: String(numFeature), num_nodes: String(n), size_leaf_vector: '1' },
  };
}

/** The text of an XGBoost 2.0.3 JSON model. */
export function xgboostJson(m: XgbModel): string {
  const trees = m.trees.map((t, i) => xgbTreeJson(t, i, m.numFeature));
  const gbtreeModel = {
    gbtree_model_param: { num_parallel_tree: '1', num_trees: String(trees.length) },
    iteration_indptr: [0, trees.length],
    tree_info: m.treeInfo ?? trees.map(() => 0),
    trees,
  };
  const booster = m.weightDrop
    ? { name: 'dart', gbtree: { name: 'gbtree', model: gbtreeModel }, weight_drop: m.weightDrop }
    : { name: 'gbtree', model: gbtreeModel };
  return JSON.stringify({
    learner: {
      attributes: {},
      feature_names: [],
      feature_types: [],
      gradient_booster: booster,
      learner_model_param: {
        base_score: m.baseScore,
        boost_from_average: '1',
        num_class: String(m.numClass ?? 0),
        num_feature: String(m.numFeature),
        num_target: '1',
      },
      objective: { name: m.objective, reg_loss_param: { scale_pos_weight: '1' } },
    },
    version: [2, 0, 3],
  });
}

/** One LightGBM tree in the text format's own lines (arrays are written space-separated). */
export interface LgbTree {
  num_leaves: number;
  split_feature?: number[];
  threshold?: number[];
  decision_type?: number[];
  left_child?: number[];
  right_child?: number[];
  leaf_value: number[];
  cat_boundaries?: number[];
  cat_threshold?: number[];
}

export interface LgbModel {
  /** The objective line as LightGBM writes it: "regression", "binary sigmoid:1", "multiclass num_class:3". */
  objective: string;
  numClass?: number;
  maxFeatureIdx: number;
  trees: LgbTree[];
  averageOutput?: boolean;
  /** Override or drop header lines (undefined removes one), for corrupt files. */
  header?: Record<string, string | undefined>;
}

function lgbTreeBlock(t: LgbTree, i: number): string {
  const inner = t.num_leaves - 1;
  const numCat = t.cat_boundaries ? t.cat_boundaries.length - 1 : 0;
  const j = (a: readonly number[] | undefined) => (a ?? []).join(' ');
  const lines = [
    `Tree=${i}`,
    `num_leaves=${t.num_leaves}`,
    `num_cat=${numCat}`,
    `split_feature=${j(t.split_feature)}`,
    `split_gain=${j(new Array<number>(inner).fill(1))}`,
    `threshold=${j(t.threshold)}`,
    `decision_type=${j(t.decision_type)}`,
    `left_child=${j(t.left_child)}`,
    `right_child=${j(t.right_child)}`,
    `leaf_value=${j(t.leaf_value)}`,
    `leaf_weight=${j(t.leaf_value.map(() => 1))}`,
    `leaf_count=${j(t.leaf_value.map(() => 10))}`,
    `internal_value=${j(new Array<number>(inner).fill(0))}`,
    `internal_weight=${j(new Array<number>(inner).fill(1))}`,
    `internal_count=${j(new Array<number>(inner).fill(20))}`,
  ];
  if (numCat > 0) lines.push(`cat_boundaries=${j(t.cat_boundaries)}`, `cat_threshold=${j(t.cat_threshold)}`);
  lines.push('is_linear=0', 'shrinkage=0.1');
  return `${lines.join('\n')}\n\n\n`;
}

/** The text of a LightGBM 4 model file. */
export function lightgbmText(m: LgbModel): string {
  const numClass = m.numClass ?? 1;
  const blocks = m.trees.map(lgbTreeBlock);
  const features = Array.from({ length: m.maxFeatureIdx + 1 }, (_, i) => `Column_${i}`);
  const header: Record<string, string | undefined> = {
    version: 'v4',
    num_class: String(numClass),
    num_tree_per_iteration: String(numClass),
    label_index: '0',
    max_feature_idx: String(m.maxFeatureIdx),
    objective: m.objective,
    feature_names: features.join(' '),
    feature_infos: features.map(() => '[-10:10]').join(' '),
    tree_sizes: blocks.map((b) => Buffer.byteLength(b)).join(' '),
    ...m.header,
  };
  const head = Object.entries(header).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`);
  if (m.averageOutput) head.splice(head.length - 1, 0, 'average_output');
  return [
    'tree', ...head, '', blocks.join(''), 'end of trees', '', 'feature_importances:', 'Column_0=1', '',
    'parameters:', '[boosting: gbdt]', '[objective: ' + m.objective.split(' ')[0] + ']', 'end of parameters', '',
    'pandas_categorical:null', '',
  ].join('\n');
}

// UBJSON as XGBoost's UBJWriter writes it: big-endian; numeric arrays as typed containers (`[$d#L<n>` float32 for
// the tree's float fields, `[$U#L` uint8 for flags, `[$l#L` int32 for ids), strings as `S` + int64 length.
const UBJ_F32 = new Set(['split_conditions', 'base_weights', 'loss_changes', 'sum_hessian', 'weight_drop']);
const UBJ_U8 = new Set(['default_left', 'split_type']);

function ubjLength(n: number): number[] {
  const b = Buffer.alloc(9);
  b.write('L', 0);
  b.writeBigInt64BE(BigInt(n), 1);
  return [...b];
}

function ubjString(s: string): number[] {
  const bytes = Buffer.from(s, 'utf8');
  return [...ubjLength(bytes.length), ...bytes];
}

function ubjValue(value: unknown, key: string): number[] {
  if (typeof value === 'string') return [0x53, ...ubjString(value)];
  if (typeof value === 'boolean') return [value ? 0x54 : 0x46];
  if (typeof value === 'number') {
    const b = Buffer.alloc(9);
    if (Number.isInteger(value)) { b.write('L', 0); b.writeBigInt64BE(BigInt(value), 1); } else { b.write('D', 0); b.writeDoubleBE(value, 1); }
    return [...b];
  }
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => typeof v === 'number')) {
      const [marker, width] = UBJ_F32.has(key) ? ['d', 4] : UBJ_U8.has(key) ? ['U', 1] : ['l', 4];
      const body = Buffer.alloc(value.length * width);
      value.forEach((v: number, i) => (marker === 'd' ? body.writeFloatBE(v, i * 4) : marker === 'U' ? body.writeUInt8(v, i) : body.writeInt32BE(v, i * 4)));
      return [0x5b, 0x24, marker.charCodeAt(0), 0x23, ...ubjLength(value.length), ...body];
    }
    return [0x5b, ...value.flatMap((v) => ubjValue(v, key)), 0x5d];
  }
  if (value && typeof value === 'object') {
    return [0x7b, ...Object.entries(value).flatMap(([k, v]) => [...ubjString(k), ...ubjValue(v, k)]), 0x7d];
  }
  return [0x5a];
}

/** The bytes of an XGBoost 2.0.3 UBJSON model (`save_model("model.ubj")`) holding the same document as xgboostJson. */
export function xgboostUbjson(m: XgbModel): Uint8Array {
  return Uint8Array.from(ubjValue(JSON.parse(xgboostJson(m)), ''));
}
