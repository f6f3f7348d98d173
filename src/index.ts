// Tiffin's public API: what users import from 'tiffin'. Everything else is internal and may change.
// The typed HTTP client lives apart, in 'tiffin/client', so that callers do not load the server.

// Services: the SDK for describing typed APIs in front of stored models.
export { service, io, sequence, parallel, mapConcurrent } from './service/index.ts';
export type { Service, RequestContext, LifecycleContext, TaskContext, TaskConfig, TaskInfo, TaskHandle, DecodedImage, UploadedFile, ModelProvider } from './service/index.ts';

// Serving.
export { startServer, type RunningServer, type ServerOptions } from './serving/index.ts';
export { loadConfig, type TiffinConfig } from './config/index.ts';

// Models: the store and the runtimes behind it.
export { Models, models, type SaveOptions } from './models/index.ts';
export { ModelStore, parseTag, formatTag, type ModelManifest, type VerifyReport } from './store/index.ts';
// The shared store on an S3-compatible bucket (docs/remote-store.md).
export { RemoteStore, modelArchiveStore, pullMissingModels, type ArchiveStore, type ArchivedVersion, type PullResult, type RemoteStoreOptions, type RemoteVersion, type TransferOptions } from './remote/index.ts';
export { tensor, DTYPES, type DType, type Signature, type Tensor, type Tensors, type TensorSpec } from './runtime/tensor.ts';
export type { ModelOutputs } from './runtime/model-outputs.ts';
export { registerRuntime, getRuntime, frameworks } from './runtime/registry.ts';
export type { Model, ModelHandle, ModelDescriptor, CallOptions, Runtime, LoadOptions, SessionOptions } from './runtime/types.ts';
export type { CustomModelContext } from './runtime/custom.ts';

// Runners and batching.
export { RunnerPool, type RunnerOptions, type RunnerStats } from './runner/index.ts';

// Errors: one catalogue of stable codes.
export { TiffinError, ERROR_CODES, isTiffinError, type ErrorCode } from './errors/index.ts';
