// Owns: the Telemetry facade a server holds, its configuration section, and the HTTP, handler and runner hooks that feed
// its four parts: metrics/, logs/, tracing/ and monitoring/ (prediction logs), each a folder with its own header.
// Knows nothing about: services or HTTP routes; reads runners and dispatchers only through their public events and stats.
export { hash32 } from './tracing/sampling.ts';
export { Telemetry, type TelemetryOptions } from './telemetry.ts';
export {
  metricsSectionSchema,
  tracingSectionSchema,
  monitoringSectionSchema,
  accessLogKeys,
  telemetrySectionsSchema,
  resolveTelemetryConfig,
  DEFAULT_TELEMETRY_CONFIG,
  type TelemetryConfig,
  type TelemetrySections,
} from './config.ts';
export { observeRunner, observeLoads, splitTag, type ObservedRunner, type ObservedDispatcher } from './runner-telemetry.ts';
export {
  registerHttpTelemetry,
  requestTelemetry,
  annotateRequest,
  quietPathMatcher,
  DEFAULT_METRICS_PATH,
  DEFAULT_QUIET_PATHS,
  type HttpTelemetryOptions,
  type RequestTelemetry,
} from './http-telemetry.ts';
export { HandlerTelemetry } from './handler-telemetry.ts';
export * from './metrics/index.ts';
export * from './logs/index.ts';
export * from './tracing/index.ts';
export * from './monitoring/index.ts';
