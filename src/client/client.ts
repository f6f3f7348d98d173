// createClient: one method per API of the service type, over fetch, with a timeout per attempt, retries
// for failures that are safe to retry, streamed APIs as async iterables, and waiting for readiness.
import type { ApiMap } from '../service/service.ts';
import type { CallOptions, Client, ClientBase, ResultOptions, TaskHandle, TaskInfo, WaitOptions } from '../service/calls.ts';

export type { ApiMethod, CallOptions, Client, ClientBase, ResultOptions, TaskHandle, TaskInfo, TaskMethods, WaitOptions } from '../service/calls.ts';
import { ClientError, errorFromResponse } from './client-error.ts';
import { decodeResponse } from './decode.ts';
import { encodeInput } from './encode.ts';
import { readEvents } from './event-stream.ts';
import { backoffMs, networkCode, retryAfterMs, retryableNetworkError, retryableStatus, sleep } from './retry.ts';

export interface ClientOptions {
  /** Per attempt, until the response body is read (for streams: until the response starts). Default 30 000 ms. */
  timeoutMs?: number;
  /** Extra attempts for failures that are safe to retry (see `idempotent`). Default 2. */
  retries?: number;
  /** First backoff delay; doubles per attempt, with jitter. Default 100 ms. */
  retryDelayMs?: number;
  /** Longest wait between attempts, Retry-After included. Default 10 000 ms. */
  maxRetryDelayMs?: number;
  /**
   * Also retry 502, 504 and connections that broke mid-request, which the server may have run.
   * Right for pure inference calls; wrong for calls with side effects. Default false.
   */
  idempotent?: boolean;
  /** Headers on every call, or a function giving them (for tokens that expire). */
  headers?: Record<string, string> | (() => Record<string, string> | Promise<Record<string, string>>);
  /** API name -> path, for APIs declared with a custom `route`. Default `/<name>`. */
  routes?: Record<string, string>;
  /** A fetch implementation (default globalThis.fetch). */
  fetch?: typeof fetch;
}


const ACCEPT = 'application/json, application/octet-stream, text/event-stream, text/plain;q=0.9, */*;q=0.8';

interface Sent {
  res: Response;
  /** Stops the attempt's timer (once the body is read, or the stream has started). */
  settle(): void;
  /** Cancels the request (a consumer that stopped reading a stream). */
  cancel(): void;
}

export function createClient<S extends { readonly '~apis'?: ApiMap }>(baseUrl: string | URL, options: ClientOptions = {}): Client<S> {
  const base = new URL(String(baseUrl).endsWith('/') ? String(baseUrl) : `${String(baseUrl)}/`);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const defaults = {
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 2,
    retryDelayMs: options.retryDelayMs ?? 100,
    maxRetryDelayMs: options.maxRetryDelayMs ?? 10_000,
    idempotent: options.idempotent ?? false,
  };

  const urlOf = (name: string) => new URL((options.routes?.[name] ?? `/${name}`).replace(/^\//, ''), base);

  async function baseHeaders(): Promise<Record<string, string>> {
    return typeof options.headers === 'function' ? await options.headers() : { ...options.headers };
  }

  /** One call with its retries; resolves with a successful response whose timer is still running. `target`
   * addresses a task's route under the API's path (`/submit`, `/status?task_id=`) instead of the API itself. */
  async function send(name: string, input: unknown, call: CallOptions, target?: { action: string; method: 'GET' | 'POST'; taskId?: string }): Promise<Sent> {
    const url = urlOf(name);
    if (target) {
      url.pathname = `${url.pathname.replace(/\/$/, '')}/${target.action}`;
      if (target.taskId !== undefined) url.searchParams.set('task_id', target.taskId);
    }
    const encoded = target?.method === 'GET' ? { body: undefined, headers: {} } : encodeInput(input);
    const retries = call.retries ?? defaults.retries;
    // Reading a task's state is safe to repeat; submitting one is not (it would queue a second task).
    const idempotent = call.idempotent ?? (target?.method === 'GET' || defaults.idempotent);
    const timeoutMs = call.timeoutMs ?? defaults.timeoutMs;
    const headers: Record<string, string> = { accept: ACCEPT, ...(await baseHeaders()), ...encoded.headers, ...call.headers };
    if (call.requestId) headers['x-request-id'] = call.requestId;

    for (let attempt = 0; ; attempt++) {
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onAbort = () => controller.abort();
      call.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => {
        clearTimeout(timer);
        call.signal?.removeEventListener('abort', onAbort);
      };
      const failure = (err: unknown): ClientError => {
        settle();
        if (call.signal?.aborted) return new ClientError(0, 'ABORTED', `the call to ${name} was aborted`, { cause: err });
        if (timedOut) return new ClientError(0, 'TIMEOUT', `no response from ${url.href} within ${timeoutMs} ms`, { cause: err });
        const code = networkCode(err);
        return new ClientError(0, 'NETWORK_ERROR', `could not reach ${url.href}${code ? ` (${code})` : ''}`, { cause: err });
      };
      if (call.signal?.aborted) throw failure(call.signal.reason);

      let res: Response;
      try {
        res = await fetchImpl(url, { method: target?.method ?? 'POST', headers, body: encoded.body, signal: controller.signal });
      } catch (err) {
        const error = failure(err);
        if (error.code === 'NETWORK_ERROR' && attempt < retries && retryableNetworkError(err, idempotent)) {
          await sleep(backoffMs(attempt, defaults.retryDelayMs, defaults.maxRetryDelayMs), call.signal);
          continue;
        }
        throw error;
      }
      if (res.ok) {
        // A stream has started: the timeout covered getting here, not how long it runs.
        if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) settle();
        return { res, settle, cancel: () => { settle(); controller.abort(); } };
      }
      if (attempt < retries && retryableStatus(res.status, idempotent)) {
        settle();
        await res.body?.cancel().catch(() => {});
        const wait = retryAfterMs(res.headers.get('retry-after')) ?? backoffMs(attempt, defaults.retryDelayMs, defaults.maxRetryDelayMs);
        await sleep(Math.min(wait, defaults.maxRetryDelayMs), call.signal);
        continue;
      }
      try {
        throw await errorFromResponse(res);
      } finally {
        settle();
      }
    }
  }

  async function decodeSent(name: string, sent: Sent): Promise<unknown> {
    try {
      return await decodeResponse(sent.res);
    } catch (err) {
      if (err instanceof ClientError) throw err;
      throw new ClientError(sent.res.status, 'BAD_RESPONSE', `could not read the response of ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    } finally {
      sent.settle();
    }
  }

  async function* streamItems(name: string, sending: Promise<Sent>, call: CallOptions): AsyncGenerator<unknown, void, undefined> {
    const sent = await sending;
    const requestId = sent.res.headers.get('x-request-id') ?? undefined;
    try {
      if (!sent.res.body) return;
      for await (const event of readEvents(sent.res.body)) {
        if (event.event === 'error') {
          const body = JSON.parse(event.data) as { code?: string; message?: string; details?: unknown; requestId?: string };
          throw new ClientError(sent.res.status, body.code ?? 'STREAM_FAILED', body.message ?? 'the stream failed', { requestId: body.requestId ?? requestId, details: body.details });
        }
        yield JSON.parse(event.data);
      }
    } catch (err) {
      if (err instanceof ClientError) throw err;
      if (call.signal?.aborted) throw new ClientError(0, 'ABORTED', `the stream of ${name} was aborted`, { cause: err, requestId });
      throw new ClientError(0, 'NETWORK_ERROR', `the stream of ${name} broke off: ${err instanceof Error ? err.message : String(err)}`, { cause: err, requestId });
    } finally {
      // Breaking out of a for-await lands here: close the connection so the server stops the generator.
      sent.cancel();
    }
  }

  /**
   * One call. Which APIs stream is known only to the types, so the result is both a promise (plain APIs)
   * and an async iterable (streamed APIs). The request starts at once, like any promise-returning call.
   */
  function apiCall(name: string, input: unknown, call: CallOptions = {}): Promise<unknown> & AsyncIterable<unknown> {
    const sending = send(name, input, call);
    // Observed through `then` or iteration; this keeps an unobserved failure from being an unhandled rejection.
    sending.catch(() => {});
    let decoded: Promise<unknown> | undefined;
    const result = () => (decoded ??= sending.then((sent) => decodeSent(name, sent)));
    return {
      then: (onFulfilled, onRejected) => result().then(onFulfilled, onRejected),
      catch: (onRejected) => result().catch(onRejected),
      finally: (onFinally) => result().finally(onFinally),
      [Symbol.toStringTag]: 'Promise',
      [Symbol.asyncIterator]: () => streamItems(name, sending, call),
    };
  }

  async function taskCall(name: string, action: string, method: 'GET' | 'POST', taskId: string | undefined, input: unknown, call: CallOptions = {}): Promise<unknown> {
    return decodeSent(name, await send(name, input, call, { action, method, ...(taskId !== undefined ? { taskId } : {}) }));
  }

  function taskHandle(name: string, id: string): TaskHandle<unknown> {
    const info = (action: string, method: 'GET' | 'POST', call?: CallOptions) => taskCall(name, action, method, id, method === 'POST' ? { task_id: id } : undefined, call) as Promise<TaskInfo>;
    return {
      id,
      status: (call) => info('status', 'GET', call),
      cancel: (call) => info('cancel', 'POST', call),
      retry: (call) => info('retry', 'POST', call),
      async result(wait: ResultOptions = {}) {
        const deadline = wait.timeoutMs === undefined ? Infinity : Date.now() + wait.timeoutMs;
        for (;;) {
          const state = await info('status', 'GET', wait.signal ? { signal: wait.signal } : {});
          if (state.status === 'done') return taskCall(name, 'get', 'GET', id, undefined, wait.signal ? { signal: wait.signal } : {});
          if (state.status === 'failed' || state.status === 'cancelled') {
            throw new ClientError(409, state.error?.code ?? 'TASK_NOT_DONE', `task ${id} ${state.status}: ${state.error?.message ?? 'no reason recorded'}`, { details: state });
          }
          const interval = wait.pollIntervalMs ?? 500;
          if (Date.now() + interval > deadline) throw new ClientError(0, 'TIMEOUT', `task ${id} was still ${state.status} after ${wait.timeoutMs} ms; it goes on: ask again later`, { details: state });
          await sleep(interval, wait.signal);
        }
      },
    };
  }

  async function waitUntilReady(wait: WaitOptions = {}): Promise<void> {
    const timeoutMs = wait.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    const url = new URL('readyz', base);
    let last = 'no answer yet';
    for (;;) {
      if (wait.signal?.aborted) throw new ClientError(0, 'ABORTED', 'waiting for readiness was aborted');
      const remaining = deadline - Date.now();
      try {
        const res = await fetchImpl(url, {
          headers: await baseHeaders(),
          signal: AbortSignal.any([AbortSignal.timeout(Math.max(1, Math.min(remaining, 5_000))), ...(wait.signal ? [wait.signal] : [])]),
        });
        if (res.ok) {
          await res.body?.cancel().catch(() => {});
          return;
        }
        const err = await errorFromResponse(res);
        last = `${err.code}: ${err.message}`;
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
        last = networkCode(err) ?? (err instanceof Error ? `${err.name === 'TimeoutError' ? 'no answer in time' : err.message}${cause}` : 'no response');
      }
      if (Date.now() + (wait.intervalMs ?? 200) > deadline) {
        throw new ClientError(0, 'NOT_READY', `${base.href} was not ready within ${timeoutMs} ms (last: ${last})`);
      }
      await sleep(wait.intervalMs ?? 200, wait.signal).catch(() => {});
    }
  }

  const methods = new Map<string, unknown>();
  const client: ClientBase = { waitUntilReady };
  const proxy = new Proxy(client, {
    get(target, prop) {
      if (typeof prop === 'symbol') return undefined;
      if (prop === 'waitUntilReady') return target.waitUntilReady;
      // Not APIs: keeps `await client` and inspection from mistaking the client for a thenable.
      if (prop === 'then' || prop === 'toJSON') return undefined;
      let method = methods.get(prop);
      if (!method) {
        // An API method that also carries a task's methods: which one `prop` is, only the types know.
        method = Object.assign((input: unknown, call?: CallOptions) => apiCall(prop, input, call), {
          submit: async (input: unknown, call?: CallOptions) => taskHandle(prop, ((await taskCall(prop, 'submit', 'POST', undefined, input, call)) as TaskInfo).task_id),
          task: (id: string) => taskHandle(prop, id),
        });
        methods.set(prop, method);
      }
      return method;
    },
  });
  // The proxy answers every API name of S with a method of the right shape; TypeScript cannot see through a Proxy.
  return proxy as Client<S>;
}
