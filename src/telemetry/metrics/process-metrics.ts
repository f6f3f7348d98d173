// Process metrics: prom-client's defaults (CPU, RSS, heap, GC, handles; the standard `process_*` and
// `nodejs_*` names that existing Node.js dashboards read) plus an event-loop delay *histogram*. prom-client's
// own lag metrics are percentile gauges, which cannot be summed or averaged across servers; buckets can.
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

export interface ProcessMetricsOptions {
  /** Put in front of the default metric names (default none, the names dashboards expect). */
  prefix?: string;
  eventLoopDelayBuckets: number[];
  /** How often the event loop is probed, in milliseconds (default 25: delays that matter are tens of milliseconds). */
  probeIntervalMs?: number;
}

/** Starts collecting; returns a function that stops the probe timer. */
export function collectProcessMetrics(registry: Registry, options: ProcessMetricsOptions): () => void {
  const prefix = options.prefix ?? '';
  collectDefaultMetrics({ register: registry, prefix });
  // These three are gauges named like counters, which promtool (rightly) rejects; the per-type
  // nodejs_active_{handles,requests,resources} gauges carry the same numbers (sum() gives the total).
  for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
    registry.removeSingleMetric(prefix + name);
  }
  const delay = new Histogram({
    name: 'tiffin_event_loop_delay_seconds',
    help: 'How late a timer on the main event loop fired; high values mean the loop was blocked and requests waited.',
    buckets: options.eventLoopDelayBuckets,
    registers: [registry],
  });
  const interval = options.probeIntervalMs ?? 25;
  let expected = performance.now() + interval;
  const timer = setInterval(() => {
    const now = performance.now();
    delay.observe(Math.max(0, now - expected) / 1000);
    // Re-anchor on the actual time so one long block counts once, not once per missed tick.
    expected = now + interval;
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}
