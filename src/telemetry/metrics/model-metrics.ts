// Per model-version inference metrics: prom-client families, with each version's label children taken once
// (labels()) and kept, so the hot path (one call per request and per batch) never builds a labels object.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { isTiffinError } from '../../errors/index.ts';
import type { MetricBuckets } from './buckets.ts';

/** How an inference call ended. `shed`: dropped from the queue because it could no longer meet its deadline;
 * `rejected`: refused on arrival (queue full, not ready); `aborted`: the caller went away first. */
export const INFERENCE_OUTCOMES = ['success', 'rejected', 'shed', 'timeout', 'aborted', 'error'] as const;
export type InferenceOutcome = (typeof INFERENCE_OUTCOMES)[number];

/** The outcome a failed call counts as. A dispatcher that sheds says so itself: shedding and rejecting both raise OVERLOADED. */
export function outcomeOf(err: unknown): InferenceOutcome {
  if (isTiffinError(err, 'OVERLOADED') || isTiffinError(err, 'NOT_READY') || isTiffinError(err, 'SHUTTING_DOWN')) return 'rejected';
  if (isTiffinError(err, 'TIMEOUT')) return 'timeout';
  if (isTiffinError(err, 'ABORTED')) return 'aborted';
  return 'error';
}

interface Inc {
  inc(value?: number): void;
}
interface Observe {
  observe(value: number): void;
}
interface Settable {
  set(value: number): void;
}

/** The metric families that ModelMetrics binds children of; one set per TiffinMetrics. */
export class InferenceMetricFamilies {
  readonly requests: Counter<'model' | 'version' | 'outcome'>;
  readonly items: Counter<'model' | 'version'>;
  readonly queueDuration: Histogram<'model' | 'version'>;
  readonly computeDuration: Histogram<'model' | 'version'>;
  readonly batchSize: Histogram<'model' | 'version'>;
  readonly batches: Counter<'model' | 'version' | 'reason'>;
  readonly queueDepth: Gauge<'model' | 'version'>;
  readonly replicas: Gauge<'model' | 'version'>;
  readonly busy: Counter<'model' | 'version'>;
  readonly restarts: Counter<'model' | 'version'>;
  /** Run at the start of every scrape, before any inference family is read: sources that keep their own
   * running totals (a dispatcher's completed count, a runner's live replicas) copy them in here. */
  readonly beforeCollect = new Set<() => void>();

  constructor(registry: Registry, buckets: MetricBuckets) {
    const registers = [registry];
    const mv = ['model', 'version'] as const;
    const hooks = this.beforeCollect;
    this.requests = new Counter({
      name: 'tiffin_inference_requests_total',
      help: 'Inference calls by outcome (success, rejected, shed, timeout, aborted, error).',
      labelNames: [...mv, 'outcome'],
      registers,
      // Registered first of the inference families, so this runs before the others are read.
      collect() {
        for (const hook of hooks) hook();
      },
    });
    this.items = new Counter({
      name: 'tiffin_inference_items_total',
      help: 'Rows (batch items) computed; rate() gives items per second.',
      labelNames: mv,
      registers,
    });
    this.queueDuration = new Histogram({
      name: 'tiffin_inference_queue_duration_seconds',
      help: 'Time a call waited in the batching queue before its batch was dispatched.',
      labelNames: mv,
      buckets: buckets.queueDurationSeconds,
      registers,
    });
    this.computeDuration = new Histogram({
      name: 'tiffin_inference_compute_duration_seconds',
      help: 'Time one batch spent running in the model runtime.',
      labelNames: mv,
      buckets: buckets.computeDurationSeconds,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'tiffin_inference_batch_size',
      help: 'Rows per dispatched batch.',
      labelNames: mv,
      buckets: buckets.batchSize,
      registers,
    });
    this.batches = new Counter({
      name: 'tiffin_inference_batches_total',
      help: 'Batches dispatched, by why the dispatcher sent them (full, deadline, idle, ...).',
      labelNames: [...mv, 'reason'],
      registers,
    });
    this.queueDepth = new Gauge({
      name: 'tiffin_inference_queue_depth',
      help: 'Rows waiting in the batching queue.',
      labelNames: mv,
      registers,
    });
    this.replicas = new Gauge({
      name: 'tiffin_runner_replicas',
      help: 'Runner replicas (worker threads) serving the model version.',
      labelNames: mv,
      registers,
    });
    this.busy = new Counter({
      name: 'tiffin_runner_busy_seconds_total',
      help: 'Seconds runner replicas spent computing; rate() / tiffin_runner_replicas gives utilisation.',
      labelNames: mv,
      registers,
    });
    this.restarts = new Counter({
      name: 'tiffin_runner_restarts_total',
      help: 'Runner replicas replaced after theirs died (a crash, out of memory, a kill).',
      labelNames: mv,
      registers,
    });
  }
}

/** Metrics of one model version. Get it from TiffinMetrics.model(); it is cached there. */
export class ModelMetrics {
  private readonly outcome: Record<InferenceOutcome, Inc>;
  private readonly reasons = new Map<string, Inc>();
  private readonly itemCount: Inc;
  private readonly queue: Observe;
  private readonly compute: Observe;
  private readonly size: Observe;
  private readonly depth: Settable;
  private readonly replicaCount: Settable;
  private readonly busySeconds: Inc;
  private readonly restartCount: Inc;

  constructor(
    private readonly families: InferenceMetricFamilies,
    readonly model: string,
    readonly version: string,
  ) {
    const f = families;
    const outcome = {} as Record<InferenceOutcome, Inc>;
    for (const o of INFERENCE_OUTCOMES) {
      outcome[o] = f.requests.labels(model, version, o);
      // Every outcome starts at 0, so rate() and alerts see the first failure as a change, not a new series.
      outcome[o].inc(0);
    }
    this.outcome = outcome;
    this.itemCount = f.items.labels(model, version);
    this.itemCount.inc(0);
    this.queue = f.queueDuration.labels(model, version);
    this.compute = f.computeDuration.labels(model, version);
    this.size = f.batchSize.labels(model, version);
    this.depth = f.queueDepth.labels(model, version);
    this.replicaCount = f.replicas.labels(model, version);
    this.busySeconds = f.busy.labels(model, version);
    this.busySeconds.inc(0);
    this.restartCount = f.restarts.labels(model, version);
    this.restartCount.inc(0);
  }

  /** Counts finished calls (`count` > 1 for a call that carried several rows still counts as given). */
  request(outcome: InferenceOutcome, count = 1): void {
    this.outcome[outcome].inc(count);
  }

  /** A call left the queue after waiting `seconds`. */
  queueWait(seconds: number): void {
    this.queue.observe(seconds);
  }

  /** A batch of `rows` ran for `computeSeconds` (also counted as runner busy time). */
  batch(rows: number, computeSeconds: number, reason?: string): void {
    this.size.observe(rows);
    this.itemCount.inc(rows);
    this.compute.observe(computeSeconds);
    this.busySeconds.inc(computeSeconds);
    if (reason !== undefined) this.reason(reason).inc();
  }

  /** A batch of `rows` was dispatched but failed: counted as a batch, not as computed items or busy time. */
  failedBatch(rows: number, reason?: string): void {
    this.size.observe(rows);
    if (reason !== undefined) this.reason(reason).inc();
  }

  setQueueDepth(rows: number): void {
    this.depth.set(rows);
  }

  setReplicas(count: number): void {
    this.replicaCount.set(count);
  }

  /** `count` replicas were replaced since the last call. */
  restarted(count: number): void {
    this.restartCount.inc(count);
  }

  /** Drops this version's series, for a version that was unloaded, so dashboards do not show it forever. */
  remove(): void {
    const { model, version } = this;
    const f = this.families;
    for (const o of INFERENCE_OUTCOMES) f.requests.remove(model, version, o);
    for (const r of this.reasons.keys()) f.batches.remove(model, version, r);
    for (const family of [f.items, f.queueDuration, f.computeDuration, f.batchSize, f.queueDepth, f.replicas, f.busy, f.restarts]) {
      family.remove(model, version);
    }
  }

  private reason(reason: string): Inc {
    let child = this.reasons.get(reason);
    if (!child) {
      child = this.families.batches.labels(this.model, this.version, reason);
      this.reasons.set(reason, child);
    }
    return child;
  }
}
