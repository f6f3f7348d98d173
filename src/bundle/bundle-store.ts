// Owns: `BundleStore`, built bundles on disk at `$TIFFIN_HOME/bundles/<name>/<version>/{bundle.yaml, files...}`.
// It is the model store's VersionedStore with bundle.yaml as the manifest, so it has the same guarantees: atomic
// publish, verify, and a defensive import of `.tiffinbundle` archives.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { makeStagingDir, removeQuietly, VersionedStore, type StoreKind, type VersionedStoreOptions } from '../store/index.ts';
import { BUNDLE_EXTENSION, BUNDLE_FILE, parseBundleManifest, stringifyBundleManifest, type BundleManifest } from './manifest.ts';

/** `$TIFFIN_HOME/bundles`, or `~/.tiffin/bundles`. */
export function defaultBundleRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.TIFFIN_HOME ? resolve(env.TIFFIN_HOME, 'bundles') : join(homedir(), '.tiffin', 'bundles');
}

export const BUNDLE_KIND: StoreKind<BundleManifest> = {
  noun: 'bundle',
  manifestFile: BUNDLE_FILE,
  archiveExtension: BUNDLE_EXTENSION,
  parse: parseBundleManifest,
  stringify: stringifyBundleManifest,
  notFoundCode: 'BUNDLE_NOT_FOUND',
  existsCode: 'BUNDLE_EXISTS',
};

export class BundleStore extends VersionedStore<BundleManifest> {
  constructor(options: Partial<VersionedStoreOptions> | string = {}) {
    const opts = typeof options === 'string' ? { root: options } : options;
    super(BUNDLE_KIND, { ...opts, root: opts.root ?? defaultBundleRoot() });
  }

  /**
   * Adds a new bundle: `fill` writes its files into an empty staging folder inside the store and returns the manifest
   * that lists them; that folder is published with one rename. On any failure nothing is left behind.
   */
  async add(fill: (dir: string) => Promise<BundleManifest>): Promise<BundleManifest> {
    return this.mapWriteFaults('build a bundle', async () => {
      await this.cleanup();
      const staged = await makeStagingDir(this.root);
      try {
        const manifest = parseBundleManifest(stringifyBundleManifest(await fill(staged)), BUNDLE_FILE);
        await this.assertAbsent(manifest.name, manifest.version);
        await this.writeManifestFile(staged, manifest);
        await this.publish(staged, manifest.name, manifest.version, false);
        return manifest;
      } catch (err) {
        await removeQuietly(staged);
        throw err;
      }
    });
  }
}
