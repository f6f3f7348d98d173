// A local VersionedStore seen through the ArchiveStore seam: the model store's `.tiffinmodel` archives go under
// `<prefix>/models/` in the bucket; the bundle store (same base class) can use `versionedArchiveStore('bundles', ...)`.
import type { ModelStore, VersionManifest, VersionedStore } from '../store/index.ts';
import type { ArchiveStore, ArchivedVersion } from './types.ts';

function archived(m: VersionManifest): ArchivedVersion {
  return { name: m.name, version: m.version, createdAt: m.createdAt, labels: { ...m.labels }, size: m.size };
}

export function versionedArchiveStore<M extends VersionManifest>(kind: ArchiveStore['kind'], store: VersionedStore<M>): ArchiveStore {
  return {
    kind,
    extension: store.archiveExtension,
    describe: async (tag) => archived(await store.describe(tag)),
    has: (name, version) => store.has(name, version),
    // exportTo verifies every file first and refuses a damaged version (INTEGRITY_MISMATCH).
    exportTo: async (tag, file) => archived(await store.exportTo(tag, file)),
    // importFrom checks every digest in staging and publishes with one rename.
    importFrom: async (file, options) => archived(await store.importFrom(file, { force: options.force === true, ...(options.expect ? { expect: options.expect } : {}) })),
  };
}

export function modelArchiveStore(store: ModelStore): ArchiveStore {
  return versionedArchiveStore('models', store);
}
