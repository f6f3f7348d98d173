// Owns: the live set of served models (ModelRepository): version policies, labels, per-version state, hot reload
// from the store, draining retired versions, routing calls to a version. Knows nothing about: HTTP, gRPC or protocols.
export { ModelRepository, type ModelRepositoryOptions } from './model-repository.ts';
export { RoutedHandle } from './routed-handle.ts';
export { inProcessLoader } from './in-process-loader.ts';
export {
  DEFAULT_VERSION_POLICY, describeVersionPolicy, parseVersionPolicy, selectVersions, type VersionPolicy,
} from './version-policy.ts';
export type {
  IndexEntry, LoadContext, LoadedModel, ModelBatchingConfig, ModelLease, ModelLoader, RepositoryLogger,
  ResolvedModel, ServedModelConfig, VersionSelector, VersionState,
} from './types.ts';
export { modelConfigFromTag, modelsSectionSchema, parseModelList, parseModelsSection, servedModelSchema } from './model-config.ts';
export { runnerPoolLoader, type RunnerDefaults } from './runner-loader.ts';
