// Owns: `ModelStore`, the on-disk model store `<root>/<name>/<version>/{model.yaml, files...}`: saving a model from
// files on disk. Layout, lookups, verify, export and import are the VersionedStore's (versioned-store.ts).
import { realpath } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { TiffinError } from '../errors/index.ts';
import { ARCHIVE_EXTENSION } from './archive.ts';
import { copySource } from './file-tree.ts';
import type { Signature } from '../runtime/tensor.ts';
import type { ModelManifest } from './manifest.ts';
import { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, parseManifest, stringifyManifest, validateManifest } from './manifest.ts';
import { makeStagingDir, removeQuietly } from './staging.ts';
import type { StoreKind } from './store-kind.ts';
import { assertValidName, assertValidVersion, formatTag } from './tag.ts';
import { newVersionId } from './version-id.ts';
import { VersionedStore, type ImportOptions, type StoredVersion, type VersionedStoreOptions } from './versioned-store.ts';

/** The default store root: `$TIFFIN_HOME/models`, or `~/.tiffin/models`. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.TIFFIN_HOME;
  return home ? resolve(home, 'models') : join(homedir(), '.tiffin', 'models');
}

export const MODEL_KIND: StoreKind<ModelManifest> = {
  noun: 'model',
  manifestFile: MANIFEST_FILE,
  archiveExtension: ARCHIVE_EXTENSION,
  parse: parseManifest,
  stringify: stringifyManifest,
  notFoundCode: 'MODEL_NOT_FOUND',
  existsCode: 'MODEL_EXISTS',
};

export type ModelStoreOptions = Partial<VersionedStoreOptions>;
export type StoredModel = StoredVersion<ModelManifest>;

export interface WriteModelInput {
  name: string;
  /** Version name; generated (sortable by creation time) when left out. */
  version?: string;
  framework: string;
  frameworkVersion: string;
  /** File the runtime loads, relative to the model folder. Defaults to the file's name when `sourcePath` is a file. */
  entry?: string;
  /** One model file, or a folder whose whole content is stored. */
  sourcePath: string;
  labels?: Record<string, string>;
  metadata?: Record<string, unknown>;
  signatures: Record<string, Signature>;
  /** Replace an existing version with the same tag. */
  force?: boolean;
}

export class ModelStore extends VersionedStore<ModelManifest> {
  constructor(options: ModelStoreOptions | string = {}) {
    const opts = typeof options === 'string' ? { root: options } : options;
    super(MODEL_KIND, { ...opts, root: opts.root ?? defaultStoreRoot() });
  }

  /**
   * Saves a new version from files on disk and returns its manifest. Atomic: readers see all of it or nothing.
   * A full or read-only disk is STORE_NO_SPACE or STORE_READ_ONLY, and leaves nothing behind.
   */
  async write(input: WriteModelInput): Promise<ModelManifest> {
    return this.mapWriteFaults(`save ${input.name}${input.version === undefined ? '' : `:${input.version}`}`, () => this.writeVersion(input));
  }

  private async writeVersion(input: WriteModelInput): Promise<ModelManifest> {
    assertValidName(input.name);
    if (input.version !== undefined) assertValidVersion(input.version);
    const version = input.version ?? newVersionId();
    const tag = formatTag(input.name, version);
    await this.cleanup();
    if (!input.force) await this.assertAbsent(input.name, version);

    await this.assertSourceOutsideRoot(input.sourcePath);
    const staged = await makeStagingDir(this.root);
    try {
      const { files, singleFile } = await copySource(input.sourcePath, staged);
      const entry = input.entry ?? (singleFile ? files[0]?.path : undefined);
      if (entry === undefined) {
        throw new TiffinError('MODEL_INVALID', `Say which file the runtime loads: ${input.sourcePath} is a folder, so an entry (a path inside it) is required.`, {
          details: { sourcePath: input.sourcePath, files: files.map((f) => f.path) },
        });
      }
      if (!files.some((f) => f.path === entry)) {
        throw new TiffinError('MODEL_INVALID', `The entry ${JSON.stringify(entry)} is not among the files of ${input.sourcePath} (files: ${files.slice(0, 10).map((f) => f.path).join(', ')}).`, {
          details: { entry, sourcePath: input.sourcePath },
        });
      }
      const built = validateManifest({
        schemaVersion: MANIFEST_SCHEMA_VERSION,
        name: input.name,
        version,
        framework: input.framework,
        frameworkVersion: input.frameworkVersion,
        entry,
        createdAt: new Date().toISOString(),
        size: files.reduce((sum, f) => sum + f.size, 0),
        labels: { ...(input.labels ?? {}) },
        metadata: { ...(input.metadata ?? {}) },
        signatures: input.signatures,
        files,
      } satisfies ModelManifest, tag);
      // What is returned is what get() will read back (no aliasing of the caller's objects).
      const manifest = parseManifest(stringifyManifest(built), tag);
      await this.writeManifestFile(staged, manifest);
      await this.publish(staged, input.name, version, input.force === true);
      return manifest;
    } catch (err) {
      await removeQuietly(staged);
      throw err;
    }
  }

  /** Writes one version as a `.tiffinmodel` archive (gzip tar of model.yaml and the files). Refuses a version that fails verify. */
  async exportModel(tag: string, outFile: string): Promise<ModelManifest> {
    return this.exportTo(tag, outFile);
  }

  /** Adds the version held in a `.tiffinmodel` archive, checked whole before it becomes visible (see importFrom). */
  async importModel(archiveFile: string, options: ImportOptions = {}): Promise<ModelManifest> {
    return this.importFrom(archiveFile, options);
  }

  /** A source folder that holds the store would be copied into itself (its staging area lives inside the store). */
  private async assertSourceOutsideRoot(sourcePath: string): Promise<void> {
    let source: string;
    let root: string;
    try {
      source = await realpath(sourcePath);
      root = await realpath(this.root).catch(() => this.root);
    } catch {
      return; // Missing source: copySource reports it.
    }
    const rel = relative(source, root);
    if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
      throw new TiffinError('MODEL_INVALID', `${sourcePath} contains the model store (${this.root}); point at the model's own file or folder instead.`, {
        details: { sourcePath, root: this.root },
      });
    }
  }
}
