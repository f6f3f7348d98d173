// Owns: composing a model server: a ModelRepository (runner pools, hot reload), the protocol routes on the
// HTTP server beside a service's APIs, and the gRPC server. Knows nothing about: the CLI or config files.
export { serveModels, type GrpcServingOptions, type ModelServer, type ServeModelsOptions } from './serve-models.ts';
export { RepositoryModelProvider } from './repository-provider.ts';
export { serveModelsOptions, serverOptions, wantsModelServer } from './from-config.ts';
export { startServer } from './start-server.ts';
export type { RunningServer, ServerOptions } from '../server/index.ts';
export { RunnerModelProvider } from './runner-model-provider.ts';
