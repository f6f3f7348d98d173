// Owns: metrics (prom-client registry, /metrics), logs (pino, access log), traces (OpenTelemetry), prediction logging (ctx.monitor).
// Knows nothing about: services or HTTP routes; reads runners and dispatchers only through their public events and stats.
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
export { TiffinMetrics, type MetricsOptions, type MetricsSnapshot } from './metrics.ts';
export { DEFAULT_BUCKETS, resolveBuckets, type MetricBuckets } from './buckets.ts';
export { ModelMetrics, INFERENCE_OUTCOMES, outcomeOf, type InferenceOutcome } from './model-metrics.ts';
export { UNMATCHED_ROUTE } from './http-metrics.ts';
export {
  UserMetrics,
  type UserCounter,
  type UserGauge,
  type UserHistogram,
  type MetricLabels,
  type UserMetricOptions,
  type UserHistogramOptions,
} from './user-metrics.ts';
export { aggregateSnapshots } from './aggregate.ts';
export { observeRunner, observeLoads, splitTag, type ObservedRunner, type ObservedDispatcher } from './runner-telemetry.ts';
export { parseExposition, findSamples, sampleValue, type Exposition, type Sample } from './exposition.ts';
export { promtoolCheckMetrics, type PromtoolVerdict } from './promtool.ts';
export { parseNvidiaSmiCsv, nvidiaSmiQuery, type GpuQuery, type GpuReading } from './gpu-metrics.ts';
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
export { createLogger, LOG_LEVELS, LOG_FORMATS, type Logger, type LoggerOptions, type LogLevel, type LogFormat } from './logger.ts';
export {
  Tracing,
  tracingConfigFromEnv,
  DEFAULT_MAX_TRACES_PER_SECOND,
  NO_REQUEST_TRACE,
  TIFFIN_ATTR,
  type TracingOptions,
  type RequestTrace,
} from './tracing.ts';
export { RateLimitingSampler, defaultSampler } from './rate-limiting-sampler.ts';
export { WorkerSpanProcessor, type WorkerSpanProcessorOptions } from './worker-span-processor.ts';
export { HandlerTelemetry } from './handler-telemetry.ts';
export {
  PredictionLog,
  PredictionStream,
  PredictionRecord,
  type PredictionLogOptions,
  type StreamOptions,
  type ColumnRole,
  type ColumnType,
  type ColumnSpec,
  type RecordOutcome,
} from './prediction-log.ts';
export { requestSampler, hash32 } from './sampling.ts';
export { logTensors, tensorValues, monitorLoads, type ModelMonitorConfig } from './tensor-monitor.ts';
