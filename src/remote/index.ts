// Owns: the shared store on S3-compatible buckets: push, pull and list of archived versions (models and bundles
// alike, through the ArchiveStore seam), the `remote:` config section and TIFFIN_S3_* variables, pull on start.
// Knows nothing about: how an archive is made or verified (the stores do that), servers and the CLI.
export { RemoteStore, DEFAULT_PART_SIZE } from './remote-store.ts';
export type { PullResult, RemoteStoreOptions, TransferOptions } from './remote-store.ts';
export { DEFAULT_REGION, REMOTE_ENV_VARS, remoteSectionSchema, resolveRemote } from './config.ts';
export type { RemoteConfig, RemoteSection, S3Location } from './config.ts';
export { modelArchiveStore, versionedArchiveStore } from './model-archive-store.ts';
export { pullMissingModels, tagsToServe } from './pull-on-start.ts';
export type { PullLog, PullOnStartConfig, PullOnStartOptions, PullOnStartReport } from './pull-on-start.ts';
export { REMOTE_FORMAT_VERSION, VERSION_RECORD_FILE } from './version-record.ts';
export type { ArchiveObject, ArchiveStore, ArchivedVersion, ProgressCallback, RemoteVersion } from './types.ts';
