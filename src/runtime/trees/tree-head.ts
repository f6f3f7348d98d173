// Owns: what a tree model answers, from the scores its trees add up: the output tensors (names, dtypes, shapes)
// of regressors and classifiers, and the objective's link (identity, sigmoid, exp, softmax) applied to the scores.
import type { Tensor, TensorSpec, Tensors } from '../tensor.ts';

export type Link = 'identity' | 'sigmoid' | 'exp' | 'softmax' | 'sigmoid-each';

/** A regressor answers `predictions`; a classifier answers `label` (the most likely class) and `probabilities`. */
export interface TreeHead {
  task: 'regression' | 'binary' | 'multiclass';
  link: Link;
  /** LightGBM's `sigmoid:k`: p = 1 / (1 + exp(-k · score)); 1 for XGBoost. */
  sigmoidScale: number;
  /** The objective as the file names it, for messages and docs. */
  objective: string;
}

export const TREE_INPUT = 'input';

export function inputSpecs(features: number): TensorSpec[] {
  return [{ name: TREE_INPUT, dtype: 'float32', shape: [-1, features] }];
}

export function outputSpecs(head: TreeHead, groups: number): TensorSpec[] {
  if (head.task === 'regression') return [{ name: 'predictions', dtype: 'float32', shape: [-1] }];
  const classes = head.task === 'binary' ? 2 : groups;
  return [
    { name: 'label', dtype: 'int64', shape: [-1] },
    { name: 'probabilities', dtype: 'float32', shape: [-1, classes] },
  ];
}

function sigmoid(x: number, k: number): number {
  return 1 / (1 + Math.exp(-k * x));
}

/** Applies the head to `rows` × `groups` scores and returns the outputs in `wanted`. */
export function headOutputs(head: TreeHead, scores: Float64Array, rows: number, groups: number, wanted: readonly string[]): Tensors {
  const out: Tensors = {};
  if (head.task === 'regression') {
    const p = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const s = scores[r]!;
      p[r] = head.link === 'sigmoid' ? sigmoid(s, head.sigmoidScale) : head.link === 'exp' ? Math.exp(s) : s;
    }
    if (wanted.includes('predictions')) out.predictions = { dtype: 'float32', shape: [rows], data: p };
    return out;
  }
  const classes = head.task === 'binary' ? 2 : groups;
  const probs = new Float32Array(rows * classes);
  const label = new BigInt64Array(rows);
  if (head.task === 'binary') {
    for (let r = 0; r < rows; r++) {
      const p = sigmoid(scores[r]!, head.sigmoidScale);
      probs[r * 2] = 1 - p;
      probs[r * 2 + 1] = p;
      label[r] = p > 0.5 ? 1n : 0n;
    }
  } else {
    for (let r = 0; r < rows; r++) {
      const o = r * classes;
      let max = -Infinity;
      let best = 0;
      for (let c = 0; c < classes; c++) {
        const s = scores[o + c]!;
        if (s > max) {
          max = s;
          best = c;
        }
      }
      if (head.link === 'softmax') {
        // Shifted by the largest score so that exp never overflows.
        let sum = 0;
        for (let c = 0; c < classes; c++) sum += Math.exp(scores[o + c]! - max);
        for (let c = 0; c < classes; c++) probs[o + c] = Math.exp(scores[o + c]! - max) / sum;
      } else {
        // One-vs-all (LightGBM multiclassova): each class's own sigmoid, not normalised.
        for (let c = 0; c < classes; c++) probs[o + c] = sigmoid(scores[o + c]!, head.sigmoidScale);
      }
      label[r] = BigInt(best);
    }
  }
  if (wanted.includes('label')) out.label = { dtype: 'int64', shape: [rows], data: label } satisfies Tensor;
  if (wanted.includes('probabilities')) out.probabilities = { dtype: 'float32', shape: [rows, classes], data: probs };
  return out;
}
