// The model's own limit: rows per second of onnxruntime's session.run called in a loop in this process,
// by batch size and intra-op thread count, with no HTTP, JSON or thread hop in the way.
import * as ort from 'onnxruntime-node';
import { WIDTH, requestRow } from './model.ts';

export interface RawPoint {
  threads: number;
  batch: number;
  rowsPerSecond: number;
  /** Milliseconds per run of a batch. */
  runMs: number;
}

export function openSession(modelPath: string, threads: number): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
}

function batchOf(rows: number): ort.Tensor {
  const row = Float32Array.from(requestRow());
  const data = new Float32Array(rows * WIDTH);
  for (let r = 0; r < rows; r++) data.set(row, r * WIDTH);
  return new ort.Tensor('float32', data, [rows, WIDTH]);
}

/** Runs each batch size for about `ms` milliseconds (after a few warm-up runs). */
export async function rawThroughput(modelPath: string, threads: number, batches: readonly number[], ms: number): Promise<RawPoint[]> {
  const session = await openSession(modelPath, threads);
  try {
    const points: RawPoint[] = [];
    for (const batch of batches) {
      const feeds = { input: batchOf(batch) };
      for (let i = 0; i < 3; i++) await session.run(feeds);
      let runs = 0;
      const t0 = performance.now();
      while (performance.now() - t0 < ms) {
        await session.run(feeds);
        runs++;
      }
      const elapsed = performance.now() - t0;
      points.push({ threads, batch, rowsPerSecond: (runs * batch * 1000) / elapsed, runMs: elapsed / runs });
    }
    return points;
  } finally {
    await session.release();
  }
}

/** The reference answer for the request row, from an in-process session. */
export async function expectedOutput(modelPath: string): Promise<Float32Array> {
  const session = await openSession(modelPath, 1);
  try {
    const out = await session.run({ input: batchOf(1) });
    return out.output!.data as Float32Array;
  } finally {
    await session.release();
  }
}
