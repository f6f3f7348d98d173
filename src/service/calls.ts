// The shape of a typed call to a service's APIs, as types only: what `createClient` (src/client) returns, and
// what a handler's `ctx.services.<dependency>` holds. Here, below both, so a service's context can name them.
import type { ApiMap, ApiTypes, TaskTypes } from './service.ts';

export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
  retries?: number;
  idempotent?: boolean;
  headers?: Record<string, string>;
  /** Sent as x-request-id (kept across retries); the server generates one when absent. */
  requestId?: string;
}

export interface WaitOptions {
  /** Give up after this long. Default 30 000 ms. */
  timeoutMs?: number;
  /** Time between polls. Default 200 ms. */
  intervalMs?: number;
  signal?: AbortSignal;
}

export type ApisOf<S> = S extends { readonly '~apis'?: infer A } ? NonNullable<A> : never;

/** A task's state, as `<route>/status` answers it. */
export interface TaskInfo {
  task_id: string;
  task: string;
  status: 'pending' | 'running' | 'done' | 'failed' | 'cancelled';
  /** Runs started so far (retries and restarts count). */
  attempts: number;
  created_at: string;
  started_at?: string;
  finished_at?: string;
  /** Why it failed or was cancelled. */
  error?: { code: string; message: string };
}

export interface ResultOptions {
  /** Give up waiting (the task goes on) after this long. Default: wait as long as it takes. */
  timeoutMs?: number;
  /** Time between status polls. Default 500 ms. */
  pollIntervalMs?: number;
  signal?: AbortSignal;
}

/** One submitted task, by its id. */
export interface TaskHandle<Out> {
  readonly id: string;
  status(options?: CallOptions): Promise<TaskInfo>;
  /** Waits for the task to finish and returns its result; a failed or cancelled task rejects with its error. */
  result(options?: ResultOptions): Promise<Out>;
  cancel(options?: CallOptions): Promise<TaskInfo>;
  /** Queues a failed or cancelled task again. */
  retry(options?: CallOptions): Promise<TaskInfo>;
}

/** A task as a client sees it: `await client.summarize.submit(input)`, or `client.summarize.task(id)` later. */
export interface TaskMethods<In, Out> {
  submit(input: In, options?: CallOptions): Promise<TaskHandle<Out>>;
  /** A handle on a task submitted earlier (by this process or another). */
  task(id: string): TaskHandle<Out>;
}

/** One API as a client method: a promise of the output, or an async iterable of items for streamed APIs. */
export type ApiMethod<T> =
  T extends TaskTypes<infer In, infer Out>
    ? TaskMethods<In, Out>
    : T extends ApiTypes<infer In, infer Out, true>
    ? (input: In, options?: CallOptions) => Out
    : T extends ApiTypes<infer In, infer Out, boolean>
      ? (input: In, options?: CallOptions) => Promise<Out>
      : never;

export interface ClientBase {
  /** Polls /readyz until the service is ready (models loaded, startup hooks done). */
  waitUntilReady(options?: WaitOptions): Promise<void>;
}

/** The typed client of a service type: `Client<typeof svc>`. */
export type Client<S> = { readonly [K in keyof ApisOf<S>]: ApiMethod<ApisOf<S>[K]> } & ClientBase;

/** A service's dependencies as its handlers call them: `ctx.services.<key>.<api>(input)`. */
export type ServiceClients<D> = { readonly [K in keyof D]: Client<D[K]> };

/** Anything with typed APIs: a Service. */
export type AnyService = { readonly '~apis'?: ApiMap };
