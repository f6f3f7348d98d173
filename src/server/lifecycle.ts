// A served service's life: load models, run startup hooks, serve, drain, run shutdown hooks, release models.
// Tracks in-flight requests so that shutdown can wait for them and cancel them when the grace period ends.
import type { ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { LifecycleContext, ModelHandles, ModelTags } from '../service/context.ts';
import type { Dependencies } from './dependencies.ts';
import type { ModelProvider, OpenedModels } from '../service/model-provider.ts';
import type { ApiMap, Service } from '../service/service.ts';

/** What the lifecycle needs of a request in flight: its response, a way to cancel it, and the links of the
 * in-flight list (owned by the lifecycle: start them undefined). */
export interface InFlightRequest {
  readonly res: ServerResponse;
  abort(reason: unknown): void;
  inFlightPrev: InFlightRequest | undefined;
  inFlightNext: InFlightRequest | undefined;
}

/**
 * The requests in flight, as a list linked through the requests themselves. A Set would read better, but with a
 * long-lived Set taking and dropping an entry per request, requests' objects were promoted to the old generation
 * and scavenges took several times as long (bench/RESULTS.md).
 */
class InFlightList {
  private head: InFlightRequest | undefined;
  size = 0;

  add(r: InFlightRequest): void {
    r.inFlightPrev = undefined;
    r.inFlightNext = this.head;
    if (this.head) this.head.inFlightPrev = r;
    this.head = r;
    this.size++;
  }

  /** Removes `r`; false when it was not in the list. */
  delete(r: InFlightRequest): boolean {
    if (r.inFlightPrev === undefined && this.head !== r) return false;
    if (r.inFlightPrev) r.inFlightPrev.inFlightNext = r.inFlightNext;
    else this.head = r.inFlightNext;
    if (r.inFlightNext) r.inFlightNext.inFlightPrev = r.inFlightPrev;
    r.inFlightPrev = r.inFlightNext = undefined;
    this.size--;
    return true;
  }

  *[Symbol.iterator](): IterableIterator<InFlightRequest> {
    for (let r = this.head; r; r = r.inFlightNext) yield r;
  }
}

export type Phase = 'loading-models' | 'starting' | 'ready' | 'failed' | 'draining' | 'closed';

export class ServiceLifecycle {
  phase: Phase = 'loading-models';
  failure: TiffinError | undefined;
  private opened: OpenedModels | undefined;
  /** In-flight requests: to ask for their connection to close, and to cancel them when the grace period ends. */
  private readonly inFlight = new InFlightList();
  private idle: (() => void) | undefined;
  private started: Promise<void> | undefined;

  constructor(
    private readonly svc: Service<ModelTags, ApiMap>,
    private readonly provider: ModelProvider,
    private readonly log: Logger,
    private readonly dependencies: Dependencies,
  ) {}

  /** The models by the service's keys; only valid once ready. */
  get models(): ModelHandles<ModelTags> {
    return this.opened?.handles ?? {};
  }

  /** Why the service is not taking requests, as the error to send; undefined when ready. */
  notReady(probe = false): TiffinError | undefined {
    switch (this.phase) {
      case 'ready':
        // Probes also ask whether every model can serve; API calls find out from their model, and stay cheap.
        if (probe && this.opened?.ready && !this.opened.ready()) {
          return new TiffinError('NOT_READY', this.opened.notReadyReason?.() ?? 'a model this server is meant to serve has no ready version (see /v2/repository/index)', { retryAfter: 1 });
        }
        return probe ? this.dependencies.notReady() : undefined;
      case 'loading-models':
        return new TiffinError('NOT_READY', `loading models (${Object.values(this.svc.models).join(', ')})`, { retryAfter: 1 });
      case 'starting':
        return new TiffinError('NOT_READY', 'running startup hooks', { retryAfter: 1 });
      case 'failed':
        return new TiffinError('NOT_READY', `startup failed: ${this.failure?.message ?? 'unknown error'}`);
      default:
        return new TiffinError('SHUTTING_DOWN', 'the server is shutting down; retry against another instance', { retryAfter: 1 });
    }
  }

  /** Loads the models and runs the startup hooks. Rejects (and stays failed) if either fails. */
  start(): Promise<void> {
    this.started ??= this.runStartup();
    return this.started;
  }

  private async runStartup(): Promise<void> {
    const t0 = performance.now();
    try {
      this.opened = await this.provider.open(this.svc.models);
      // Dependencies started by this process are ready before this service's startup hooks, which may call them.
      await this.dependencies.start();
      if (this.isClosing()) return;
      this.phase = 'starting';
      const ctx = this.hookContext();
      for (const hook of this.svc.startupHooks) await hook(ctx);
      if (this.isClosing()) return;
      this.phase = 'ready';
      this.log.info({ ms: Math.round(performance.now() - t0) }, `service ${this.svc.name} is ready`);
    } catch (err) {
      const failure = err instanceof TiffinError ? err : new TiffinError('INTERNAL', `startup hook failed: ${messageOf(err)}`, { cause: err });
      if (!this.isClosing()) this.phase = 'failed';
      this.failure = failure;
      this.log.error({ err }, `service ${this.svc.name} failed to start: ${failure.message}`);
      throw failure;
    }
  }

  private isClosing(): boolean {
    return this.phase === 'draining' || this.phase === 'closed';
  }

  /** Registers a request in flight, until `leave(request)`. */
  enter(request: InFlightRequest): void {
    this.inFlight.add(request);
  }

  leave(request: InFlightRequest): void {
    if (this.inFlight.delete(request) && this.inFlight.size === 0) this.idle?.();
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Readiness turns 503 now; new requests are refused from here on (the server keeps listening until what was
   * accepted has finished, so probes see it). */
  beginDrain(): void {
    if (!this.isClosing()) this.phase = 'draining';
    // Keep-alive connections of in-flight requests would otherwise stay open after their response.
    for (const { res } of this.inFlight) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /** Nothing in flight: no API request, and no model call (protocol requests over HTTP and gRPC make those
   * without an API request; the models' provider counts them). */
  private drained(): boolean {
    return this.inFlight.size === 0 && (this.opened?.inFlight?.() ?? 0) === 0;
  }

  /** Waits for in-flight requests and model calls; when the grace period runs out, cancels the API requests (the
   * server then cuts the rest). True if it had to cancel. */
  async waitForInFlight(graceMs: number): Promise<boolean> {
    if (this.drained()) return false;
    let timer: NodeJS.Timeout | undefined;
    let poll: NodeJS.Timeout | undefined;
    const drained = new Promise<boolean>((resolve) => {
      const check = () => this.drained() && resolve(false);
      this.idle = check;
      // Model calls end without telling the lifecycle: look every few ms, only while shutting down.
      poll = setInterval(check, 10);
      timer = setTimeout(() => resolve(true), graceMs);
    });
    const forced = await drained;
    clearTimeout(timer);
    clearInterval(poll);
    this.idle = undefined;
    if (forced) {
      this.log.warn({ inFlight: this.inFlight.size, modelCalls: this.opened?.inFlight?.() ?? 0 }, `shutdown grace period (${graceMs} ms) ran out; cancelling in-flight requests`);
      const reason = new TiffinError('SHUTTING_DOWN', 'the server shut down before the request finished');
      for (const request of [...this.inFlight]) request.abort(reason);
    }
    return forced;
  }

  /** Runs shutdown hooks (after startup settled) and releases the models. Hook failures are logged, not thrown. */
  async stop(graceMs: number): Promise<void> {
    if (this.started) {
      // A startup still in flight (a slow model load) gets the grace period to finish before the models are released.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.started.catch(() => {}), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
    }
    if (this.opened) {
      const ctx = this.hookContext();
      for (const hook of this.svc.shutdownHooks) {
        try {
          await hook(ctx);
        } catch (err) {
          this.log.error({ err }, `shutdown hook of ${this.svc.name} failed: ${messageOf(err)}`);
        }
      }
      try {
        await this.opened.close();
      } catch (err) {
        this.log.error({ err }, `releasing the models failed: ${messageOf(err)}`);
      }
    }
    // Dependencies this process started go after this service, which may have called them until now.
    await this.dependencies.close();
    this.phase = 'closed';
  }

  private hookContext(): LifecycleContext<ModelTags> {
    return { service: this.svc.name, models: this.models, services: this.dependencies.clients({ fetch: globalThis.fetch }), log: this.log };
  }
}
