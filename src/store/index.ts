// Owns: the model store: tags, generated versions, model.yaml manifests, atomic on-disk storage, archives; and the
// VersionedStore those rest on, which the bundle store (src/bundle) shares through a StoreKind.
// Knows nothing about: runtimes, servers (callers run a runtime's prepare() first, then hand the store the result).
export { MODEL_KIND, ModelStore, defaultStoreRoot } from './local-store.ts';
export type { ModelStoreOptions, StoredModel, WriteModelInput } from './local-store.ts';
export { VersionedStore, checkListedFiles } from './versioned-store.ts';
export type { DeleteOptions, ImportOptions, ListOptions, StoredVersion, VerifyReport, VersionedStoreOptions } from './versioned-store.ts';
export type { StoreKind, VersionManifest } from './store-kind.ts';
export { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, parseManifest, readManifest, stringifyManifest, validateManifest } from './manifest.ts';
export type { FileEntry, ManifestProblem, ModelManifest } from './manifest.ts';
export { LATEST, MAX_NAME_LENGTH, NAME_RULE, assertValidName, assertValidVersion, formatTag, isValidName, isValidVersion, parseTag } from './tag.ts';
export type { TagParts } from './tag.ts';
export { newVersionId, versionIdTime } from './version-id.ts';
export { ARCHIVE_EXTENSION, DEFAULT_MAX_IMPORT_BYTES, DEFAULT_MAX_IMPORT_ENTRIES, formatBytes } from './archive.ts';
export { STAGING_DIR, fsyncDir, makeStagingDir, removeQuietly } from './staging.ts';
export { relativePathProblem } from './relative-path.ts';
export { digestFile } from './digest.ts';
export { listTree } from './file-tree.ts';
export type { Digest } from './digest.ts';
