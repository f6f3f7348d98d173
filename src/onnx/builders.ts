// Owns: ready-made small models (as .onnx bytes) for tests, examples and benchmarks, plus plain-JS
// references that compute what each should output. Knows nothing about loading or serving them.
import { TiffinError } from '../errors/index.ts';
import type { DType } from '../runtime/tensor.ts';
import { mulberry32, uniformFloat32 } from './random.ts';
import { attr, GraphBuilder, type Dim } from './writer.ts';

/** A dense layer: `weights` is [inputs][outputs] (x · W + b), `bias` has one entry per output. */
export interface LinearOptions {
  weights: readonly (readonly number[])[];
  bias: readonly number[];
}

/** Checks a dense layer's dimensions and flattens W row-major; returns [inputs, outputs, W]. */
function denseLayer({ weights, bias }: LinearOptions): [number, number, number[]] {
  const inputs = weights.length;
  const outputs = weights[0]?.length ?? 0;
  if (inputs === 0 || outputs === 0) throw new TiffinError('MODEL_INVALID', 'weights must be a non-empty [inputs][outputs] matrix');
  if (weights.some((row) => row.length !== outputs)) throw new TiffinError('MODEL_INVALID', `every weights row must have ${outputs} entries`);
  if (bias.length !== outputs) throw new TiffinError('MODEL_INVALID', `bias must have ${outputs} entries (one per output), got ${bias.length}`);
  return [inputs, outputs, weights.flat()];
}

/** input float32 [-1, in] → output float32 [-1, out] = input · W + b (MatMul + Add). */
export function linearRegression(options: LinearOptions): Uint8Array {
  const [inputs, outputs, w] = denseLayer(options);
  return new GraphBuilder('linear_regression')
    .input('input', 'float32', [-1, inputs])
    .initializer('W', 'float32', [inputs, outputs], w)
    .initializer('B', 'float32', [outputs], options.bias)
    .node('MatMul', ['input', 'W'], ['xw'])
    .node('Add', ['xw', 'B'], ['output'])
    .output('output', 'float32', [-1, outputs])
    .build();
}

/**
 * input float32 [-1, in] → label int64 [-1] (index of the largest probability, first on ties) and
 * probabilities float32 [-1, classes] = softmax(input · W + b).
 */
export function logisticRegression(options: LinearOptions): Uint8Array {
  const [inputs, classes, w] = denseLayer(options);
  return new GraphBuilder('logistic_regression')
    .input('input', 'float32', [-1, inputs])
    .initializer('W', 'float32', [inputs, classes], w)
    .initializer('B', 'float32', [classes], options.bias)
    .node('MatMul', ['input', 'W'], ['xw'])
    .node('Add', ['xw', 'B'], ['logits'])
    .node('Softmax', ['logits'], ['probabilities'], { axis: 1 })
    .node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 })
    .output('label', 'int64', [-1])
    .output('probabilities', 'float32', [-1, classes])
    .build();
}

export type Activation = 'relu' | 'tanh' | 'sigmoid';

export interface MlpOptions {
  /** Widths from input to output, e.g. [256, 1024, 1024, 10]: three dense layers. */
  layers: readonly number[];
  seed: number;
  /** Between layers, not after the last (default relu). */
  activation?: Activation;
}

/** An MLP's generated parameters: weights[i] is [layers[i]][layers[i+1]] row-major. */
export interface MlpParams {
  layers: number[];
  activation: Activation;
  weights: Float32Array[];
  biases: Float32Array[];
}

/**
 * The weights `mlp` bakes in, reproducible from the seed. Per layer, weights then biases are drawn
 * uniformly: ±sqrt(6/fanIn) for relu (He), ±sqrt(6/(fanIn+fanOut)) otherwise (Xavier), biases ±0.1,
 * so activations stay O(1) however deep.
 */
export function mlpParams({ layers, seed, activation = 'relu' }: MlpOptions): MlpParams {
  if (layers.length < 2 || layers.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new TiffinError('MODEL_INVALID', `layers must be at least two positive integers, got [${layers.join(', ')}]`);
  }
  const rand = mulberry32(seed);
  const weights: Float32Array[] = [];
  const biases: Float32Array[] = [];
  for (let i = 0; i + 1 < layers.length; i++) {
    const fanIn = layers[i]!;
    const fanOut = layers[i + 1]!;
    const limit = activation === 'relu' ? Math.sqrt(6 / fanIn) : Math.sqrt(6 / (fanIn + fanOut));
    weights.push(uniformFloat32(rand, fanIn * fanOut, limit));
    biases.push(uniformFloat32(rand, fanOut, 0.1));
  }
  return { layers: [...layers], activation, weights, biases };
}

const ACTIVATION_OP: Record<Activation, string> = { relu: 'Relu', tanh: 'Tanh', sigmoid: 'Sigmoid' };

function activate(kind: Activation, x: number): number {
  if (kind === 'relu') return x > 0 ? x : 0;
  if (kind === 'tanh') return Math.tanh(x);
  return 1 / (1 + Math.exp(-x));
}

/**
 * input float32 ['batch', layers[0]] → output float32 ['batch', last] through Gemm layers with the
 * activation between them. Pass options (weights generated from the seed) or mlpParams' result.
 */
export function mlp(options: MlpOptions | MlpParams): Uint8Array {
  const params = 'weights' in options ? options : mlpParams(options);
  const { layers, activation } = params;
  const g = new GraphBuilder('mlp').input('input', 'float32', ['batch', layers[0]!]);
  let x = 'input';
  for (let i = 0; i + 1 < layers.length; i++) {
    const last = i + 2 === layers.length;
    const y = last ? 'output' : `dense${i}`;
    g.initializer(`W${i}`, 'float32', [layers[i]!, layers[i + 1]!], params.weights[i]!)
      .initializer(`B${i}`, 'float32', [layers[i + 1]!], params.biases[i]!)
      .node('Gemm', [x, `W${i}`, `B${i}`], [y]);
    x = y;
    if (!last) {
      x = `act${i}`;
      g.node(ACTIVATION_OP[activation], [y], [x]);
    }
  }
  return g.output('output', 'float32', ['batch', layers.at(-1)!]).build();
}

/** The MLP's forward pass in plain JS over a row-major [batch, layers[0]] input. */
export function mlpForward(params: MlpParams, input: ArrayLike<number>, batch: number): Float32Array {
  const { layers } = params;
  if (input.length !== batch * layers[0]!) throw new TiffinError('TENSOR_INVALID', `input needs ${batch * layers[0]!} values, got ${input.length}`);
  let x: ArrayLike<number> = input;
  for (let l = 0; l + 1 < layers.length; l++) {
    const n = layers[l]!;
    const m = layers[l + 1]!;
    const w = params.weights[l]!;
    const b = params.biases[l]!;
    const y = new Float32Array(batch * m);
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < m; j++) {
        let sum = b[j]!;
        for (let k = 0; k < n; k++) sum += x[r * n + k]! * w[k * m + j]!;
        y[r * m + j] = l + 2 === layers.length ? sum : activate(params.activation, sum);
      }
    }
    x = y;
  }
  return x as Float32Array;
}

/** A decision tree: go left when x[feature] <= threshold; a leaf holds one weight per class. */
export type TreeNode =
  | { feature: number; threshold: number; left: TreeNode; right: TreeNode }
  | { leaf: readonly number[] };

export interface TreeEnsembleOptions {
  /** Width of the input rows. */
  features: number;
  trees: readonly TreeNode[];
  /** int64 label per class (default 0..classes-1). */
  labels?: readonly number[];
}

/** Number of classes, taken from the leaves (which must agree), after checking features. */
function countClasses(tree: TreeNode, features: number, found = new Set<number>()): Set<number> {
  if ('leaf' in tree) {
    found.add(tree.leaf.length);
    return found;
  }
  if (!Number.isInteger(tree.feature) || tree.feature < 0 || tree.feature >= features) {
    throw new TiffinError('MODEL_INVALID', `tree feature ${tree.feature} is outside 0..${features - 1}`);
  }
  countClasses(tree.left, features, found);
  return countClasses(tree.right, features, found);
}

function classCount({ features, trees, labels }: TreeEnsembleOptions): number {
  if (trees.length === 0) throw new TiffinError('MODEL_INVALID', 'a tree ensemble needs at least one tree');
  const sizes = new Set<number>();
  for (const tree of trees) countClasses(tree, features, sizes);
  const [classes, ...more] = sizes;
  if (classes === undefined || classes < 2 || more.length > 0) {
    throw new TiffinError('MODEL_INVALID', `every leaf must have the same number (>= 2) of class weights, got ${[...sizes].join(', ')}`);
  }
  if (labels && labels.length !== classes) throw new TiffinError('MODEL_INVALID', `labels must have ${classes} entries`);
  return classes;
}

/**
 * ai.onnx.ml TreeEnsembleClassifier: input float32 [-1, features] → label int64 [-1] and
 * probabilities float32 [-1, classes]. Leaf weights are divided by the number of trees, so with
 * post_transform NONE the scores are the mean of the leaves reached: probabilities when each leaf's
 * weights sum to 1. The label is the class with the highest score (first on ties).
 */
export function treeEnsembleClassifier(options: TreeEnsembleOptions): Uint8Array {
  const classes = classCount(options);
  const scale = 1 / options.trees.length;
  const nodes = { treeIds: [] as number[], nodeIds: [] as number[], features: [] as number[], values: [] as number[],
    modes: [] as string[], trueIds: [] as number[], falseIds: [] as number[] };
  const weights = { treeIds: [] as number[], nodeIds: [] as number[], classIds: [] as number[], values: [] as number[] };

  options.trees.forEach((tree, treeId) => {
    let next = 0;
    // Pre-order numbering; returns the id given to `node`.
    const visit = (node: TreeNode): number => {
      const id = next++;
      const at = nodes.nodeIds.length;
      nodes.treeIds.push(treeId);
      nodes.nodeIds.push(id);
      if ('leaf' in node) {
        nodes.features.push(0); nodes.values.push(0); nodes.modes.push('LEAF'); nodes.trueIds.push(0); nodes.falseIds.push(0);
        // Every class gets a weight (zeros too) so onnxruntime never takes its binary shortcut for
        // ensembles that weight only one of two classes, where scores follow other rules.
        node.leaf.forEach((w, c) => {
          weights.treeIds.push(treeId); weights.nodeIds.push(id); weights.classIds.push(c); weights.values.push(w * scale);
        });
        return id;
      }
      nodes.features.push(node.feature); nodes.values.push(node.threshold); nodes.modes.push('BRANCH_LEQ');
      nodes.trueIds.push(0); nodes.falseIds.push(0);
      nodes.trueIds[at] = visit(node.left);
      nodes.falseIds[at] = visit(node.right);
      return id;
    };
    visit(tree);
  });

  const g = new GraphBuilder('tree_ensemble_classifier')
    .input('input', 'float32', [-1, options.features])
    .node('TreeEnsembleClassifier', ['input'], ['ensemble_label', 'probabilities'], {
      nodes_treeids: attr.ints(nodes.treeIds),
      nodes_nodeids: attr.ints(nodes.nodeIds),
      nodes_featureids: attr.ints(nodes.features),
      nodes_values: attr.floats(nodes.values),
      nodes_modes: attr.strings(nodes.modes),
      nodes_truenodeids: attr.ints(nodes.trueIds),
      nodes_falsenodeids: attr.ints(nodes.falseIds),
      class_treeids: attr.ints(weights.treeIds),
      class_nodeids: attr.ints(weights.nodeIds),
      class_ids: attr.ints(weights.classIds),
      class_weights: attr.floats(weights.values),
      classlabels_int64s: attr.ints(Array.from({ length: classes }, (_, i) => i)),
      post_transform: 'NONE',
    }, { domain: 'ai.onnx.ml' });
  // The label comes from ArgMax rather than the operator's own label output: with two classes
  // onnxruntime picks class 1 whenever its score is > 0, not when it is the larger one.
  if (options.labels) {
    g.node('ArgMax', ['probabilities'], ['class_index'], { axis: 1, keepdims: 0 })
      .initializer('class_labels', 'int64', [classes], options.labels)
      .node('Gather', ['class_labels', 'class_index'], ['label'], { axis: 0 });
  } else {
    g.node('ArgMax', ['probabilities'], ['label'], { axis: 1, keepdims: 0 });
  }
  return g
    .output('label', 'int64', [-1])
    .output('probabilities', 'float32', [-1, classes])
    .build({ mlOpset: 3 });
}

/** What `treeEnsembleClassifier` computes for one row, in float32 like onnxruntime. */
export function treeEnsemblePredict(options: TreeEnsembleOptions, row: ArrayLike<number>): { label: number; probabilities: number[] } {
  const classes = classCount(options);
  const scale = Math.fround(1 / options.trees.length);
  const scores = new Array<number>(classes).fill(0);
  for (const tree of options.trees) {
    let node = tree;
    while (!('leaf' in node)) node = Math.fround(row[node.feature]!) <= Math.fround(node.threshold) ? node.left : node.right;
    node.leaf.forEach((w, c) => { scores[c] = Math.fround(scores[c]! + Math.fround(w * scale)); });
  }
  let best = 0;
  scores.forEach((s, c) => { if (s > scores[best]!) best = c; });
  return { label: options.labels?.[best] ?? best, probabilities: scores };
}

/**
 * Several inputs and outputs of different dtypes, each output depending on one input:
 * x float32 [-1, 3] → sum float32 [-1, 1] (row sums); count int64 [-1, 1] → doubled int64 [-1, 1];
 * flag bool [-1, 1] → negated bool [-1, 1]; text string [-1, 1] → echoed string [-1, 1] (unchanged).
 */
export function mixedIO(): Uint8Array {
  return new GraphBuilder('mixed_io')
    .input('x', 'float32', ['batch', 3])
    .input('count', 'int64', ['batch', 1])
    .input('flag', 'bool', ['batch', 1])
    .input('text', 'string', ['batch', 1])
    .initializer('sum_axes', 'int64', [1], [1])
    .node('ReduceSum', ['x', 'sum_axes'], ['sum'], { keepdims: 1 })
    .node('Add', ['count', 'count'], ['doubled'])
    .node('Not', ['flag'], ['negated'])
    .node('Identity', ['text'], ['echoed'])
    .output('sum', 'float32', ['batch', 1])
    .output('doubled', 'int64', ['batch', 1])
    .output('negated', 'bool', ['batch', 1])
    .output('echoed', 'string', ['batch', 1])
    .build();
}

export interface IdentityOptions {
  dtype: DType;
  /** Declared shape of both 'input' and 'output'; -1 or a symbol marks a dynamic dimension. */
  shape: readonly Dim[];
}

/**
 * input → output unchanged, for any dtype: a probe for dtype handling end to end. Note that
 * onnxruntime-node 1.30 cannot load a model with a bfloat16 input or output: session creation throws
 * from a timer callback (an uncaught exception that ends the process), so only load that one isolated.
 */
export function identity({ dtype, shape }: IdentityOptions): Uint8Array {
  return new GraphBuilder(`identity_${dtype}`)
    .input('input', dtype, shape)
    .node('Identity', ['input'], ['output'])
    .output('output', dtype, shape)
    .build();
}
