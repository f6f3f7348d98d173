// Owns: OpenTelemetry tracing: sampling, request and model spans, export from a worker thread over OTLP.
// Knows nothing about: metrics or logs; HTTP only through the request trace it is given.
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
export { requestSampler, hash32 } from './sampling.ts';
