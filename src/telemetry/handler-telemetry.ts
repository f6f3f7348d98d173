// What a handler's context gets from telemetry: ctx.metrics, ctx.monitor(name), ctx.fetch and the trace.
// Transport-neutral (HTTP and gRPC handlers both get one); the server calls end() when the request is over.
import type { Context, Span } from '@opentelemetry/api';
import { PredictionLog, type PredictionRecord } from './monitoring/prediction-log.ts';
import type { ModelHandle } from '../runtime/types.ts';
import { tracedHandles } from './tracing/model-tracing.ts';
import type { RequestTrace, Tracing } from './tracing/tracing.ts';
import type { UserMetrics } from './metrics/user-metrics.ts';

export class HandlerTelemetry {
  private records: Map<string, PredictionRecord> | undefined;
  private tracedFetch: typeof fetch | undefined;

  constructor(
    readonly requestId: string,
    private readonly trace: RequestTrace,
    private readonly tracing: Tracing,
    /** ctx.metrics */
    readonly metrics: UserMetrics,
    private readonly predictions: PredictionLog | undefined,
  ) {}

  /** The request's trace id (for logs and error bodies), when it has one. */
  get traceId(): string | undefined {
    return this.trace.traceId;
  }

  /** The request's span, to add attributes or events. */
  get span(): Span {
    return this.trace.span;
  }

  /** Parent context for spans the handler starts itself. */
  get context(): Context {
    return this.trace.context;
  }

  /** ctx.fetch: fetch that records a client span and passes the trace on. */
  get fetch(): typeof fetch {
    this.tracedFetch ??= this.tracing.fetchWith(this.trace.context);
    return this.tracedFetch;
  }

  /** The model handles this request's handler should see: traced (a `tiffin.inference` span per call) when the
   * request is traced, else `handles` themselves. */
  models<H extends Readonly<Record<string, ModelHandle>>>(handles: H): H {
    return this.trace.span.isRecording() ? tracedHandles(handles, this.tracing, this.trace.context) : handles;
  }

  /** ctx.monitor(name): this request's record in the prediction stream `name`, committed when the request ends.
   * Without a monitoring folder configured, a record that logs nothing. */
  monitor(name: string): PredictionRecord {
    this.records ??= new Map();
    let r = this.records.get(name);
    if (!r) {
      r = (this.predictions ?? PredictionLog.disabled()).stream(name).record(this.requestId);
      this.records.set(name, r);
    }
    return r;
  }

  /** Commits this request's prediction records. Call once the handler has returned or thrown. */
  end(): void {
    if (!this.records) return;
    for (const r of this.records.values()) r.commit();
  }
}
