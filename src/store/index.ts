// Owns: the model store: tags, generated versions, model.yaml manifests, atomic on-disk storage, archives.
// Knows nothing about: runtimes, servers (callers run a runtime's prepare() first, then hand the store the result).
export { ModelStore, defaultStoreRoot } from './local-store.ts';
export type { DeleteOptions, ImportOptions, ListOptions, ModelStoreOptions, StoredModel, VerifyReport, WriteModelInput } from './local-store.ts';
export { MANIFEST_FILE, MANIFEST_SCHEMA_VERSION, parseManifest, readManifest, stringifyManifest, validateManifest } from './manifest.ts';
export type { FileEntry, ManifestProblem, ModelManifest } from './manifest.ts';
export { LATEST, MAX_NAME_LENGTH, NAME_RULE, assertValidName, assertValidVersion, formatTag, isValidName, isValidVersion, parseTag } from './tag.ts';
export type { TagParts } from './tag.ts';
export { newVersionId, versionIdTime } from './version-id.ts';
export { ARCHIVE_EXTENSION, DEFAULT_MAX_IMPORT_BYTES, DEFAULT_MAX_IMPORT_ENTRIES } from './archive.ts';
export { STAGING_DIR } from './staging.ts';
export { digestFile } from './digest.ts';
export type { Digest } from './digest.ts';
