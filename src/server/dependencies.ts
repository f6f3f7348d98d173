// The services a service depends on (`service(name, { depends })`), as its handlers reach them: one typed client
// per dependency at its URL (a server started in this process, a --split child, or a configured remote), calls
// that carry the request's id and trace context, readiness polled for /readyz, and failures turned into errors
// that name the dependency (502 DEPENDENCY_FAILED, 503 DEPENDENCY_UNAVAILABLE).
import type { Logger } from 'pino';
import { ClientError, createClient } from '../client/index.ts';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { ServiceClients } from '../service/calls.ts';
import type { DependencyMap } from '../service/context.ts';

/** Where one dependency answers. */
export interface DependencyEndpoint {
  /** Base URL of its HTTP server. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` on every call (a remote that needs the inference scope). */
  token?: string;
  /** Settles when a dependency started by this process is ready (its startup hooks ran); undefined for others. */
  ready?: Promise<void>;
  /** Stops a dependency this process started (an in-process server, a --split child). */
  close?: () => Promise<void>;
}

/** How often a dependency's /readyz is asked, for this service's own /readyz. */
const READY_POLL_MS = 1000;

/** A ClientError from a dependency, as the caller's error: 503 when it could not answer, 502 when it failed. */
function dependencyError(key: string, service: string, url: string, err: unknown): TiffinError {
  if (err instanceof TiffinError) return err;
  if (!(err instanceof ClientError)) return new TiffinError('DEPENDENCY_FAILED', `dependency "${key}" (service ${service} at ${url}) failed: ${messageOf(err)}`, { cause: err, details: { dependency: key, service, url } });
  const details = { dependency: key, service, url, status: err.status, code: err.code, requestId: err.requestId };
  if (err.code === 'ABORTED') return new TiffinError('ABORTED', `the call to dependency "${key}" was cancelled`, { details });
  const unavailable = err.status === 0 || err.status === 503 || err.status === 429;
  const said = err.status === 0 ? err.message : `answered ${err.status} ${err.code}: ${err.message}`;
  return new TiffinError(unavailable ? 'DEPENDENCY_UNAVAILABLE' : 'DEPENDENCY_FAILED', `dependency "${key}" (service ${service} at ${url}) ${said}`, {
    cause: err,
    details,
    ...(unavailable ? { retryAfter: 1 } : {}),
  });
}

/** A client whose methods turn a dependency's failures into errors naming it, and add the caller's call options. */
function wrapClient(key: string, service: string, url: string, client: Record<string, unknown>, defaults: () => Record<string, unknown>): unknown {
  return new Proxy(client, {
    get(target, prop) {
      const value = target[prop as string];
      if (typeof value !== 'function' || prop === 'waitUntilReady') return value;
      const withDefaults = (options: Record<string, unknown>) => {
        const base = defaults();
        return { ...base, ...options, headers: { ...(base.headers as object), ...(options.headers as object) } };
      };
      const method = (input: unknown, options: Record<string, unknown> = {}) => {
        let result: unknown;
        try {
          result = (value as (i: unknown, o: unknown) => unknown)(input, withDefaults(options));
        } catch (err) {
          throw dependencyError(key, service, url, err);
        }
        return mapFailures(result as Promise<unknown> & Partial<AsyncIterable<unknown>>, (err) => dependencyError(key, service, url, err));
      };
      // A dependency's task (`ctx.services.dep.job.submit(...)`): submitted with the caller's request id; the
      // handle's later calls are the client's own.
      const task = value as { submit?: (i: unknown, o: unknown) => Promise<unknown>; task?: unknown };
      return Object.assign(method, {
        submit: (input: unknown, options: Record<string, unknown> = {}) => task.submit!(input, withDefaults(options)).catch((err: unknown) => Promise.reject(dependencyError(key, service, url, err))),
        task: task.task,
      });
    },
  });
}

/**
 * The client's answer (awaitable, and iterable for streamed APIs) with its failures mapped: awaiting it decodes
 * the whole answer, iterating it reads a stream item by item; either way a failure arrives as `map(err)`.
 */
function mapFailures(answer: Promise<unknown> & Partial<AsyncIterable<unknown>>, map: (err: unknown) => unknown): unknown {
  const settled = (): Promise<unknown> => Promise.resolve(answer).catch((err: unknown) => Promise.reject(map(err)));
  return {
    then: (onFulfilled?: (v: unknown) => unknown, onRejected?: (e: unknown) => unknown) => settled().then(onFulfilled, onRejected),
    catch: (onRejected: (e: unknown) => unknown) => settled().catch(onRejected),
    finally: (onFinally: () => void) => settled().finally(onFinally),
    [Symbol.asyncIterator]: () => {
      const items = answer[Symbol.asyncIterator]!();
      return {
        next: () => items.next().catch((err: unknown) => Promise.reject(map(err))),
        return: (value?: unknown) => items.return?.(value) ?? Promise.resolve({ done: true, value }),
      };
    },
  };
}

export interface CallScope {
  /** The fetch to use: the request's, which records a client span and sends `traceparent`. */
  fetch: typeof fetch;
  requestId?: string;
  signal?: AbortSignal;
}

export class Dependencies {
  private readonly readiness = new Map<string, boolean>();
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly declared: DependencyMap,
    private readonly endpoints: Readonly<Record<string, DependencyEndpoint>>,
    private readonly log: Logger,
  ) {
    for (const key of Object.keys(declared)) this.readiness.set(key, false);
  }

  get size(): number {
    return Object.keys(this.declared).length;
  }

  /** Waits for the dependencies this process started, then polls every dependency's /readyz for our own. */
  async start(): Promise<void> {
    if (this.size === 0) return;
    for (const [key, endpoint] of Object.entries(this.endpoints)) {
      if (!endpoint.ready) continue;
      try {
        await endpoint.ready;
      } catch (err) {
        throw new TiffinError('DEPENDENCY_UNAVAILABLE', `dependency "${key}" (service ${this.serviceOf(key)}) failed to start: ${messageOf(err)}`, { cause: err, details: { dependency: key } });
      }
    }
    await this.poll();
    this.poller = setInterval(() => void this.poll(), READY_POLL_MS);
    this.poller.unref();
  }

  /** Why this service is not ready because of a dependency, if one is not. */
  notReady(): TiffinError | undefined {
    const waiting = [...this.readiness].filter(([, ready]) => !ready).map(([key]) => key);
    if (waiting.length === 0) return undefined;
    return new TiffinError('NOT_READY', `dependency ${waiting.map((k) => `"${k}" (${this.endpoints[k]?.url})`).join(', ')} is not ready`, { retryAfter: 1, details: { dependencies: waiting } });
  }

  /** The typed clients of every dependency for one request (or for lifecycle hooks, without a request id). */
  clients(scope: CallScope): ServiceClients<DependencyMap> {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(this.declared)) {
      const endpoint = this.endpoints[key]!;
      const client = createClient(endpoint.url, {
        fetch: scope.fetch,
        // A dependency's own retries would multiply with the caller's; a failure answers at once, naming it.
        retries: 0,
        ...(endpoint.token ? { headers: { authorization: `Bearer ${endpoint.token}` } } : {}),
      }) as unknown as Record<string, unknown>;
      out[key] = wrapClient(key, this.serviceOf(key), endpoint.url, client, () => ({
        ...(scope.requestId ? { requestId: scope.requestId } : {}),
        ...(scope.signal ? { signal: scope.signal } : {}),
      }));
    }
    return out as ServiceClients<DependencyMap>;
  }

  /** Stops polling and the dependencies this process started (after this service has drained). */
  async close(): Promise<void> {
    clearInterval(this.poller);
    await Promise.all(Object.values(this.endpoints).map((e) => e.close?.()));
  }

  private serviceOf(key: string): string {
    return (this.declared[key] as { name?: string } | undefined)?.name ?? key;
  }

  private async poll(): Promise<void> {
    await Promise.all(
      Object.entries(this.endpoints).map(async ([key, endpoint]) => {
        const was = this.readiness.get(key);
        let ready = false;
        try {
          const res = await fetch(new URL('readyz', endpoint.url.endsWith('/') ? endpoint.url : `${endpoint.url}/`), {
            signal: AbortSignal.timeout(READY_POLL_MS * 2),
            ...(endpoint.token ? { headers: { authorization: `Bearer ${endpoint.token}` } } : {}),
          });
          ready = res.ok;
          await res.body?.cancel();
        } catch {
          ready = false;
        }
        this.readiness.set(key, ready);
        if (was !== ready && was !== undefined) this.log[ready ? 'info' : 'warn'](`dependency "${key}" at ${endpoint.url} is ${ready ? 'ready' : 'not ready'}`);
      }),
    );
  }
}
