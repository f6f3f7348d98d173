// Models for the runner tests (never imported by library code): an ONNX MLP and a custom model whose
// methods can crash, run out of memory or refuse to load, saved into a temporary store.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Models } from '../models/index.ts';
import { logisticRegression, mlp } from '../onnx/index.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from './temp-dir.ts';

export interface TestStore {
  root: string;
  models: Models;
}

export async function testStore(prefix: string): Promise<TestStore> {
  const dir = await tempDir(prefix);
  const root = join(dir, 'store');
  return { root, models: new Models(new ModelStore(root)) };
}

export async function saveMlp(store: TestStore, tag: string, layers: number[], options: { batchable?: boolean; seed?: number } = {}): Promise<void> {
  const file = join(store.root, '..', `${tag.replace(':', '-')}.onnx`);
  await writeFile(file, mlp({ layers, seed: options.seed ?? 1 }));
  await store.models.save(tag, file, { framework: 'onnx', batchable: options.batchable ?? true });
}

export async function saveLogistic(store: TestStore, tag: string): Promise<void> {
  const file = join(store.root, '..', 'logistic.onnx');
  await writeFile(file, logisticRegression({ weights: [[1, -1, 0], [0, 1, -1]], bias: [0, 0.1, 0.2] }));
  await store.models.save(tag, file, { framework: 'onnx', batchable: true });
}

/**
 * A custom model: `double` (batchable, ~`workMs` of busy CPU per batch), `crash` (an error thrown outside
 * any call, which kills its thread), `abort` (process.abort()), `oom` (allocates until the heap limit), and `setup` that refuses to
 * load in a worker while the file named by $TIFFIN_TEST_REFUSE_LOAD exists.
 */
const CRASHY_MODEL = `
import { existsSync } from 'node:fs';
import { isMainThread, threadId } from 'node:worker_threads';

function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

export default class Crashy {
  static signatures = { double: { batchable: true } };

  setup(): void {
    const flag = process.env.TIFFIN_TEST_REFUSE_LOAD;
    if (!isMainThread && flag && existsSync(flag)) throw new Error('refusing to load (test flag)');
  }

  double(items: number[]): number[] {
    busy(WORK_MS);
    return items.map((x) => x * 2);
  }

  thread(): number {
    return threadId;
  }

  crash(): string {
    setTimeout(() => { throw new Error('boom from a timer'); }, 0);
    return 'scheduled';
  }

  /** In a worker, process.abort() throws instead of aborting the process; from a timer it ends the thread. */
  abort(mode: 'now' | 'later'): string {
    if (mode === 'now') process.abort();
    setTimeout(() => process.abort(), 0);
    return 'scheduled';
  }

  /** Never returns: a call stuck in the model's code. */
  hang(): Promise<never> {
    return new Promise(() => {});
  }

  oom(): number {
    const hoard: number[][] = [];
    for (;;) hoard.push(new Array(1_000_000).fill(hoard.length));
  }
}
`;

export async function saveCrashy(store: TestStore, tag: string, workMs = 2): Promise<void> {
  const dir = join(store.root, '..', `crashy-${workMs}`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.ts'), CRASHY_MODEL.replace('WORK_MS', String(workMs)));
  await store.models.save(tag, dir, { framework: 'custom' });
}
