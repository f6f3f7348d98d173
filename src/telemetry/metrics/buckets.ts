// Histogram bucket bounds for Tiffin's built-in histograms. Histograms rather than summaries because
// buckets add up across replicas and servers; bounds are configurable since the right ones depend on
// the model (a 2 ms MLP and a 2 s diffusion step want different resolution).
import { TiffinError } from '../../errors/index.ts';

export interface MetricBuckets {
  /** tiffin_http_request_duration_seconds */
  httpDurationSeconds: number[];
  /** tiffin_inference_queue_duration_seconds */
  queueDurationSeconds: number[];
  /** tiffin_inference_compute_duration_seconds */
  computeDurationSeconds: number[];
  /** tiffin_inference_batch_size (rows per batch) */
  batchSize: number[];
  /** tiffin_event_loop_delay_seconds */
  eventLoopDelaySeconds: number[];
}

export const DEFAULT_BUCKETS: Readonly<MetricBuckets> = Object.freeze({
  httpDurationSeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  queueDurationSeconds: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
  computeDurationSeconds: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  batchSize: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  eventLoopDelaySeconds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
});

/** Defaults overlaid with the caller's choices; every list must be finite, positive and strictly increasing. */
export function resolveBuckets(overrides: Partial<MetricBuckets> = {}): MetricBuckets {
  const out = {} as MetricBuckets;
  for (const key of Object.keys(DEFAULT_BUCKETS) as (keyof MetricBuckets)[]) {
    const bounds = overrides[key] ?? DEFAULT_BUCKETS[key];
    const ok =
      Array.isArray(bounds) &&
      bounds.length > 0 &&
      bounds.every((b, i) => Number.isFinite(b) && b > 0 && (i === 0 || b > bounds[i - 1]!));
    if (!ok) {
      throw new TiffinError('CONFIG_INVALID', `metrics buckets "${key}" must be a non-empty, strictly increasing list of positive numbers`, {
        details: { key, bounds },
      });
    }
    out[key] = [...bounds];
  }
  return out;
}
