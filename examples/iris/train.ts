// Trains a multinomial logistic-regression classifier on the Iris data set, in plain TypeScript.
// Standardisation is folded into the weights, so the exported model takes raw measurements in centimetres.
import { readFile } from 'node:fs/promises';

export const FEATURES = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'] as const;
/** Class order of the model's outputs: the order species first appear in iris.csv. */
export const SPECIES = ['setosa', 'versicolor', 'virginica'] as const;

export interface IrisData {
  x: number[][];
  y: number[];
  classes: string[];
}

export interface TrainedClassifier {
  /** features x classes, applied to raw (unscaled) measurements. */
  weights: number[][];
  bias: number[];
  classes: string[];
  /** Accuracy on the training rows. */
  accuracy: number;
}

export async function loadIris(path = new URL('./iris.csv', import.meta.url)): Promise<IrisData> {
  const [header, ...rows] = (await readFile(path, 'utf8')).trim().split('\n');
  if (header !== [...FEATURES, 'species'].join(',')) throw new Error(`unexpected Iris header: ${header}`);
  const classes: string[] = [...SPECIES];
  const x: number[][] = [];
  const y: number[] = [];
  for (const row of rows) {
    const cells = row.split(',');
    const species = cells[4]!;
    if (!classes.includes(species)) throw new Error(`unknown species "${species}" in the Iris data`);
    x.push(cells.slice(0, 4).map(Number));
    y.push(classes.indexOf(species));
  }
  return { x, y, classes };
}

function softmax(z: number[]): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/** Full-batch gradient descent on the cross-entropy loss with a little L2 regularisation. */
export function train(data: IrisData, { epochs = 2000, learningRate = 0.5, l2 = 1e-3 } = {}): TrainedClassifier {
  const n = data.x.length;
  const d = FEATURES.length;
  const k = data.classes.length;
  const mean = Array.from({ length: d }, (_, j) => data.x.reduce((s, r) => s + r[j]!, 0) / n);
  const std = Array.from({ length: d }, (_, j) => Math.sqrt(data.x.reduce((s, r) => s + (r[j]! - mean[j]!) ** 2, 0) / n) || 1);
  const xs = data.x.map((r) => r.map((v, j) => (v - mean[j]!) / std[j]!));
  const w = Array.from({ length: d }, () => new Array<number>(k).fill(0));
  const b = new Array<number>(k).fill(0);

  for (let epoch = 0; epoch < epochs; epoch++) {
    const gw = Array.from({ length: d }, () => new Array<number>(k).fill(0));
    const gb = new Array<number>(k).fill(0);
    xs.forEach((row, i) => {
      const p = softmax(b.map((bc, c) => bc + row.reduce((s, v, j) => s + v * w[j]![c]!, 0)));
      p.forEach((pc, c) => {
        const err = pc - (data.y[i] === c ? 1 : 0);
        gb[c]! += err / n;
        row.forEach((v, j) => (gw[j]![c]! += (err * v) / n));
      });
    });
    for (let j = 0; j < d; j++) for (let c = 0; c < k; c++) w[j]![c]! -= learningRate * (gw[j]![c]! + l2 * w[j]![c]!);
    for (let c = 0; c < k; c++) b[c]! -= learningRate * gb[c]!;
  }

  // Fold (x - mean) / std into the weights: w' = w / std, b' = b - sum_j w_j * mean_j / std_j.
  const weights = w.map((row, j) => row.map((v) => v / std[j]!));
  const bias = b.map((bc, c) => bc - weights.reduce((s, row, j) => s + row[c]! * mean[j]!, 0));
  const predict = (r: number[]) => {
    const z = bias.map((bc, c) => bc + r.reduce((s, v, j) => s + v * weights[j]![c]!, 0));
    return z.indexOf(Math.max(...z));
  };
  const correct = data.x.filter((r, i) => predict(r) === data.y[i]).length;
  return { weights, bias, classes: data.classes, accuracy: correct / n };
}
