// The serveModels options a loaded configuration asks for (tiffin.yaml, TIFFIN_* variables, flags).
import type { Logger } from 'pino';
import type { TiffinConfig } from '../config/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiMap, Service } from '../service/service.ts';
import type { Telemetry } from '../telemetry/index.ts';
import type { ModelStore } from '../store/index.ts';
import type { ServerOptions } from '../server/index.ts';
import type { ServeModelsOptions } from './serve-models.ts';
import { trafficServingOptions } from './traffic-serving.ts';

/** The HTTP server settings of a config: the same for a service alone and for served store models. */
export function serverOptions(config: TiffinConfig): ServerOptions {
  const { server: s } = config;
  const options: ServerOptions = {
    port: s.port,
    host: s.host,
    maxBodySize: s.maxBodySize,
    shutdownGraceMs: s.shutdownGraceMs,
    headersTimeoutMs: s.headersTimeoutMs,
    requestTimeoutMs: s.requestTimeoutMs,
    keepAliveTimeoutMs: s.keepAliveTimeoutMs,
    maxConnections: s.maxConnections,
    maxHeaderSize: s.maxHeaderSize,
    limits: config.limits,
    apiTimeoutMs: s.apiTimeoutMs,
    development: s.development,
    docs: s.docs,
    cors: s.cors,
  };
  if (s.tls) options.tls = s.tls;
  if (config.tasks) {
    const { dir, retention, inlineResultLimit } = config.tasks;
    options.tasks = { ...(dir ? { dir } : {}), ...(retention !== undefined ? { retentionMs: retention } : {}), ...(inlineResultLimit !== undefined ? { inlineResultLimit } : {}) };
  }
  if (Object.keys(config.dependencies).length > 0) options.dependencies = config.dependencies;
  return options;
}

export function serveModelsOptions(
  config: TiffinConfig,
  extra: { logger?: Logger; service?: Service<ModelTags, ApiMap>; telemetry?: Telemetry; store?: ModelStore } = {},
): ServeModelsOptions {
  const { protocols, repository } = config;
  const options: ServeModelsOptions = {
    models: config.models,
    http: {
      ...serverOptions(config),
      ...(extra.logger ?? extra.telemetry ? { logger: extra.logger ?? extra.telemetry!.logger } : { logLevel: config.logging.level }),
    },
    protocols: protocols.rest,
    grpc: protocols.grpc.enabled ? { port: protocols.grpc.port, ...(protocols.grpc.host ? { host: protocols.grpc.host } : {}) } : false,
    pollIntervalMs: repository.pollIntervalMs,
    drainTimeoutMs: repository.drainTimeoutMs,
    strictReadiness: repository.strictReadiness,
    loadUnlisted: repository.loadUnlisted,
    auth: config.auth,
  };
  if (config.traffic) options.traffic = trafficServingOptions(config.traffic);
  if (config.runner.inlineMaxRunMs !== undefined) options.runner = { inline: { maxRunMs: config.runner.inlineMaxRunMs } };
  if (extra.service) options.service = extra.service;
  if (extra.telemetry) options.telemetry = extra.telemetry;
  if (extra.store) options.store = extra.store;
  return options;
}

/** Whether `tiffin serve` should use serveModels: store models are configured, or the service declares models. */
export function wantsModelServer(config: TiffinConfig, svc?: Service<ModelTags, ApiMap>): boolean {
  return config.models.length > 0 || (svc !== undefined && Object.keys(svc.models).length > 0);
}
