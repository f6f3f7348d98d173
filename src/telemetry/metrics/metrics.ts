// One server's metrics: a private prom-client Registry (not the global one, so two servers in one process,
// or a user's own prom-client use, never collide) holding every Tiffin metric family.
//
// Where numbers are recorded: only on the main thread. Runner worker threads hold no registry; they
// report compute time in their replies and the dispatcher on the main thread records it. So one scrape
// covers every replica once: nothing to merge, no duplicate series. Several processes are several scrape
// targets, as Prometheus expects (sum() in PromQL); a process that forks helpers and wants to answer for
// them merges their snapshots with aggregateSnapshots() (see aggregate.ts).
import { Counter, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { resolveBuckets, type MetricBuckets } from './buckets.ts';
import { GpuMetrics, nvidiaSmiQuery, type GpuQuery } from './gpu-metrics.ts';
import { HttpMetrics } from './http-metrics.ts';
import { InferenceMetricFamilies, ModelMetrics } from './model-metrics.ts';
import { collectProcessMetrics } from './process-metrics.ts';
import { UserMetrics } from './user-metrics.ts';

export interface MetricsOptions {
  /** Bucket bounds for the built-in histograms; each list given replaces the default. */
  buckets?: Partial<MetricBuckets>;
  /** CPU, memory, heap, GC and event-loop metrics (default true). */
  process?: boolean;
  /** Prefix for the standard process_* / nodejs_* names (default none). */
  processPrefix?: string;
  /** GPU metrics: 'auto' (default) exports them when nvidia-smi finds a GPU; false never; true always tries. */
  gpu?: boolean | 'auto';
  /** Replaces nvidia-smi (tests, other vendors). */
  gpuQuery?: GpuQuery;
  /** Put in front of every user metric name (default none; tiffin_, process_ and nodejs_ are reserved). */
  userPrefix?: string;
  /** Labels added to every series, for example { service: 'iris' }. */
  defaultLabels?: Record<string, string>;
}

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export class TiffinMetrics {
  readonly registry: Registry;
  readonly http: HttpMetrics;
  /** What handlers see as ctx.metrics. */
  readonly user: UserMetrics;
  readonly buckets: MetricBuckets;
  private readonly inference: InferenceMetricFamilies;
  private readonly models = new Map<string, ModelMetrics>();
  private readonly stopProcess: (() => void) | undefined;
  private readonly gpuReady: Promise<void>;

  constructor(options: MetricsOptions = {}) {
    this.buckets = resolveBuckets(options.buckets);
    this.registry = new Registry();
    if (options.defaultLabels) this.registry.setDefaultLabels(options.defaultLabels);
    this.http = new HttpMetrics(this.registry, this.buckets.httpDurationSeconds);
    this.inference = new InferenceMetricFamilies(this.registry, this.buckets);
    this.user = new UserMetrics(this.registry, options.userPrefix ?? '');
    this.stopProcess =
      options.process === false
        ? undefined
        : collectProcessMetrics(this.registry, {
            prefix: options.processPrefix ?? '',
            eventLoopDelayBuckets: this.buckets.eventLoopDelaySeconds,
          });
    this.gpuReady = this.setUpGpu(options.gpu ?? 'auto', options.gpuQuery ?? nvidiaSmiQuery());
  }

  /** The metrics of one model version, created on first use. */
  model(model: string, version: string): ModelMetrics {
    const key = `${model}\u0000${version}`;
    let m = this.models.get(key);
    if (!m) {
      m = new ModelMetrics(this.inference, model, version);
      this.models.set(key, m);
    }
    return m;
  }

  /** Runs `hook` at the start of every scrape (to copy in totals kept elsewhere); returns a function that removes it. */
  beforeCollect(hook: () => void): () => void {
    this.inference.beforeCollect.add(hook);
    return () => this.inference.beforeCollect.delete(hook);
  }

  /** Drops the series of a version that is no longer served. */
  removeModel(model: string, version: string): void {
    const key = `${model}\u0000${version}`;
    this.models.get(key)?.remove();
    this.models.delete(key);
  }

  /** A callback for PredictionLog's onRecord: counts records by stream and outcome (kept, sampled_out, dropped). */
  predictionRecordCounter(): (stream: string, outcome: string) => void {
    const family =
      (this.registry.getSingleMetric('tiffin_monitor_records_total') as Counter<'stream' | 'outcome'> | undefined) ??
      new Counter({
        name: 'tiffin_monitor_records_total',
        help: 'Prediction-log records by stream and fate: kept (written), sampled_out, dropped (buffer full or closed).',
        labelNames: ['stream', 'outcome'],
        registers: [this.registry],
      });
    const children = new Map<string, { inc(): void }>();
    return (stream, outcome) => {
      const key = `${stream}\u0000${outcome}`;
      let c = children.get(key);
      if (!c) {
        c = family.labels(stream, outcome);
        children.set(key, c);
      }
      c.inc();
    };
  }

  /** The Content-Type of scrape(). */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Everything, in the Prometheus text exposition format. */
  async scrape(): Promise<string> {
    await this.gpuReady;
    return this.registry.metrics();
  }

  /** Everything as JSON, for a parent process to merge with aggregateSnapshots(). */
  async snapshot(): Promise<MetricsSnapshot> {
    await this.gpuReady;
    return this.registry.getMetricsAsJSON();
  }

  /** Stops background probes. The registry stays readable. */
  close(): void {
    this.stopProcess?.();
  }

  private async setUpGpu(mode: boolean | 'auto', query: GpuQuery): Promise<void> {
    if (mode === false) return;
    // Probe once: a machine without a GPU (or without nvidia-smi) exports no GPU families at all.
    const first = await query();
    if (first === undefined && mode === 'auto') return;
    new GpuMetrics(this.registry, query);
  }
}
