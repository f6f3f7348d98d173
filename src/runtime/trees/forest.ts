// Owns: the flat, library-neutral form of a tree ensemble (XGBoost and LightGBM both parse into it) and the
// loop that scores rows with it. All trees' nodes live in one Int32Array of 4-word records, so scoring walks
// numbers in a few cache lines per path, never objects; the parsers translate each library's split rules into
// the record's bits below.
import { TiffinError } from '../../errors/index.ts';

/**
 * Source node flags, from the parsers. A node with flags 0 is a numeric split: `x <= value` goes to `yes`,
 * `x > value` to `no`, and NaN (neither) to the child `missYes` names: the library's default child, or for
 * LightGBM's missing type None the child that 0 goes to. That covers nearly every node of either library in two
 * comparisons; flags mark the rest, which take a slower path.
 */
export const CATEGORICAL = 1; // `yes` when trunc(x) is in the node's category bitset, `no` otherwise; NaN: the missing child
export const CAT_TRUNC_FIRST = 2; // LightGBM: negatives are tested after truncation (-0.5 is category 0); XGBoost: any x < 0 is no category
export const ZERO_IS_MISSING = 4; // LightGBM's missing type Zero: |x| <= 1e-35 also takes the missing child

/** At most 2^24 bitset words (64 MiB) for all categorical splits together. */
const MAX_CATEGORY_WORDS = 2 ** 24;

/** LightGBM's kZeroThreshold: values this close to zero count as zero. */
const ZERO_THRESHOLD = 1e-35;

/**
 * A node record is 4 int32 words at offset o = 4 · node: [head, no, threshold bits, category set], and the
 * `yes` child is always the next record (o + 4: trees are stored in pre-order). head < 0 marks a leaf; otherwise
 * its low 28 bits are the feature, MISS_YES says NaN goes to `yes`, SPECIAL sends the node to the slow path.
 * Thresholds are float32, which is exact for float32 inputs: `x <= t` is the same test as `x <= t'` where t' is
 * the largest float32 not above t.
 */
const FEATURE_MASK = (1 << 28) - 1;
const MISS_YES = 1 << 28;
const SPECIAL = 1 << 29;
export const RECORD = 4; // words per node record; offsets divide by it with `>> 2`

export interface Forest {
  /** Width of an input row. */
  readonly features: number;
  /** Scores per row: the class count for multi-class models, 1 otherwise. */
  readonly groups: number;
  /** Per tree: the offset of its root record, and the score group it adds to. */
  readonly treeRoot: Int32Array;
  readonly treeGroup: Int32Array;
  /** RECORD words per node, see above. */
  readonly nodes: Int32Array;
  /** The same memory as `nodes`, for the threshold words. */
  readonly thresholds: Float32Array;
  /** Per node (record offset / RECORD): a leaf's value (scaling such as DART weights or averaging folded in). */
  readonly leafValue: Float64Array;
  /** Per node: the source flags, and for categorical nodes the length in words of their bitset in catBits. */
  readonly flags: Uint8Array;
  readonly catWords: Int32Array;
  readonly catBits: Uint32Array;
  /** Added to each group's score before any tree: XGBoost's base_score as a margin, 0 for LightGBM. */
  readonly baseMargin: Float64Array;
}

/** One tree as a parser reads it: nodes by the file's own ids, children by id, leaves marked by feature -1. */
export interface SourceTree {
  group: number;
  root: number;
  size: number;
  feature: ArrayLike<number>;
  /** A split's threshold (`x <= value` goes to `yes`), or a leaf's value. */
  value: ArrayLike<number>;
  yes: ArrayLike<number>;
  no: ArrayLike<number>;
  /** 1 where a missing input goes to `yes`, 0 where it goes to `no`. */
  missYes: ArrayLike<number>;
  flags: ArrayLike<number>;
  /** Bitset words of each categorical node, by node id. */
  categories?: Map<number, Uint32Array>;
}

const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);

/**
 * The largest float32 below `t`. For float32 inputs, `x < t` (XGBoost's rule) is the same test as
 * `x <= previousFloat32(fround(t))` (the rule the scoring loop uses), so both libraries share one loop.
 */
export function previousFloat32(t: number): number {
  f32[0] = t;
  const v = f32[0]!;
  if (v === 0) return -1.401298464324817e-45;
  if (v === -Infinity || v !== v) return v;
  f32Bits[0] = v > 0 ? f32Bits[0]! - 1 : f32Bits[0]! + 1;
  return f32[0]!;
}

/** The largest float32 not above `t`: LightGBM's float64 thresholds, exact for float32 inputs. */
function floorFloat32(t: number): number {
  const r = Math.fround(t);
  return r > t ? previousFloat32(r) : r;
}

/**
 * Collects trees into one Forest. Each tree is walked from its root and renumbered in pre-order (a split's
 * `yes` child right after it); the walk refuses a child id outside the tree, a node reached twice (a cycle or a
 * shared node, which would make scoring loop or double count), a feature outside the row and a value that is not
 * a number, so a file that passes scores safely.
 */
export class ForestBuilder {
  private readonly words: number[] = [];
  private readonly thresholds: number[] = [];
  private readonly leafValue: number[] = [];
  private readonly flags: number[] = [];
  private readonly catWords: number[] = [];
  private readonly catBits: number[] = [];
  private readonly roots: number[] = [];
  private readonly treeGroups: number[] = [];

  constructor(
    readonly features: number,
    readonly groups: number,
    private readonly where: string,
  ) {
    if (!Number.isInteger(features) || features < 1 || features > FEATURE_MASK) this.fail(`the model declares ${features} features; it needs 1 to ${FEATURE_MASK}`);
    if (!Number.isInteger(groups) || groups < 1) this.fail(`the model declares ${groups} output groups; it needs at least 1`);
  }

  add(tree: SourceTree, label: string): void {
    const { size } = tree;
    if (tree.group < 0 || tree.group >= this.groups || !Number.isInteger(tree.group)) {
      this.fail(`${label} adds to output group ${tree.group}, but the model has ${this.groups}`);
    }
    for (const [name, arr] of [['feature', tree.feature], ['value', tree.value], ['yes', tree.yes], ['no', tree.no], ['missYes', tree.missYes], ['flags', tree.flags]] as const) {
      if (arr.length < size) this.fail(`${label} has ${size} nodes but only ${arr.length} entries in ${name}`);
    }
    const seen = new Uint8Array(size);
    const rootAt = this.flags.length;
    // Iterative pre-order walk (a deep tree would overflow a recursive one). Each entry is a node and the record
    // whose `no` word waits for its position (-1: none, the node is the root or a `yes` child, placed next).
    const stack: number[] = [tree.root, -1];
    while (stack.length > 0) {
      const parent = stack.pop()!;
      const node = stack.pop()!;
      if (!Number.isInteger(node) || node < 0 || node >= size) this.fail(`${label} refers to node ${node}, but its nodes are 0..${size - 1}`);
      if (seen[node]) this.fail(`${label}: node ${node} is reached twice (its children form a cycle or share a node)`);
      seen[node] = 1;
      const id = this.flags.length;
      if (parent >= 0) this.words[parent * RECORD + 1] = id * RECORD;
      const feat = tree.feature[node]!;
      const value = tree.value[node]!;
      // A split may compare with ±Infinity; a leaf's value must be finite, and NaN is never valid.
      if (value !== value || (feat < 0 && !Number.isFinite(value))) this.fail(`${label}: node ${node} has value ${value}, not a finite number`);
      if (feat < 0) {
        this.push(-1, 0, value, 0, 0, 0);
        continue;
      }
      if (!Number.isInteger(feat) || feat >= this.features) this.fail(`${label}: node ${node} splits on feature ${feat}, but rows have ${this.features} features`);
      const flags = tree.flags[node]!;
      let start = 0;
      let words = 0;
      if (flags & CATEGORICAL) {
        const bits = tree.categories?.get(node);
        if (!bits) this.fail(`${label}: node ${node} is a categorical split without a category set`);
        start = this.catBits.length;
        words = bits.length;
        // XGBoost lists categories, so a short file can name huge ones: bound the bitsets' memory (64 MiB).
        if (start + words > MAX_CATEGORY_WORDS) this.fail(`the categorical splits' category sets exceed ${MAX_CATEGORY_WORDS * 32} categories in all`);
        for (const w of bits) this.catBits.push(w);
      }
      const head = feat | (tree.missYes[node] ? MISS_YES : 0) | (flags ? SPECIAL : 0);
      this.push(head, flags & CATEGORICAL ? 0 : floorFloat32(value), 0, flags, start, words);
      // Popped in reverse: `yes` first, so that it is numbered right after its parent; `no` patches the parent.
      stack.push(tree.no[node]!, id, tree.yes[node]!, -1);
    }
    this.roots.push(rootAt * RECORD);
    this.treeGroups.push(tree.group);
  }

  build(baseMargin: readonly number[]): Forest {
    if (this.roots.length === 0) this.fail('the model has no trees');
    if (baseMargin.length !== this.groups || baseMargin.some((b) => !Number.isFinite(b))) {
      this.fail(`the base score must be ${this.groups} finite number(s), got [${baseMargin.join(', ')}]`);
    }
    const nodes = Int32Array.from(this.words);
    const thresholds = new Float32Array(nodes.buffer);
    for (let i = 0; i < this.thresholds.length; i++) thresholds[i * RECORD + 2] = this.thresholds[i]!;
    return {
      features: this.features,
      groups: this.groups,
      treeRoot: Int32Array.from(this.roots),
      treeGroup: Int32Array.from(this.treeGroups),
      nodes,
      thresholds,
      leafValue: Float64Array.from(this.leafValue),
      flags: Uint8Array.from(this.flags),
      catWords: Int32Array.from(this.catWords),
      catBits: Uint32Array.from(this.catBits),
      baseMargin: Float64Array.from(baseMargin),
    };
  }

  private push(head: number, threshold: number, leaf: number, flags: number, catStart: number, catWords: number): void {
    this.words.push(head, 0, 0, catStart);
    this.thresholds.push(threshold);
    this.leafValue.push(leaf);
    this.flags.push(flags);
    this.catWords.push(catWords);
  }

  private fail(message: string): never {
    throw new TiffinError('MODEL_INVALID', `${this.where}: ${message}`);
  }
}

/** The next record offset from the split at offset `o` whose head has SPECIAL set: categories, zero-as-missing. */
function decideSpecial(f: Forest, o: number, head: number, x: number): number {
  const yes = o + RECORD;
  const no = f.nodes[o + 1]!;
  if (x !== x) return head & MISS_YES ? yes : no;
  const flags = f.flags[o >> 2]!;
  if (flags & CATEGORICAL) {
    if (!(flags & CAT_TRUNC_FIRST) && x < 0) return no;
    const c = Math.trunc(x);
    if (c < 0 || c >= 2 ** 31) return no;
    const word = c >>> 5;
    if (word >= f.catWords[o >> 2]!) return no;
    return (f.catBits[f.nodes[o + 3]! + word]! >>> (c & 31)) & 1 ? yes : no;
  }
  if (x >= -ZERO_THRESHOLD && x <= ZERO_THRESHOLD) return head & MISS_YES ? yes : no;
  return x <= f.thresholds[o + 2]! ? yes : no;
}

/**
 * Scores `rows` rows of `x` (row-major, `features` wide) into `out` (row-major, `groups` wide): each group's
 * base margin plus the leaf value each of its trees reaches. Trees are the outer loop, so one tree's records
 * stay in the L1 cache while every row of the batch walks it; each row still adds its trees in file order,
 * so a row scores the same alone or in any batch. Sums are float64; the libraries' own are float32 (XGBoost)
 * and float64 (LightGBM), so results agree to float32 rounding.
 */
export function scoreForest(f: Forest, x: Float32Array, rows: number, out: Float64Array): void {
  const { nodes, thresholds, leafValue, treeRoot, treeGroup, features, groups, baseMargin } = f;
  const trees = treeRoot.length;
  for (let r = 0; r < rows; r++) for (let g = 0; g < groups; g++) out[r * groups + g] = baseMargin[g]!;
  for (let t = 0; t < trees; t++) {
    const root = treeRoot[t]!;
    const group = treeGroup[t]!;
    for (let r = 0, at = 0, k = group; r < rows; r++, at += features, k += groups) {
      let o = root;
      let head = nodes[o]!;
      while (head >= 0) {
        const v = x[at + (head & FEATURE_MASK)]!;
        if ((head & SPECIAL) === 0) {
          const th = thresholds[o + 2]!;
          o = v <= th ? o + RECORD : v > th ? nodes[o + 1]! : head & MISS_YES ? o + RECORD : nodes[o + 1]!;
        } else o = decideSpecial(f, o, head, v);
        head = nodes[o]!;
      }
      out[k] = out[k]! + leafValue[o >> 2]!;
    }
  }
}

/** Bitset words (bit c of word c >> 5) holding the given non-negative integer categories. */
export function categoryBits(categories: readonly number[], where: string): Uint32Array {
  let max = -1;
  for (const c of categories) {
    if (!Number.isInteger(c) || c < 0 || c >= 2 ** 24) throw new TiffinError('MODEL_INVALID', `${where}: category ${c} is not an integer in 0..2^24`);
    if (c > max) max = c;
  }
  const bits = new Uint32Array(max < 0 ? 0 : (max >>> 5) + 1); // an empty set sends every value to `no`
  for (const c of categories) bits[c >>> 5] = bits[c >>> 5]! | (1 << (c & 31));
  return bits;
}
