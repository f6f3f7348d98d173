// The batching benchmark's model and request, shared by the parent and the server processes: an MLP
// 256 -> 1024 -> 1024 -> 10 (float32, dynamic batch, fixed-seed weights) written by src/onnx, and one
// request row sent as JSON `{ "input": [256 numbers] }`, answered as `{ "output": [10 numbers] }`.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mlp } from '../../src/onnx/index.ts';

export const WIDTH = 256;
export const LAYERS = [WIDTH, 1024, 1024, 10] as const;
export const SEED = 7;
/** Store name of the model in the Tiffin case; the service file names it too. */
export const MODEL_NAME = 'mlp';

/** Writes the model into `dir` and returns its path. */
export async function writeBenchModel(dir: string): Promise<string> {
  const path = join(dir, 'mlp.onnx');
  await writeFile(path, mlp({ layers: LAYERS, seed: SEED }));
  return path;
}

/**
 * The request row. Six decimals, as a client would print float32 features: a realistic body size
 * (~2.5 KB), and every value is the same float32 after parsing on any server.
 */
export function requestRow(): number[] {
  return Array.from({ length: WIDTH }, (_, i) => Number(Math.sin(i * 0.37).toFixed(6)));
}

export function requestBody(): string {
  return JSON.stringify({ input: requestRow() });
}

/** Largest difference from `expected`, or Infinity when the shapes differ. */
export function maxDifference(actual: unknown, expected: ArrayLike<number>): number {
  if (!Array.isArray(actual) || actual.length !== expected.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a: unknown = actual[i];
    if (typeof a !== 'number') return Infinity;
    worst = Math.max(worst, Math.abs(a - expected[i]!));
  }
  return worst;
}
