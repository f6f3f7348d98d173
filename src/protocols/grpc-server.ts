// The gRPC transport for the protocols: one @grpc/grpc-js server on its own port (default 8001, as
// Triton) with the V2 inference service and the standard health service, over a ModelRepository.
import * as grpc from '@grpc/grpc-js';
import type { TokenSet } from '../auth/index.ts';
import type { RequestLimits } from '../limits/index.ts';
import { grpcTlsCredentials, type TlsFiles } from '../tls/index.ts';
import type { ModelRepository } from '../repository/index.ts';
import { withGrpcAuth } from './grpc-auth.ts';
import { refusingInvalidMessages, withTolerantDecoding } from './grpc-invalid-message.ts';
import { healthHandlers, loadHealthProto } from './grpc-health/health-service.ts';
import { DEFAULT_BODY_LIMIT } from './http-helpers.ts';
import type { Tracing } from '../telemetry/tracing/tracing.ts';
import type { TrafficManager } from '../traffic/index.ts';
import { INFERENCE_SERVICE, loadInferenceProto } from './kserve-v2/grpc-proto.ts';
import { inferenceServiceHandlers } from './kserve-v2/grpc-service.ts';
import { defaultServerInfo, type ServerInfo } from './server-info.ts';

export const DEFAULT_GRPC_PORT = 8001;

export interface GrpcServerOptions {
  repository: ModelRepository;
  /** Default 8001; 0 picks a free port. */
  port?: number;
  /** Default 0.0.0.0. */
  host?: string;
  /** Largest request message in bytes; default 64 MiB. */
  maxMessageBytes?: number;
  /** What one request may hold (inputs, elements, string lengths); default DEFAULT_LIMITS. */
  limits?: RequestLimits;
  server?: ServerInfo;
  /** Traces ModelInfer calls (a SERVER span continuing a `traceparent` in the call's metadata). */
  tracing?: Tracing;
  /** Tokens for the inference and repository methods (the `authorization` metadata); default: none needed. */
  tokens?: TokenSet;
  /** Serve over TLS (grpcs) with this certificate and key, re-read when the files change. */
  tls?: TlsFiles;
  /** How long close() lets calls in flight finish before cancelling them. Default 10 s. */
  shutdownGraceMs?: number;
  /** Traffic routes for ModelInfer calls that name no version (docs/traffic.md). */
  traffic?: TrafficManager;
}

export interface RunningGrpcServer {
  /** The bound port (useful with port 0). */
  port: number;
  close(): Promise<void>;
}

function serviceDefinition(pkg: grpc.GrpcObject, path: string): grpc.ServiceDefinition {
  let node: unknown = pkg;
  for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  const service = (node as grpc.ServiceClientConstructor | undefined)?.service;
  if (!service) throw new Error(`${path} is missing from the loaded proto`);
  return service;
}

export async function startGrpcServer(options: GrpcServerOptions): Promise<RunningGrpcServer> {
  const limit = options.maxMessageBytes ?? DEFAULT_BODY_LIMIT;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': limit, 'grpc.max_send_message_length': -1 });
  const inference = grpc.loadPackageDefinition(loadInferenceProto());
  const health = grpc.loadPackageDefinition(loadHealthProto());
  const handlers = inferenceServiceHandlers(options.repository, options.server ?? defaultServerInfo(), options.tracing, options.limits, options.traffic);
  // Auth first: a caller without a token learns nothing, not even whether its message decoded.
  const checked = refusingInvalidMessages(handlers, INFERENCE_SERVICE);
  server.addService(withTolerantDecoding(serviceDefinition(inference, INFERENCE_SERVICE)), options.tokens ? withGrpcAuth(checked, options.tokens) : checked);
  server.addService(serviceDefinition(health, 'grpc.health.v1.Health'), healthHandlers(options.repository, [INFERENCE_SERVICE]));

  const address = `${options.host ?? '0.0.0.0'}:${options.port ?? DEFAULT_GRPC_PORT}`;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, options.tls ? grpcTlsCredentials(options.tls) : grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  const grace = options.shutdownGraceMs ?? 10_000;
  return {
    port,
    close: () => new Promise<void>((resolve) => {
      const timer = setTimeout(() => server.forceShutdown(), grace);
      timer.unref();
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }),
  };
}
