// Owns: Prometheus metrics: the registry and /metrics exposition, HTTP, model, process, GPU and user metrics, buckets,
// and aggregating several processes' snapshots. Knows nothing about: logs, traces or prediction logs.
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
export { parseExposition, findSamples, sampleValue, type Exposition, type Sample } from './exposition.ts';
export { parseNvidiaSmiCsv, nvidiaSmiQuery, type GpuQuery, type GpuReading } from './gpu-metrics.ts';
