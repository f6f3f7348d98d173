// Owns: reading LightGBM's text model format (`booster.save_model("model.txt")`, LightGBM 3 and 4) into a
// Forest: `decision_type` bits (categorical, default left, missing type None/Zero/NaN), categorical bitsets
// (`cat_boundaries`/`cat_threshold`: listed categories go left), leaves as negative children (~leaf index),
// `num_tree_per_iteration` classes, `average_output` (random forest mode) and the objective's transform.
// Leaf values in the file already include the learning rate (`shrinkage`), so they are taken as they are.
import { TiffinError } from '../../errors/index.ts';
import { CATEGORICAL, CAT_TRUNC_FIRST, ForestBuilder, ZERO_IS_MISSING, type SourceTree } from './forest.ts';
import type { ParsedTrees } from './parsed-trees.ts';
import type { TreeHead } from './tree-head.ts';

// decision_type bits, as LightGBM's tree.h defines them.
const CATEGORICAL_MASK = 1;
const DEFAULT_LEFT_MASK = 2;
const MISSING_ZERO = 1;
const MISSING_NAN = 2;

type Block = Map<string, string>;

class Reader {
  constructor(private readonly file: string) {}

  fail(message: string): never {
    throw new TiffinError('MODEL_INVALID', `${this.file} is not a valid LightGBM text model: ${message}`);
  }

  need(block: Block, key: string, where: string): string {
    const v = block.get(key);
    if (v === undefined) this.fail(`${where} has no ${key}= line`);
    return v;
  }

  integer(text: string, what: string, min = 0): number {
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < min) this.fail(`${what} must be an integer >= ${min}, got "${text}"`);
    return n;
  }

  /** Space-separated numbers; LightGBM writes "inf" and "-inf" for unbounded thresholds, "nan" never validly. */
  numbers(text: string | undefined, what: string, length: number, integers = false): number[] {
    const parts = text === undefined || text.trim() === '' ? [] : text.trim().split(/\s+/);
    if (parts.length !== length) this.fail(`${what} has ${parts.length} values, expected ${length}`);
    return parts.map((p) => {
      const n = p === 'inf' ? Infinity : p === '-inf' ? -Infinity : Number(p);
      if (Number.isNaN(n) || (integers && !Number.isInteger(n))) this.fail(`${what} holds "${p}", not ${integers ? 'an integer' : 'a number'}`);
      return n;
    });
  }
}

const IDENTITY = new Set(['regression', 'regression_l2', 'l2', 'mean_squared_error', 'mse', 'regression_l1', 'l1', 'mean_absolute_error', 'mae',
  'huber', 'fair', 'quantile', 'mape', 'lambdarank', 'rank_xendcg']);
const EXP = new Set(['poisson', 'gamma', 'tweedie']);

/** The `objective=` line: a name, then options such as `sigmoid:1` or `num_class:3`. */
function headOf(line: string | undefined, classes: number, r: Reader): TreeHead {
  const [name = 'regression', ...options] = (line ?? 'regression').trim().split(/\s+/);
  const option = (key: string) => options.find((o) => o.startsWith(`${key}:`))?.slice(key.length + 1);
  const scale = Number(option('sigmoid') ?? '1');
  if (!(scale > 0)) r.fail(`objective "${line}" has sigmoid:${option('sigmoid')}, not a positive number`);
  const objective = (line ?? name).trim();
  if (IDENTITY.has(name)) return { task: 'regression', link: 'identity', sigmoidScale: 1, objective };
  if (EXP.has(name)) return { task: 'regression', link: 'exp', sigmoidScale: 1, objective };
  if (name === 'binary') return { task: 'binary', link: 'sigmoid', sigmoidScale: scale, objective };
  if (name === 'cross_entropy' || name === 'xentropy') return { task: 'regression', link: 'sigmoid', sigmoidScale: 1, objective };
  if (name === 'multiclass' || name === 'multiclassova') {
    if (classes < 2) r.fail(`objective ${name} needs num_class >= 2, the model has ${classes}`);
    return { task: 'multiclass', link: name === 'multiclass' ? 'softmax' : 'sigmoid-each', sigmoidScale: scale, objective };
  }
  throw new TiffinError('MODEL_INVALID', `LightGBM objective "${objective}" is not supported; supported: ${[...IDENTITY, ...EXP, 'binary', 'cross_entropy', 'multiclass', 'multiclassova'].join(', ')}`);
}

/** Splits the file into its header, one block per `Tree=` section, and notes `average_output`. */
function blocks(text: string, r: Reader): { header: Block; trees: Block[]; averageOutput: boolean } {
  const lines = text.split(/\r?\n/);
  let i = 0;
  while (i < lines.length && lines[i]!.trim() === '') i++;
  if (lines[i]?.trim() !== 'tree') {
    const hint = /^\s*[{[]/.test(text) ? ' (it looks like JSON: an XGBoost model? use --framework xgboost)' : '';
    r.fail(`its first line must be "tree"${hint}; LightGBM models are saved with booster.save_model("model.txt")`);
  }
  const header: Block = new Map();
  const trees: Block[] = [];
  let averageOutput = false;
  let current = header;
  let ended = false;
  for (i++; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    if (line === 'end of trees') {
      ended = true;
      break;
    }
    if (line === 'average_output') {
      averageOutput = true;
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) r.fail(`line ${i + 1} ("${line.slice(0, 40)}") is not key=value`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'Tree') {
      if (Number(value) !== trees.length) r.fail(`line ${i + 1} starts Tree=${value}, expected Tree=${trees.length}`);
      current = new Map();
      trees.push(current);
      continue;
    }
    current.set(key, value);
  }
  if (!ended) r.fail('it has no "end of trees" line (the file is cut short)');
  return { header, trees, averageOutput };
}

function readTree(block: Block, index: number, group: number, scale: number, r: Reader): SourceTree {
  const where = `Tree=${index}`;
  if (block.get('is_linear') !== undefined && block.get('is_linear') !== '0') r.fail(`${where} is a linear tree (linear_tree=true), which Tiffin does not serve`);
  const leaves = r.integer(r.need(block, 'num_leaves', where), `${where} num_leaves`, 1);
  const leafValue = r.numbers(r.need(block, 'leaf_value', where), `${where} leaf_value`, leaves);
  const inner = leaves - 1;
  const size = inner + leaves;
  const feature = new Int32Array(size);
  const value = new Float64Array(size);
  const yes = new Int32Array(size);
  const no = new Int32Array(size);
  const missYes = new Uint8Array(size);
  const flags = new Uint8Array(size);
  // Split i is node i, leaf j is node inner + j; a child < 0 names leaf ~child.
  const node = (child: number) => (child < 0 ? inner + ~child : child);
  for (let j = 0; j < leaves; j++) {
    feature[inner + j] = -1;
    value[inner + j] = leafValue[j]! * scale;
  }
  const categories = new Map<number, Uint32Array>();
  if (inner > 0) {
    const splitFeature = r.numbers(block.get('split_feature'), `${where} split_feature`, inner, true);
    const threshold = r.numbers(block.get('threshold'), `${where} threshold`, inner);
    const decision = r.numbers(block.get('decision_type'), `${where} decision_type`, inner, true);
    const left = r.numbers(block.get('left_child'), `${where} left_child`, inner, true);
    const right = r.numbers(block.get('right_child'), `${where} right_child`, inner, true);
    const numCat = r.integer(block.get('num_cat') ?? '0', `${where} num_cat`);
    let boundaries: number[] = [];
    let catThreshold: number[] = [];
    if (numCat > 0) {
      boundaries = r.numbers(block.get('cat_boundaries'), `${where} cat_boundaries`, numCat + 1, true);
      const words = boundaries[numCat]!;
      catThreshold = r.numbers(block.get('cat_threshold'), `${where} cat_threshold`, words, true);
      if (boundaries[0] !== 0 || boundaries.some((b, k) => k > 0 && b < boundaries[k - 1]!)) r.fail(`${where} cat_boundaries must rise from 0`);
    }
    for (let s = 0; s < inner; s++) {
      const d = decision[s]!;
      feature[s] = splitFeature[s]!;
      yes[s] = node(left[s]!);
      no[s] = node(right[s]!);
      if (d & CATEGORICAL_MASK) {
        // threshold is the index of the split's bitset; NaN and negatives go right (`no`).
        const k = threshold[s]!;
        if (!Number.isInteger(k) || k < 0 || k >= numCat) r.fail(`${where} split ${s} names category set ${k}, but the tree has ${numCat}`);
        const words = catThreshold.slice(boundaries[k]!, boundaries[k + 1]!);
        if (words.some((w) => w < 0 || w > 0xffffffff)) r.fail(`${where} cat_threshold holds a value that is not a 32-bit word`);
        categories.set(s, Uint32Array.from(words));
        flags[s] = CATEGORICAL | CAT_TRUNC_FIRST;
        continue;
      }
      value[s] = threshold[s]!;
      const missing = (d >> 2) & 3;
      const defaultLeft = (d & DEFAULT_LEFT_MASK) !== 0;
      if (missing === MISSING_NAN) missYes[s] = defaultLeft ? 1 : 0;
      else if (missing === MISSING_ZERO) {
        // NaN is read as 0, which is missing: both take the default child.
        flags[s] = ZERO_IS_MISSING;
        missYes[s] = defaultLeft ? 1 : 0;
      } else missYes[s] = 0 <= threshold[s]! ? 1 : 0; // None: NaN is read as 0 and compared

    }
  }
  return { group, root: 0, size, feature, value, yes, no, missYes, flags, categories };
}

/** Parses the text of a LightGBM model. `file` names it in messages. */
export function parseLightgbmText(text: string, file: string): ParsedTrees {
  const r = new Reader(file);
  const { header, trees, averageOutput } = blocks(text, r);
  const version = header.get('version') ?? 'unknown';
  const classes = r.integer(r.need(header, 'num_class', 'the header'), 'num_class', 1);
  const perIteration = r.integer(r.need(header, 'num_tree_per_iteration', 'the header'), 'num_tree_per_iteration', 1);
  const features = r.integer(r.need(header, 'max_feature_idx', 'the header'), 'max_feature_idx') + 1;
  if (perIteration !== classes) r.fail(`num_tree_per_iteration=${perIteration} does not match num_class=${classes}`);
  if (trees.length % perIteration !== 0) r.fail(`${trees.length} trees is not a whole number of iterations of ${perIteration}`);
  const sizes = header.get('tree_sizes');
  if (sizes !== undefined && sizes.trim().split(/\s+/).length !== trees.length) {
    r.fail(`tree_sizes lists ${sizes.trim().split(/\s+/).length} trees but the file holds ${trees.length} (is it cut short?)`);
  }
  const head = headOf(header.get('objective'), classes, r);
  // average_output (boosting=rf): the prediction is the mean over iterations, not the sum.
  const scale = averageOutput ? perIteration / trees.length : 1;
  const builder = new ForestBuilder(features, perIteration, `${file} (LightGBM)`);
  trees.forEach((block, i) => builder.add(readTree(block, i, i % perIteration, scale, r), `Tree=${i}`));
  return { forest: builder.build(new Array<number>(perIteration).fill(0)), head, version };
}
