// Owns: the standard inference protocols as adapters over a ModelRepository: KServe V2 (REST with binary tensor data,
// gRPC, model repository), TF Serving REST, TorchServe routes, grpc.health.v1. Knows nothing about: runners, services, the CLI.
export { protocolRoutes, PROTOCOL_NAMES, type ProtocolName, type ProtocolRoutesOptions } from './protocol-routes.ts';
export { startGrpcServer, DEFAULT_GRPC_PORT, type GrpcServerOptions, type RunningGrpcServer } from './grpc-server.ts';
export { protocolError, grpcStatusOf, GRPC_STATUS, type ProtocolError } from './error-status.ts';
export { DEFAULT_BODY_LIMIT } from './http-helpers.ts';
export { defaultServerInfo, type ServerInfo } from './server-info.ts';
export * as kserveV2 from './kserve-v2/index.ts';
export * as tfServing from './tfserving/index.ts';
export * as torchServe from './torchserve/index.ts';
export { HEALTH_PROTO_PATH, loadHealthProto } from './grpc-health/index.ts';
