// Owns: reading XGBoost's JSON model document (`booster.save_model("model.json")`, XGBoost 1.0 and later, or the
// same document as UBJSON, `model.ubj`, decoded by ubjson.ts) into a
// Forest: gbtree and dart boosters, numeric splits (`x < split_condition` goes left), default directions for
// missing values, categorical splits (the listed categories go right), base_score and the objective's link.
import { TiffinError } from '../../errors/index.ts';
import { CATEGORICAL, ForestBuilder, categoryBits, previousFloat32 } from './forest.ts';
import type { ParsedTrees } from './parsed-trees.ts';
import type { TreeHead } from './tree-head.ts';

type Json = Record<string, unknown>;

class Reader {
  constructor(private readonly file: string) {}

  fail(message: string): never {
    throw new TiffinError('MODEL_INVALID', `${this.file} is not a valid XGBoost JSON model: ${message}`);
  }

  object(value: unknown, path: string): Json {
    if (!value || typeof value !== 'object' || Array.isArray(value)) this.fail(`${path} must be an object`);
    return value as Json;
  }

  array(value: unknown, path: string): unknown[] {
    if (!Array.isArray(value)) this.fail(`${path} must be an array`);
    return value;
  }

  numbers(value: unknown, path: string, length?: number): number[] {
    const arr = this.array(value, path);
    if (length !== undefined && arr.length !== length) this.fail(`${path} has ${arr.length} entries, expected ${length}`);
    return arr.map((v, i) => {
      // default_left is 0/1 in most versions and true/false in some.
      const n = typeof v === 'boolean' ? Number(v) : v;
      if (typeof n !== 'number' || Number.isNaN(n)) this.fail(`${path}[${i}] must be a number, got ${JSON.stringify(v)}`);
      return n;
    });
  }

  /** XGBoost writes its parameters as strings ("3", "5E-1"); older writers sometimes as numbers. */
  number(value: unknown, path: string): number {
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || Number.isNaN(n)) this.fail(`${path} must be a number, got ${JSON.stringify(value)}`);
    return n;
  }

  integer(value: unknown, path: string, min = 0): number {
    const n = this.number(value, path);
    if (!Number.isInteger(n) || n < min) this.fail(`${path} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  }
}

const IDENTITY_OBJECTIVES = new Set([
  'reg:squarederror', 'reg:linear', 'reg:squaredlogerror', 'reg:pseudohubererror', 'reg:absoluteerror',
  'reg:quantileerror', 'rank:pairwise', 'rank:ndcg', 'rank:map', 'survival:cox',
]);
const LOGISTIC_OBJECTIVES = new Set(['binary:logistic', 'reg:logistic', 'binary:logitraw']);
const EXP_OBJECTIVES = new Set(['count:poisson', 'reg:gamma', 'reg:tweedie']);
const MULTICLASS_OBJECTIVES = new Set(['multi:softprob', 'multi:softmax']);

/**
 * How the objective turns scores into outputs, and base_score into a starting margin. base_score is stored as
 * the objective's output (a probability for logistic objectives, a mean for exp links): XGBoost turns it into a
 * margin with the objective's inverse link (logit, log) before adding the trees, and so does this.
 */
function headOf(objective: string, classes: number, r: Reader): { head: TreeHead; toMargin: (b: number) => number } {
  const identity = (b: number) => b;
  if (IDENTITY_OBJECTIVES.has(objective)) return { head: { task: 'regression', link: 'identity', sigmoidScale: 1, objective }, toMargin: identity };
  if (LOGISTIC_OBJECTIVES.has(objective)) {
    const toMargin = (p: number) => {
      if (!(p > 0 && p < 1)) r.fail(`base_score ${p} must be a probability strictly between 0 and 1 for ${objective}`);
      return -Math.log(1 / p - 1);
    };
    const head: TreeHead = objective === 'binary:logistic'
      ? { task: 'binary', link: 'sigmoid', sigmoidScale: 1, objective }
      : { task: 'regression', link: objective === 'reg:logistic' ? 'sigmoid' : 'identity', sigmoidScale: 1, objective };
    return { head, toMargin };
  }
  if (EXP_OBJECTIVES.has(objective)) {
    const toMargin = (b: number) => {
      if (!(b > 0)) r.fail(`base_score ${b} must be positive for ${objective}`);
      return Math.log(b);
    };
    return { head: { task: 'regression', link: 'exp', sigmoidScale: 1, objective }, toMargin };
  }
  if (MULTICLASS_OBJECTIVES.has(objective)) {
    if (classes < 2) r.fail(`${objective} needs num_class >= 2, the model has ${classes}`);
    return { head: { task: 'multiclass', link: 'softmax', sigmoidScale: 1, objective }, toMargin: identity };
  }
  const known = [...IDENTITY_OBJECTIVES, ...LOGISTIC_OBJECTIVES, ...EXP_OBJECTIVES, ...MULTICLASS_OBJECTIVES].join(', ');
  throw new TiffinError('MODEL_INVALID', `XGBoost objective "${objective}" is not supported; supported: ${known}`);
}

/** base_score is "5E-1" in XGBoost 1.x and 2.x, and may be a list ("[5E-1,2E-1]") or an array in later versions. */
function baseScores(value: unknown, groups: number, r: Reader): number[] {
  let list: unknown[];
  if (Array.isArray(value)) list = value;
  else if (typeof value === 'string' && value.trim().startsWith('[')) {
    try {
      list = JSON.parse(value) as unknown[];
    } catch {
      list = [];
    }
    if (!Array.isArray(list) || list.length === 0) r.fail(`learner_model_param.base_score ${JSON.stringify(value)} is not a list of numbers`);
  } else list = [value ?? '0.5'];
  const scores = list.map((v, i) => r.number(v, `learner_model_param.base_score[${i}]`));
  if (scores.length === 1) return Array.from({ length: groups }, () => scores[0]!);
  if (scores.length !== groups) r.fail(`base_score has ${scores.length} values for ${groups} output groups`);
  return scores;
}

/** Parses the text of an XGBoost JSON model. `file` names it in messages. */
export function parseXgboostJson(text: string, file: string): ParsedTrees {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const hint = /^\s*tree\s*\r?\n\s*version=/.test(text) ? ' (it looks like a LightGBM text model: use --framework lightgbm)' : '';
    throw new TiffinError('MODEL_INVALID', `${file} is not JSON${hint}; XGBoost models are saved with booster.save_model("model.json"): ${(err as Error).message}`);
  }
  return parseXgboostDocument(doc, file);
}

/** Reads an XGBoost model document, decoded from JSON or UBJSON (the two formats hold the same document). */
export function parseXgboostDocument(doc: unknown, file: string): ParsedTrees {
  const r = new Reader(file);
  const root = r.object(doc, 'the document');
  const learner = r.object(root.learner, 'learner');
  const version = Array.isArray(root.version) ? root.version.join('.') : 'unknown';
  const params = r.object(learner.learner_model_param, 'learner.learner_model_param');
  const features = r.integer(params.num_feature, 'learner_model_param.num_feature', 1);
  const numClass = params.num_class === undefined ? 0 : r.integer(params.num_class, 'learner_model_param.num_class');
  const numTarget = params.num_target === undefined ? 1 : r.integer(params.num_target, 'learner_model_param.num_target', 1);
  if (numTarget > 1) r.fail(`the model has ${numTarget} targets; Tiffin serves single-target XGBoost models`);
  const objective = String(r.object(learner.objective, 'learner.objective').name ?? '');
  const groups = Math.max(1, numClass);
  const { head, toMargin } = headOf(objective, numClass, r);
  const base = baseScores(params.base_score, groups, r).map(toMargin);

  const booster = r.object(learner.gradient_booster, 'learner.gradient_booster');
  let model: Json | undefined;
  let weights: number[] | undefined;
  if (booster.name === 'gbtree') model = r.object(booster.model, 'gradient_booster.model');
  else if (booster.name === 'dart') {
    model = r.object(r.object(booster.gbtree, 'gradient_booster.gbtree').model, 'gradient_booster.gbtree.model');
    weights = r.numbers(booster.weight_drop, 'gradient_booster.weight_drop');
  } else {
    return r.fail(`booster "${String(booster.name)}" is not a tree booster; Tiffin serves gbtree and dart models (export gblinear to ONNX)`);
  }
  const trees = r.array(model.trees, 'gradient_booster.model.trees');
  const treeInfo = r.numbers(model.tree_info, 'gradient_booster.model.tree_info', trees.length);
  if (weights && weights.length !== trees.length) r.fail(`weight_drop has ${weights.length} entries for ${trees.length} trees`);

  const builder = new ForestBuilder(features, groups, `${file} (XGBoost)`);
  trees.forEach((t, i) => builder.add(readTree(r.object(t, `trees[${i}]`), `trees[${i}]`, treeInfo[i]!, weights?.[i] ?? 1, r), `tree ${i}`));
  return { forest: builder.build(base), head, version };
}

function readTree(t: Json, path: string, group: number, weight: number, r: Reader) {
  const param = r.object(t.tree_param, `${path}.tree_param`);
  const size = r.integer(param.num_nodes, `${path}.tree_param.num_nodes`, 1);
  if (param.size_leaf_vector !== undefined && r.number(param.size_leaf_vector, `${path}.tree_param.size_leaf_vector`) > 1) {
    r.fail(`${path} has vector leaves (multi_strategy="multi_output_tree"), which Tiffin does not serve`);
  }
  const left = r.numbers(t.left_children, `${path}.left_children`, size);
  const right = r.numbers(t.right_children, `${path}.right_children`, size);
  const splitIndex = r.numbers(t.split_indices, `${path}.split_indices`, size);
  const cond = r.numbers(t.split_conditions, `${path}.split_conditions`, size);
  const defaultLeft = r.numbers(t.default_left, `${path}.default_left`, size);
  const splitType = t.split_type === undefined ? new Array<number>(size).fill(0) : r.numbers(t.split_type, `${path}.split_type`, size);

  const categories = new Map<number, Uint32Array>();
  if (splitType.some((s) => s === 1)) {
    const nodes = r.numbers(t.categories_nodes, `${path}.categories_nodes`);
    const segments = r.numbers(t.categories_segments, `${path}.categories_segments`, nodes.length);
    const sizes = r.numbers(t.categories_sizes, `${path}.categories_sizes`, nodes.length);
    const cats = r.numbers(t.categories, `${path}.categories`);
    nodes.forEach((node, k) => {
      const from = segments[k]!;
      const to = from + sizes[k]!;
      if (!Number.isInteger(from) || from < 0 || !Number.isInteger(to) || to > cats.length || to < from) {
        r.fail(`${path}: the categories of node ${node} (${from}..${to}) lie outside categories (${cats.length})`);
      }
      categories.set(node, categoryBits(cats.slice(from, to), `${path} node ${node}`));
    });
  }

  const feature = new Int32Array(size);
  const value = new Float64Array(size);
  const yes = new Int32Array(size);
  const no = new Int32Array(size);
  const missYes = new Uint8Array(size);
  const flags = new Uint8Array(size);
  for (let i = 0; i < size; i++) {
    if (left[i] === -1) {
      // A leaf: split_conditions holds its value; a DART tree's leaves are scaled by its weight.
      feature[i] = -1;
      value[i] = Math.fround(cond[i]!) * weight;
      continue;
    }
    if (!Number.isInteger(splitIndex[i]) || splitIndex[i]! < 0) r.fail(`${path}: node ${i} splits on feature ${splitIndex[i]}`);
    feature[i] = splitIndex[i]!;
    if (splitType[i] === 1) {
      if (!categories.has(i)) r.fail(`${path}: node ${i} is categorical but categories_nodes does not list it`);
      // Listed categories go right: `yes` is the right child; missing values take the default child.
      flags[i] = CATEGORICAL;
      missYes[i] = defaultLeft[i] ? 0 : 1;
      yes[i] = right[i]!;
      no[i] = left[i]!;
    } else {
      // x < t goes left (`yes`); NaN goes to the default child.
      value[i] = previousFloat32(cond[i]!);
      missYes[i] = defaultLeft[i] ? 1 : 0;
      yes[i] = left[i]!;
      no[i] = right[i]!;
    }
  }
  return { group, root: 0, size, feature, value, yes, no, missYes, flags, categories };
}
