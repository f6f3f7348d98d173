// Test helpers for the repository suites: a temporary store holding tiny "fake" versions (no runtime
// needed) and a loader of fake models whose calls can be held open, to watch draining.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import { ModelStore } from '../store/index.ts';
import type { Signature } from '../runtime/tensor.ts';
import type { Tensors } from '../runtime/tensor.ts';
import { tempDir } from './temp-dir.ts';
import type { LoadedModel, ModelLoader } from '../repository/types.ts';
import { asModelOutputs, type ModelOutputs } from '../runtime/model-outputs.ts';

const SIGNATURE: Signature = {
  batchable: false,
  batchDim: 0,
  inputs: [{ name: 'x', dtype: 'float32', shape: [-1] }],
  outputs: [{ name: 'y', dtype: 'float32', shape: [-1] }],
};

export async function fakeStore(): Promise<ModelStore> {
  return new ModelStore(await tempDir('repo-store'));
}

/** Saves a fake version; versions saved in order sort newest-last-saved first. */
export async function saveFake(store: ModelStore, name: string, version: string): Promise<void> {
  const dir = await tempDir('repo-src');
  const file = join(dir, 'weights.bin');
  await writeFile(file, `${name}:${version}`);
  await store.write({ name, version, framework: 'fake', frameworkVersion: '1', sourcePath: file, signatures: { run: SIGNATURE } });
}

/** A loader of fake models that answer `{ y: x }` tagged with their version; it records what it did. */
export class FakeLoader {
  readonly loaded: string[] = [];
  readonly closed: string[] = [];
  /** Tags whose load throws. */
  readonly failing = new Set<string>();
  /** While set, every call waits for it to resolve. */
  gate: Promise<void> | undefined;
  loadDelayMs = 0;

  readonly load: ModelLoader = async (tag) => {
    if (this.loadDelayMs > 0) await new Promise((r) => setTimeout(r, this.loadDelayMs));
    if (this.failing.has(tag)) throw new TiffinError('MODEL_INVALID', `cannot load ${tag}: corrupt weights`);
    this.loaded.push(tag);
    let open = true;
    const model: LoadedModel = {
      tag,
      framework: 'fake',
      signatures: { run: SIGNATURE },
      inputs: SIGNATURE.inputs,
      outputs: SIGNATURE.outputs,
      run: async (feeds: Tensors): Promise<ModelOutputs> => {
        if (this.gate) await this.gate;
        if (!open) throw new Error(`${tag} was called after it closed`);
        return asModelOutputs({ y: feeds.x!, version: { dtype: 'string', shape: [1], data: [tag] } });
      },
      call: async (_method, input) => model.run(input as Tensors),
      close: async () => {
        open = false;
        this.closed.push(tag);
      },
    };
    return model;
  };
}

export function xFeeds(): Tensors {
  return { x: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } };
}
