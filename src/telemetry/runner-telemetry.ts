// Inference metrics and spans from a runner's public events: each method's dispatcher reports every batch,
// every request it turns away and every request that fails; successes and live replicas are read from the
// runner's own running totals at scrape time, so a successful request costs nothing here. Everything is on
// the main thread, where the dispatcher is: one scrape covers every replica once.
import type { Context } from '@opentelemetry/api';
import type { BatchInfo, DispatcherStats, FailedInfo, ShedInfo } from '../batching/index.ts';
import type { TiffinMetrics } from './metrics/metrics.ts';
import type { InferenceOutcome, ModelMetrics } from './metrics/model-metrics.ts';
import { TIFFIN_ATTR, type Tracing } from './tracing/tracing.ts';

/** What telemetry reads from a dispatcher (BatchDispatcher is one). */
export interface ObservedDispatcher {
  on(event: 'batch', listener: (info: BatchInfo) => void): unknown;
  on(event: 'shed', listener: (info: ShedInfo) => void): unknown;
  on(event: 'failed', listener: (info: FailedInfo) => void): unknown;
  off(event: 'batch', listener: (info: BatchInfo) => void): unknown;
  off(event: 'shed', listener: (info: ShedInfo) => void): unknown;
  off(event: 'failed', listener: (info: FailedInfo) => void): unknown;
  stats(): Pick<DispatcherStats, 'completed' | 'queued'>;
}

/** What telemetry reads from a runner (RunnerPool is one). */
export interface ObservedRunner {
  /** `name:version` */
  readonly tag: string;
  readonly dispatchers: ReadonlyMap<string, ObservedDispatcher>;
  health(): { replicas: { live: number; restarts?: number } };
}

/** An OpenTelemetry Context (what Tiffin's request handling passes as CallOptions.traceContext). */
function isContext(x: unknown): x is Context {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Context>).getValue === 'function';
}

const SHED_OUTCOME: Record<ShedInfo['reason'], InferenceOutcome> = {
  queue_full: 'rejected',
  deadline: 'shed',
  timeout: 'timeout',
  aborted: 'aborted',
  shutdown: 'rejected',
  unavailable: 'rejected',
};

/** Splits `name:version` at its last colon. */
export function splitTag(tag: string): { model: string; version: string } {
  const i = tag.lastIndexOf(':');
  return i < 0 ? { model: tag, version: '' } : { model: tag.slice(0, i), version: tag.slice(i + 1) };
}

/**
 * Records a runner's inference metrics (and batch spans, given tracing and requests that carry a trace
 * context). Without metrics (undefined), only the spans. Returns a function that stops observing; `forget`
 * also drops the version's series.
 */
export function observeRunner(
  metrics: TiffinMetrics | undefined,
  runner: ObservedRunner,
  options: { tracing?: Tracing } = {},
): (forget?: boolean) => void {
  const { model, version } = splitTag(runner.tag);
  const m = metrics?.model(model, version);
  const tracing = options.tracing?.enabled ? options.tracing : undefined;
  const stops: (() => void)[] = [];
  const completedSeen = new Map<string, number>();
  let restartsSeen = runner.health().replicas.restarts ?? 0;

  if (!m && !tracing) return () => undefined;

  for (const [method, dispatcher] of runner.dispatchers) {
    const onBatch = (info: BatchInfo) => {
      if (m) {
        for (const w of info.queueWaitMs) m.queueWait(w / 1000);
        if (info.error) m.failedBatch(info.rows, info.reason);
        else m.batch(info.rows, info.runMs / 1000, info.reason);
      }
      if (tracing && info.traceContexts) traceBatch(tracing, info, info.traceContexts, model, version);
    };
    dispatcher.on('batch', onBatch);
    stops.push(() => dispatcher.off('batch', onBatch));
    if (!m) continue;
    const onShed = (info: ShedInfo) => m.request(SHED_OUTCOME[info.reason]);
    const onFailed = (info: FailedInfo) =>
      m.request(info.reason === 'timeout' ? 'timeout' : info.reason === 'aborted' ? 'aborted' : 'error');
    dispatcher.on('shed', onShed);
    dispatcher.on('failed', onFailed);
    completedSeen.set(method, dispatcher.stats().completed);
    stops.push(() => {
      dispatcher.off('shed', onShed);
      dispatcher.off('failed', onFailed);
    });
  }

  if (metrics && m) {
    stops.push(
      metrics.beforeCollect(() => {
        let queuedRows = 0;
        for (const [method, dispatcher] of runner.dispatchers) {
          const stats = dispatcher.stats();
          const seen = completedSeen.get(method) ?? 0;
          if (stats.completed > seen) m.request('success', stats.completed - seen);
          completedSeen.set(method, stats.completed);
          queuedRows += stats.queued.rows;
        }
        m.setQueueDepth(queuedRows);
        const { live, restarts = 0 } = runner.health().replicas;
        m.setReplicas(live);
        if (restarts > restartsSeen) m.restarted(restarts - restartsSeen);
        restartsSeen = restarts;
      }),
    );
  }

  return (forget = false) => {
    for (const stop of stops.splice(0)) stop();
    if (forget) metrics?.removeModel(model, version);
  };
}

/** Spans for one batch: each request's queue wait, the batch (child of its first request, linked to all), and
 * the model's run inside it. The batch event comes when the batch is done, so times are set after the fact. */
function traceBatch(tracing: Tracing, info: BatchInfo, contexts: readonly unknown[], model: string, version: string): void {
  const end = performance.timeOrigin + performance.now();
  const dispatchedAt = end - info.totalMs;
  const members: Context[] = [];
  contexts.forEach((ctx, i) => {
    if (!isContext(ctx)) return;
    members.push(ctx);
    const q = tracing.startSpan('tiffin.queue', ctx, {
      startTime: dispatchedAt - (info.queueWaitMs[i] ?? 0),
      attributes: { [TIFFIN_ATTR.model]: model, [TIFFIN_ATTR.version]: version },
    });
    q.end(dispatchedAt);
  });
  if (members.length === 0) return;
  const batch = tracing.startBatchSpan(
    'tiffin.batch',
    members,
    {
      [TIFFIN_ATTR.model]: model,
      [TIFFIN_ATTR.version]: version,
      [TIFFIN_ATTR.batchSize]: info.rows,
      [TIFFIN_ATTR.batchReason]: info.reason,
    },
    dispatchedAt,
  );
  const run = tracing.startSpan('tiffin.model.run', tracing.contextWith(members[0]!, batch), {
    startTime: dispatchedAt + (info.totalMs - info.runMs) / 2,
    attributes: { [TIFFIN_ATTR.model]: model, [TIFFIN_ATTR.version]: version, [TIFFIN_ATTR.batchSize]: info.rows },
  });
  if (info.error) run.recordException(info.error);
  run.end(dispatchedAt + (info.totalMs + info.runMs) / 2);
  batch.end(end);
}

function isObservedRunner(x: unknown): x is ObservedRunner {
  const r = x as Partial<ObservedRunner> | null;
  return typeof r === 'object' && r !== null && typeof r.tag === 'string' && r.dispatchers instanceof Map && typeof r.health === 'function';
}

/**
 * Wraps a model loader (the repository's runner-pool loader) so that every runner it loads is observed until
 * it is closed, when its series are dropped: a retired version leaves no stale series behind. Models that are
 * not runners (loaded in process) pass through untouched.
 */
export function observeLoads<L extends (...args: never[]) => Promise<{ close(): Promise<void> }>>(
  metrics: TiffinMetrics | undefined,
  load: L,
  options: { tracing?: Tracing } = {},
): L {
  const wrapped = async (...args: Parameters<L>) => {
    const loaded = await load(...args);
    if (!isObservedRunner(loaded)) return loaded;
    const stop = observeRunner(metrics, loaded, options);
    const close = loaded.close.bind(loaded);
    // Shadows the instance's close() so the loader's callers need not know about telemetry.
    loaded.close = async () => {
      stop(true);
      await close();
    };
    return loaded;
  };
  return wrapped as L;
}
