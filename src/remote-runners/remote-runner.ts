// The API side of one model's remote runner: its endpoints, which one a call goes to, and what happens when one
// fails. A call carries the caller's deadline (gRPC deadline and the V2 `timeout` parameter), request id
// (`id` and x-request-id metadata) and W3C trace context (traceparent metadata), and is cancelled with its
// signal. Inference is idempotent, so a call that fails with UNAVAILABLE or loses its connection is sent again to
// another endpoint; when every try fails the caller gets RUNNER_UNAVAILABLE naming the runner and each failure.
import * as grpc from '@grpc/grpc-js';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { defaultTextMapSetter, type Context } from '@opentelemetry/api';
import { TiffinError, type ErrorCode } from '../errors/index.ts';
import type { ModelInferRequest, ModelInferResponse } from '../protocols/kserve-v2/grpc-proto.ts';
import type { CancelSignal } from '../runtime/cancellation.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { CallOptions } from '../runtime/types.ts';
import type { RunnerEndpointsConfig } from './config.ts';
import { RunnerEndpoint } from './endpoint.ts';
import { decodeResponse, encodeCall } from './wire.ts';

/** Tries per call at least (a single DNS endpoint balances over several pods, so trying it again can help). */
const MIN_ATTEMPTS = 3;
const propagator = new W3CTraceContextPropagator();

/** grpc-js's words for a connection that could not be made or was lost (not an answer from the runner). */
const CONNECTION_LOST = /connect|connection|ECONN|socket|RST_STREAM|GOAWAY|No address|DNS resolution|EPIPE/i;

interface Failure {
  address: string;
  error: grpc.ServiceError;
}

function statusText(err: grpc.ServiceError): string {
  return `${grpc.status[err.code] ?? err.code}: ${err.details}`;
}

/** Whether a failed call may be sent again (to another endpoint): the runner could not take it or the connection died. */
function retryable(err: grpc.ServiceError): boolean {
  if (err.code === grpc.status.UNAVAILABLE) return true;
  return (err.code === grpc.status.INTERNAL || err.code === grpc.status.CANCELLED || err.code === grpc.status.UNKNOWN) && CONNECTION_LOST.test(err.details);
}

/** What a runner's own answer (not a lost connection) means to the API's caller. */
const ANSWER_CODES: Partial<Record<number, ErrorCode>> = {
  [grpc.status.INVALID_ARGUMENT]: 'TENSOR_INVALID',
  [grpc.status.NOT_FOUND]: 'MODEL_NOT_FOUND',
  [grpc.status.RESOURCE_EXHAUSTED]: 'LIMIT_EXCEEDED',
  [grpc.status.DEADLINE_EXCEEDED]: 'TIMEOUT',
};

export interface RemoteRunnerOptions {
  pollMs?: number;
  onStateChange?: (runner: RemoteRunner, endpoint: RunnerEndpoint) => void;
  /** A runner answered with another version than the API's repository called (once per pair of versions). */
  onVersionMismatch?: (runner: RemoteRunner, expected: string, answered: string) => void;
}

export class RemoteRunner {
  readonly endpoints: RunnerEndpoint[];
  private next = 0;
  private readonly mismatches = new Set<string>();
  private readonly onVersionMismatch: RemoteRunnerOptions['onVersionMismatch'];

  constructor(
    /** The store model name the runner serves. */
    readonly model: string,
    config: RunnerEndpointsConfig,
    options: RemoteRunnerOptions = {},
  ) {
    this.onVersionMismatch = options.onVersionMismatch;
    this.endpoints = config.endpoints.map((address) => new RunnerEndpoint(address, { model, token: config.token, tls: config.tls, ...(options.pollMs ? { pollMs: options.pollMs } : {}) }));
    for (const e of this.endpoints) e.startPolling(() => options.onStateChange?.(this, e));
  }

  get ready(): boolean {
    return this.endpoints.some((e) => e.state === 'ready');
  }

  /** Why no endpoint is ready, or undefined when one is. */
  notReady(): string | undefined {
    if (this.ready) return undefined;
    return `the remote runner of model ${this.model} has no ready endpoint (${this.endpoints.map((e) => `${e.address}: ${e.reason}`).join('; ')})`;
  }

  close(): void {
    for (const e of this.endpoints) e.close();
  }

  /** The order this call tries endpoints in: usable ones from the next in turn, then the rest; at least MIN_ATTEMPTS. */
  private plan(): RunnerEndpoint[] {
    const n = this.endpoints.length;
    const start = this.next++ % n;
    const rotated = [...this.endpoints.slice(start), ...this.endpoints.slice(0, start)];
    const order = [...rotated.filter((e) => e.usable), ...rotated.filter((e) => !e.usable)];
    while (order.length < MIN_ATTEMPTS) order.push(order[order.length % n]!);
    return order;
  }

  /** `version`: the version the API's repository resolved. The runner is not asked for it (it serves its own
   * configured version, so API and runner Deployments can roll out in any order); a different answer is reported. */
  async infer(feeds: Tensors, options: CallOptions = {}, version?: string): Promise<Tensors> {
    const { signal } = options;
    if (signal?.aborted) throw this.aborted();
    const deadline = options.timeoutMs !== undefined ? Date.now() + options.timeoutMs : undefined;
    const request = encodeCall(feeds, {
      model: this.model,
      ...(options.requestId !== undefined ? { requestId: options.requestId } : {}),
      ...(options.outputs ? { outputs: options.outputs } : {}),
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
    });
    const failures: Failure[] = [];
    const plan = this.plan();
    for (let i = 0; i < plan.length; i++) {
      const endpoint = plan[i]!;
      // The same endpoint again (too few of them): give it a moment to reconnect elsewhere.
      if (plan.indexOf(endpoint) < i) await this.pause(50 * i, deadline, signal);
      if (signal?.aborted) throw this.aborted();
      if (deadline !== undefined) {
        const left = deadline - Date.now();
        if (left <= 0) throw this.timedOut(options.timeoutMs!, failures);
        request.parameters!.timeout = { int64_param: Math.max(1, Math.floor(left * 1000)) };
      }
      try {
        const response = await this.attempt(endpoint, request, this.metadata(endpoint, options), deadline, signal);
        if (version !== undefined && response.model_version && response.model_version !== version) this.mismatch(version, response.model_version);
        return decodeResponse(response, `${this.model} (${endpoint.address})`);
      } catch (err) {
        if (!isServiceError(err)) throw err;
        if (signal?.aborted) throw this.aborted();
        // Our deadline passed; without one, the runner's own (its model's timeoutMs) did, and its message says so.
        if (err.code === grpc.status.DEADLINE_EXCEEDED && options.timeoutMs !== undefined) throw this.timedOut(options.timeoutMs, failures, endpoint.address);
        if (!retryable(err)) throw this.answered(endpoint, err);
        if (CONNECTION_LOST.test(err.details)) endpoint.markDown(statusText(err));
        failures.push({ address: endpoint.address, error: err });
      }
    }
    throw new TiffinError(
      'RUNNER_UNAVAILABLE',
      `the remote runner of model ${this.model} could not serve the call after ${failures.length} tries (${failures.map((f) => `${f.address}: ${statusText(f.error)}`).join('; ')}); retry later`,
      { retryAfter: 1, details: { runner: this.model, failures: failures.map((f) => ({ endpoint: f.address, status: grpc.status[f.error.code], message: f.error.details })) } },
    );
  }

  private mismatch(expected: string, answered: string): void {
    const key = `${expected}>${answered}`;
    if (this.mismatches.has(key)) return;
    this.mismatches.add(key);
    this.onVersionMismatch?.(this, expected, answered);
  }

  private metadata(endpoint: RunnerEndpoint, options: CallOptions): grpc.Metadata {
    const md = endpoint.metadata();
    if (options.requestId !== undefined) md.set('x-request-id', options.requestId);
    if (options.traceContext !== undefined) {
      const carrier: Record<string, string> = {};
      propagator.inject(options.traceContext as Context, carrier, defaultTextMapSetter);
      for (const [k, v] of Object.entries(carrier)) md.set(k, v);
    }
    return md;
  }

  private attempt(endpoint: RunnerEndpoint, request: ModelInferRequest, metadata: grpc.Metadata, deadline: number | undefined, signal: CancelSignal | undefined): Promise<ModelInferResponse> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => call.cancel();
      const call = endpoint.call(request, metadata, deadline, (err, res) => {
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(res!);
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private pause(ms: number, deadline: number | undefined, signal: CancelSignal | undefined): Promise<void> {
    const wait = deadline === undefined ? ms : Math.max(0, Math.min(ms, deadline - Date.now()));
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, wait);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private aborted(): TiffinError {
    return new TiffinError('ABORTED', `the call to the remote runner of model ${this.model} was cancelled by its caller`);
  }

  private timedOut(timeoutMs: number, failures: Failure[], address?: string): TiffinError {
    const tried = failures.length ? ` (before: ${failures.map((f) => `${f.address}: ${statusText(f.error)}`).join('; ')})` : '';
    return new TiffinError('TIMEOUT', `the remote runner of model ${this.model}${address ? ` (${address})` : ''} did not answer within the call's deadline of ${timeoutMs} ms${tried}`, {
      details: { runner: this.model },
    });
  }

  private answered(endpoint: RunnerEndpoint, err: grpc.ServiceError): TiffinError {
    const where = `the remote runner of model ${this.model} (${endpoint.address})`;
    if (err.code === grpc.status.UNAUTHENTICATED || err.code === grpc.status.PERMISSION_DENIED) {
      return new TiffinError('RUNNER_FAILED', `${where} refused the API server's token (${statusText(err)}); set runners.${this.model}.token to a token with the inference scope`);
    }
    const code = ANSWER_CODES[err.code] ?? 'RUNNER_FAILED';
    return new TiffinError(code, `${where}: ${err.details}`, { details: { runner: this.model, endpoint: endpoint.address, status: grpc.status[err.code] } });
  }
}

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number' && 'details' in err;
}
