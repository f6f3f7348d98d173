// Merging the metrics of several processes into one scrape, for a process that forks helpers and answers
// /metrics for all of them. Counters, histograms and additive gauges are summed; metrics that describe
// the machine rather than the process (GPU, start time, versions) declare their own rule (max, omit, first).
import { AggregatorRegistry } from 'prom-client';
import type { MetricsSnapshot } from './metrics.ts';

/** Prometheus text for the merge of several TiffinMetrics.snapshot() results. */
export function aggregateSnapshots(snapshots: MetricsSnapshot[]): Promise<string> {
  return AggregatorRegistry.aggregate(snapshots).metrics();
}
