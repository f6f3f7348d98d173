// Owns: the user-facing `models` API: save a model through its framework's runtime into the store, and
// load stored models back into runnable Models. Knows nothing about HTTP, runners or batching.
import { stat } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { ModelStore, parseTag, type ImportOptions } from '../store/index.ts';
import type { Signature } from '../runtime/tensor.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { getRuntime } from '../runtime/registry.ts';
import type { LoadOptions, Model } from '../runtime/types.ts';

export interface SaveOptions {
  /** Framework name: 'onnx', 'custom', or any registered runtime. */
  framework: string;
  /** The file the runtime loads, when a folder holds several candidates. */
  entry?: string;
  labels?: Record<string, string>;
  metadata?: Record<string, unknown>;
  /** Marks every method batchable along dimension 0. */
  batchable?: boolean;
  /** Per-method signatures; the runtime fills in what the model itself declares. */
  signatures?: Record<string, Partial<Signature>>;
  /** Replaces an existing version with the same tag. */
  force?: boolean;
}

export class Models {
  constructor(readonly store: ModelStore = new ModelStore()) {}

  /** Validates `path` (a file or folder) with its framework's runtime, then stores it atomically. */
  async save(tag: string, path: string, options: SaveOptions): Promise<ModelManifest> {
    const { name, version } = parseTag(tag);
    const sourcePath = resolve(path);
    const isDir = (await stat(sourcePath)).isDirectory();
    const runtime = getRuntime(options.framework);
    const prepared = await runtime.prepare({
      dir: isDir ? sourcePath : dirname(sourcePath),
      entry: isDir ? options.entry : basename(sourcePath),
      signatures: options.signatures,
      batchable: options.batchable,
      metadata: options.metadata,
    });
    return this.store.write({
      name,
      version,
      framework: options.framework,
      frameworkVersion: prepared.frameworkVersion,
      entry: prepared.entry,
      sourcePath,
      labels: options.labels,
      metadata: prepared.metadata ? { ...options.metadata, ...prepared.metadata } : options.metadata,
      signatures: prepared.signatures,
      force: options.force,
    });
  }

  /** The manifest of a stored version (`name`, `name:latest` or `name:version`). */
  async get(tag: string): Promise<ModelManifest> {
    return (await this.store.get(tag)).manifest;
  }

  list(filter: { name?: string; labels?: Record<string, string> } = {}): Promise<ModelManifest[]> {
    return this.store.list(filter);
  }

  delete(tag: string, options: { allVersions?: boolean } = {}): Promise<void> {
    return this.store.delete(tag, options);
  }

  verify(tag?: string): ReturnType<ModelStore['verify']> {
    return this.store.verify(tag);
  }

  exportModel(tag: string, outFile: string): ReturnType<ModelStore['exportModel']> {
    return this.store.exportModel(tag, outFile);
  }

  importModel(archive: string, options: Pick<ImportOptions, 'force' | 'maxImportBytes'> = {}): Promise<ModelManifest> {
    return this.store.importModel(archive, options);
  }

  /** Loads a stored version with its framework's runtime, ready to run. */
  async load(tag: string, options?: LoadOptions): Promise<Model> {
    const { manifest, dir } = await this.store.get(tag);
    return getRuntime(manifest.framework).load(dir, manifest, options);
  }
}

/** The models API over the default store (`$TIFFIN_HOME/models`, or `~/.tiffin/models`). */
export const models = new Models();
