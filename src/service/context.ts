// What handlers and lifecycle hooks are given: the loaded models by the names the service chose, a
// logger, a cancellation signal, and (for requests) the request's id and headers and a say in the response.
import type { Logger } from 'pino';
import type { ModelHandle } from '../runtime/types.ts';
import type { PredictionRecord, UserMetrics } from '../telemetry/index.ts';
import type { AnyService, ServiceClients } from './calls.ts';

/** Model key -> store tag, as declared in `service(name, { models })`. */
export type ModelTags = Record<string, string>;

/** Dependency key -> the service it calls, as declared in `service(name, { depends })`. */
export type DependencyMap = Record<string, AnyService>;

/** The loaded models, under the keys the service declared. */
export type ModelHandles<M extends ModelTags> = { readonly [K in keyof M]: ModelHandle };

export interface LifecycleContext<M extends ModelTags, D extends DependencyMap = {}> {
  readonly service: string;
  readonly models: ModelHandles<M>;
  /** The services this one depends on, ready before startup hooks run (in-process and --split ones). */
  readonly services: ServiceClients<D>;
  readonly log: Logger;
}

export interface RequestContext<M extends ModelTags, D extends DependencyMap = {}> {
  /** The request's id: the caller's `x-request-id` when given, else generated. Sent back on the response. */
  readonly requestId: string;
  /** The API being called. */
  readonly api: string;
  /** Request headers, lower-cased names; repeated headers joined with ", ". */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly models: ModelHandles<M>;
  /** The services this one depends on, by the keys it declared: `await ctx.services.ocr.recognize(input)`. Each
   * call carries this request's id and trace context; a dependency that fails answers DEPENDENCY_FAILED (502) or
   * DEPENDENCY_UNAVAILABLE (503), naming it. */
  readonly services: ServiceClients<D>;
  /** Fires when the client goes away, or when shutdown runs out of grace: stop work and return. */
  readonly signal: AbortSignal;
  /** A logger bound to this request's id. */
  readonly log: Logger;
  /** The status of a successful response (default 200). Errors set their own. */
  setStatus(code: number): void;
  setHeader(name: string, value: string): void;
  /** Your own Prometheus metrics, served at /metrics beside Tiffin's: `ctx.metrics.counter('fraud_checks', 'help').inc()`. */
  readonly metrics: UserMetrics;
  /** This request's record in the prediction stream `name` (features, predictions; targets later by request id),
   * written when the request ends; see docs/observability.md. Records nothing without `monitoring.dir`. */
  monitor(name: string): PredictionRecord;
  /** fetch that records a client span and sends this request's trace context (`traceparent`) along. */
  readonly fetch: typeof fetch;
  /** The request's W3C trace id, when it has one (tracing on, or a `traceparent` came in). */
  readonly traceId: string | undefined;
}

export interface TaskContext<M extends ModelTags, D extends DependencyMap = {}> {
  /** The task's id (what submit answered). */
  readonly taskId: string;
  /** The task kind. */
  readonly task: string;
  /** 1 on the first run; more after a retry or a restart that re-queued it. */
  readonly attempt: number;
  readonly models: ModelHandles<M>;
  readonly services: ServiceClients<D>;
  /** Fires when the task is cancelled, or when the server shuts down before it finished (it then runs again after
   * the restart, by its onRestart policy): stop work and return. */
  readonly signal: AbortSignal;
  /** A logger bound to this task's id. */
  readonly log: Logger;
}
