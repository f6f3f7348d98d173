// The adaptive micro-batcher in front of a method's replicas. Requests queue by priority; a batch leaves at
// once when nothing runs and a replica is idle (at low traffic a request never waits), when it is full, or
// when waiting longer would break maxLatencyMs according to the learned cost of a batch. While a batch runs,
// rows collect rather than wake another replica, until they fill a batch or the budget runs out; so a cheap
// model keeps few cores busy with big batches, and a costly one runs on every replica at once (up to one
// batch per replica plus one queued behind them). Requests that cannot make their deadline get a 503 early.
import { EventEmitter } from 'node:events';
import { TiffinError, messageOf, type ErrorCode } from '../errors/index.ts';
import type { CancelSignal } from '../runtime/cancellation.ts';
import type { CallOptions } from '../runtime/types.ts';
import { systemClock, type Clock } from './clock.ts';
import type { BatchCodec } from './codec.ts';
import { BatchCostModel } from './cost-model.ts';
import { RequestQueue, type Part, type Queued } from './request-queue.ts';
import { Histogram, MS_BUCKETS, sizeBuckets } from './stats.ts';
import type {
  BatchInfo, BatchTarget, DispatchReason, ExecuteOptions, DispatcherEvents, DispatcherOptions, DispatcherStats, ShedReason,
} from './types.ts';

export const DEFAULT_MAX_BATCH_SIZE = 32;
export const DEFAULT_MAX_SPLITS = 64;
export const DEFAULT_MAX_LATENCY_MS = 10;
export const DEFAULT_MAX_QUEUE_SIZE = 1024;
/** Batches the cost model needs before the dispatcher trusts it to turn requests away. */
const MIN_SAMPLES_TO_SHED = 3;

interface Pending<I, O> extends Queued {
  readonly input: I;
  readonly outputs: string[] | undefined;
  readonly timeoutMs: number | undefined;
  /** Output pieces, in the order the request's rows were handed out. */
  readonly pieces: O[];
  /** Pieces handed to batches so far. */
  issued: number;
  /** Pieces on their way (in a batch that has not returned). */
  outstanding: number;
  settled: boolean;
  resolve(output: O): void;
  reject(err: TiffinError): void;
  /** Cancels the timeout timer, when there is one. */
  cancelTimer: (() => void) | undefined;
  signal: CancelSignal | undefined;
  onAbort: (() => void) | undefined;
  /** CallOptions.traceContext, passed through to the batch event untouched. */
  readonly traceContext: unknown;
}

interface BatchPart<I, O> extends Part<Pending<I, O>> {
  piece: number;
}

/** A batch on its way: which rows of which requests it holds. */
interface Batch<I, O> {
  id: number;
  reason: DispatchReason;
  parts: BatchPart<I, O>[];
  rows: number;
  queueWaitMs: number[];
  startedAt: number;
}

function toTiffinError(err: unknown, fallback: ErrorCode, context: string): TiffinError {
  if (err instanceof TiffinError) return err;
  return new TiffinError(fallback, `${context}: ${messageOf(err)}`, { cause: err });
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!(v > 0)) throw new TiffinError('CONFIG_INVALID', `${name} must be a positive number, got ${v}`);
  return v;
}

export class BatchDispatcher<I = unknown, O = unknown> extends EventEmitter<DispatcherEvents> {
  readonly name: string;
  readonly maxBatchSize: number;
  readonly maxSplits: number;
  readonly maxLatencyMs: number;
  readonly maxQueueSize: number;
  private readonly clock: Clock;
  private readonly queue = new RequestQueue<Pending<I, O>>();
  private readonly cost: BatchCostModel;
  /** Batches on their way. An array, not a Set: see the note on Replica's pending calls. */
  private readonly flights: Batch<I, O>[] = [];
  private readonly unsubscribe: () => void;
  private pumping = false;
  private pumpDeferred = false;
  private cancelWake: (() => void) | undefined;
  private wakeAt: number | undefined;
  private batchSeq = 0;
  /** Whether a request arrived while the last batch to come back ran: requests overlap, so none runs inline. */
  private overlapped = false;
  private closed = false;
  private unavailable: TiffinError | undefined;
  private drained: (() => void)[] = [];

  private completed = 0;
  private readonly byReason: Record<DispatchReason, number> = { idle: 0, full: 0, deadline: 0, inline: 0 };
  private readonly shedCounts: Record<ShedReason, number> = { queue_full: 0, deadline: 0, timeout: 0, aborted: 0, shutdown: 0, unavailable: 0 };
  private readonly failedCounts: Record<string, number> = {};
  private readonly batchSize: Histogram;
  private readonly queueWait = new Histogram(MS_BUCKETS);
  private readonly runTime = new Histogram(MS_BUCKETS);

  constructor(
    private readonly target: BatchTarget<I, O>,
    private readonly codec: BatchCodec<I, O>,
    private readonly options: DispatcherOptions,
  ) {
    super();
    this.name = options.name;
    this.maxBatchSize = Math.floor(positive(options.maxBatchSize, DEFAULT_MAX_BATCH_SIZE, 'maxBatchSize'));
    this.maxSplits = Math.floor(positive(options.maxSplits, DEFAULT_MAX_SPLITS, 'maxSplits'));
    this.maxLatencyMs = positive(options.maxLatencyMs, DEFAULT_MAX_LATENCY_MS, 'maxLatencyMs');
    this.maxQueueSize = Math.floor(positive(options.maxQueueSize, DEFAULT_MAX_QUEUE_SIZE, 'maxQueueSize'));
    if (options.maxInFlight !== undefined) positive(options.maxInFlight, 1, 'maxInFlight');
    this.clock = options.clock ?? systemClock;
    this.cost = new BatchCostModel(options.costWindow ?? 64);
    this.batchSize = new Histogram(sizeBuckets(this.maxBatchSize));
    this.unsubscribe = target.onCapacity(() => this.pump());
  }

  /** Queues a request and resolves with its own slice of the batch output. */
  submit(input: I, options: CallOptions = {}): Promise<O> {
    if (this.closed) return Promise.reject(new TiffinError('SHUTTING_DOWN', `${this.name} is shutting down and takes no new requests`));
    if (this.unavailable) return Promise.reject(this.unavailable);
    const priority = Number.isFinite(options.priority) ? options.priority! : 0;
    const timeoutMs = options.timeoutMs ?? this.options.defaultTimeoutMs;
    let rows: number, key: string;
    try {
      rows = this.codec.rows(input);
      key = `${this.codec.key(input)}|${options.outputs?.join(',') ?? ''}`;
    } catch (err) {
      return Promise.reject(toTiffinError(err, 'BAD_REQUEST', `${this.name}: the input cannot be batched`));
    }
    if (rows > this.maxBatchSize * this.maxSplits) {
      return Promise.reject(new TiffinError('LIMIT_EXCEEDED',
        `${this.name}: the request has ${rows} rows, more than the ${this.maxBatchSize * this.maxSplits} that ${this.maxSplits} batches of ${this.maxBatchSize} hold; ` +
          'send fewer rows per request, or raise batching.maxSplits or batching.maxBatchSize for this model', {
          details: { limit: 'batching.maxSplits', rows, maxBatchSize: this.maxBatchSize, maxSplits: this.maxSplits },
        }));
    }
    if (options.signal?.aborted) {
      this.countShed('aborted', priority, rows, 0);
      return Promise.reject(new TiffinError('ABORTED', `${this.name}: the request was aborted before it was queued`));
    }
    // Refuse now what would time out anyway: the client can retry elsewhere instead of waiting for a 504.
    if (timeoutMs !== undefined) {
      const predicted = this.predictCompletionMs(this.queue.rowsAtOrAbove(priority), rows);
      if (predicted !== undefined && predicted > timeoutMs) {
        const retryAfter = this.retryAfter();
        this.countShed('deadline', priority, rows, 0, retryAfter);
        return Promise.reject(new TiffinError('OVERLOADED', `${this.name} is overloaded: the request would finish in about ${Math.ceil(predicted)} ms, past its ${timeoutMs} ms timeout`, {
          retryAfter, details: { reason: 'deadline', predictedMs: Math.ceil(predicted), timeoutMs },
        }));
      }
    }
    if (this.queue.size >= this.maxQueueSize) {
      const victim = this.queue.evictionCandidate(priority);
      const retryAfter = this.retryAfter();
      const full = (who: string) => new TiffinError('OVERLOADED', `${this.name} is overloaded: ${who} (the queue holds ${this.maxQueueSize} requests)`, {
        retryAfter, details: { reason: 'queue_full', maxQueueSize: this.maxQueueSize },
      });
      if (!victim) {
        this.countShed('queue_full', priority, rows, 0, retryAfter);
        return Promise.reject(full('the queue is full'));
      }
      this.queue.remove(victim);
      this.shed(victim, 'queue_full', full(`a request of higher priority (${priority}) took this one's place`), retryAfter);
    }

    // The hot path: no closures per request beyond the promise's. The timeout and abort handlers are bound
    // functions, not closures made here: a closure made in this scope keeps the whole scope (input, options) for
    // as long as it lives, and measurably more of each request reached the old generation with one.
    return new Promise<O>((resolve, reject) => {
      const req: Pending<I, O> = {
        input, rows, key, priority, enqueuedAt: this.clock.now(), taken: 0, queued: false,
        outputs: options.outputs, timeoutMs, pieces: [], issued: 0, outstanding: 0, settled: false,
        resolve, reject, cancelTimer: undefined, signal: options.signal, onAbort: undefined, traceContext: options.traceContext,
      };
      if (timeoutMs !== undefined) req.cancelTimer = this.clock.setTimer(timeoutMs, this.timedOut.bind(this, req));
      if (req.signal) {
        req.onAbort = this.aborted.bind(this, req);
        req.signal.addEventListener('abort', req.onAbort, { once: true });
      }
      this.queue.push(req);
      this.pumpSoon();
    });
  }

  /**
   * Decides once this event-loop turn has read every request that came in with this one: under load,
   * one turn parses many sockets' requests, and deciding on the first would send it alone to an idle
   * replica and the rest after it: smaller batches and fewer requests per second under load (bench/RESULTS.md).
   * A lone request still leaves in the same turn.
   */
  private pumpSoon(): void {
    if (!this.clock.defer) return this.pump();
    if (this.pumpDeferred) return;
    this.pumpDeferred = true;
    this.clock.defer(() => {
      this.pumpDeferred = false;
      this.pump();
    });
  }

  /**
   * Decides, as often as anything changes (a request arrives, a batch returns, a replica frees up,
   * a wake-up timer fires), which batches to send now.
   */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (;;) {
        const reason = this.decide();
        if (!reason) break;
        this.dispatch(reason);
      }
    } finally {
      this.pumping = false;
    }
  }

  private decide(): DispatchReason | undefined {
    if (this.queue.size === 0) {
      this.sleep();
      return undefined;
    }
    const live = this.target.liveReplicas();
    const maxInFlight = live === 0 ? 0 : this.options.maxInFlight ?? live + 1;
    if (this.flights.length >= maxInFlight) {
      this.sleep();
      return undefined;
    }
    const idle = this.target.idleReplicas();
    // Nothing running: holding a request while every replica idles only adds latency (a lone request leaves at once).
    if (idle > 0 && this.flights.length === 0) return 'idle';
    // A full batch cannot grow: send it, to an idle replica or to wait in a busy one (saving the hop when it frees up).
    const rows = this.queue.rows;
    if (rows >= this.maxBatchSize) return 'full';
    // A batch is running. Waking another replica for a partial batch costs a core that the event loop and the
    // running batch need too (on a small machine, measurably fewer requests per second), so the rows keep
    // collecting into one bigger, cheaper batch until the oldest request's budget says go: with an idle replica,
    // the budget allows for the wait until the soonest running batch is done; with none, the batch waits anyway.
    const oldest = this.queue.oldestEnqueuedAt()!;
    let dueAt = oldest + this.maxLatencyMs - (this.cost.predict(rows) ?? 0);
    if (idle > 0) dueAt -= this.soonestFlightDoneMs();
    if (this.clock.now() >= dueAt) return 'deadline';
    this.sleep(dueAt);
    return undefined;
  }

  /** Arms (or clears) the one timer that re-runs the decision when a deadline comes due. */
  private sleep(until?: number): void {
    if (until === this.wakeAt) return;
    this.cancelWake?.();
    this.cancelWake = undefined;
    this.wakeAt = until;
    if (until === undefined) return;
    this.cancelWake = this.clock.setTimer(until - this.clock.now(), () => {
      this.cancelWake = undefined;
      this.wakeAt = undefined;
      this.pump();
    });
  }

  private dispatch(reason: DispatchReason): void {
    const now = this.clock.now();
    const room = reason === 'idle' ? this.idleShare(now) : this.maxBatchSize;
    const parts = this.queue.take(room) as BatchPart<I, O>[];
    const first = parts[0];
    if (!first) return;
    let rows = 0;
    const queueWaitMs: number[] = [];
    for (const p of parts) {
      p.piece = p.request.issued++;
      p.request.outstanding++;
      rows += p.count;
      queueWaitMs.push(now - p.request.enqueuedAt);
      this.queueWait.observe(now - p.request.enqueuedAt);
    }
    const batch: Batch<I, O> = { id: ++this.batchSeq, reason, parts, rows, queueWaitMs, startedAt: now };
    this.batchSize.observe(rows);

    let input: I;
    try {
      const whole = parts.length === 1 && first.count === first.request.rows;
      input = whole ? first.request.input : this.codec.concat(parts.map((p) => this.codec.slice(p.request.input, p.start, p.start + p.count)));
    } catch (err) {
      this.byReason[reason]++;
      this.batchFailed(batch, toTiffinError(err, 'INTERNAL', `${this.name}: could not assemble batch ${batch.id}`), 0);
      return;
    }
    this.flights.push(batch);
    const options: ExecuteOptions = first.request.outputs ? { outputs: first.request.outputs } : {};
    let running: Promise<{ output: O; runMs: number }> | undefined;
    try {
      // One request alone is offered to the target to run where the caller is (inline-runs.ts).
      if (reason === 'idle' && !this.overlapped && parts.length === 1 && this.queue.size === 0 && this.flights.length === 1 && this.target.runInline) {
        running = this.target.runInline(input, options, this.cost.predict(rows));
        if (running) batch.reason = 'inline';
      }
      running ??= this.target.execute(input, options);
    } catch (err) {
      running = Promise.reject(err);
    }
    this.byReason[batch.reason]++;
    running.then(
      (result) => this.batchDone(batch, result.output, result.runMs),
      (err: unknown) => this.batchFailed(batch, toTiffinError(err, 'RUNNER_FAILED', `${this.name}: batch ${batch.id} failed`), 0),
    );
  }

  private removeFlight(batch: Batch<I, O>): void {
    const i = this.flights.indexOf(batch);
    if (i >= 0) this.flights.splice(i, 1);
  }

  private batchDone(batch: Batch<I, O>, output: O, runMs: number): void {
    this.cost.observe(batch.rows, runMs);
    this.runTime.observe(runMs);
    let pieces: O[];
    try {
      pieces = this.codec.split(output, batch.parts.map((p) => p.count));
    } catch (err) {
      this.batchFailed(batch, toTiffinError(err, 'INFERENCE_FAILED', `${this.name}: could not split the output of batch ${batch.id}`), runMs);
      return;
    }
    this.removeFlight(batch);
    this.overlapped = this.queue.size > 0;
    for (let i = 0; i < batch.parts.length; i++) this.deliver(batch.parts[i]!, pieces[i]!);
    this.report(batch, runMs);
    this.afterBatch();
  }

  private batchFailed(batch: Batch<I, O>, error: TiffinError, runMs: number): void {
    this.removeFlight(batch);
    this.overlapped = this.queue.size > 0;
    this.failParts(batch.parts, error);
    this.report(batch, runMs, error);
    this.afterBatch();
  }

  /** Emits the batch's 'batch' event (built only when someone listens). */
  private report(batch: Batch<I, O>, runMs: number, error?: TiffinError): void {
    if (this.listenerCount('batch') === 0) return;
    const info: BatchInfo = {
      dispatcher: this.name, batch: batch.id, reason: batch.reason, rows: batch.rows, requests: batch.parts.length,
      queueWaitMs: batch.queueWaitMs, runMs, totalMs: this.clock.now() - batch.startedAt,
    };
    if (error) info.error = error;
    // Built only once a part has a trace context: untraced batches allocate nothing more.
    const { parts } = batch;
    let contexts: unknown[] | undefined;
    for (let i = 0; i < parts.length; i++) {
      const context = parts[i]!.request.traceContext;
      if (context === undefined) continue;
      contexts ??= new Array<unknown>(parts.length).fill(undefined);
      contexts[i] = context;
    }
    if (contexts) info.traceContexts = contexts;
    this.emit('batch', info);
  }

  private afterBatch(): void {
    this.pump();
    this.checkDrained();
  }

  private deliver(part: BatchPart<I, O>, piece: O): void {
    const req = part.request;
    req.outstanding--;
    if (req.settled) return;
    req.pieces[part.piece] = piece;
    if (req.queued || req.outstanding > 0) return;
    let output: O;
    try {
      output = req.pieces.length === 1 ? req.pieces[0]! : this.codec.join(req.pieces);
    } catch (err) {
      this.fail(req, toTiffinError(err, 'INFERENCE_FAILED', `${this.name}: could not re-join the parts of a split request`));
      return;
    }
    this.release(req);
    this.completed++;
    req.resolve(output);
  }

  /** Settles the request's bookkeeping: no timer or abort listener outlives it. */
  private release(req: Pending<I, O>): void {
    req.settled = true;
    req.cancelTimer?.();
    if (req.onAbort) req.signal?.removeEventListener('abort', req.onAbort);
  }

  private failParts(parts: readonly BatchPart<I, O>[], error: TiffinError): void {
    for (const p of parts) {
      p.request.outstanding--;
      this.fail(p.request, error);
    }
  }

  /** Rejects a request that (partly) ran: counted as failed. */
  private fail(req: Pending<I, O>, error: TiffinError): void {
    if (req.settled) return;
    this.queue.remove(req);
    this.release(req);
    const reason = error.code.toLowerCase();
    this.failedCounts[reason] = (this.failedCounts[reason] ?? 0) + 1;
    this.emit('failed', { dispatcher: this.name, reason, priority: req.priority, rows: req.rows, error });
    req.reject(error);
  }

  /** Rejects a request none of which ran: counted as shed. */
  private shed(req: Pending<I, O>, reason: ShedReason, error: TiffinError, retryAfter?: number): void {
    if (req.settled) return;
    this.release(req);
    this.countShed(reason, req.priority, req.rows, this.clock.now() - req.enqueuedAt, retryAfter);
    req.reject(error);
    this.checkDrained();
  }

  private countShed(reason: ShedReason, priority: number, rows: number, waitedMs: number, retryAfter?: number): void {
    this.shedCounts[reason]++;
    this.emit('shed', { dispatcher: this.name, reason, priority, rows, waitedMs, ...(retryAfter === undefined ? {} : { retryAfter }) });
  }

  private timedOut(req: Pending<I, O>): void {
    this.giveUp(req, 'TIMEOUT', 'timeout');
  }

  private aborted(req: Pending<I, O>): void {
    this.giveUp(req, 'ABORTED', 'aborted');
  }

  /** A request's timeout or abort signal fired: shed it if it is still waiting, fail it if part of it ran. */
  private giveUp(req: Pending<I, O>, code: 'TIMEOUT' | 'ABORTED', reason: 'timeout' | 'aborted'): void {
    if (req.settled) return;
    const waited = Math.round(this.clock.now() - req.enqueuedAt);
    const what = code === 'TIMEOUT' ? `timed out after ${waited} ms (timeout ${req.timeoutMs} ms)` : `was aborted after ${waited} ms`;
    if (req.issued === 0) {
      this.queue.remove(req);
      this.shed(req, reason, new TiffinError(code, `${this.name}: the request ${what} waiting in the queue`));
    } else {
      this.fail(req, new TiffinError(code, `${this.name}: the request ${what}, while it was running`));
      this.checkDrained();
    }
  }

  /**
   * Predicted milliseconds until a request of `rows` behind `rowsAhead` rows is answered: the wait for a
   * replica, then full batches spread over the live replicas. Undefined while the cost model is unsure.
   */
  private predictCompletionMs(rowsAhead: number, rows: number): number | undefined {
    const fit = this.cost.fit();
    const live = this.target.liveReplicas();
    if (!fit || fit.samples < MIN_SAMPLES_TO_SHED || live === 0) return undefined;
    const total = rowsAhead + rows;
    const waves = Math.ceil(Math.max(1, Math.ceil(total / this.maxBatchSize)) / live);
    const perBatch = fit.fixedMs + fit.perRowMs * Math.min(total, this.maxBatchSize);
    return this.untilReplicaFreeMs() + waves * perBatch;
  }

  /**
   * Rows for one batch when the queue meets idle replicas: all of them (up to maxBatchSize), unless one batch of
   * them would not finish within the oldest request's budget; then they are shared among the idle replicas, to run
   * side by side.
   */
  private idleShare(now: number): number {
    const idle = this.target.idleReplicas();
    const rows = this.queue.rows;
    if (idle <= 1) return this.maxBatchSize;
    const budget = this.queue.oldestEnqueuedAt()! + this.maxLatencyMs - now;
    const whole = this.cost.predict(Math.min(rows, this.maxBatchSize));
    if (whole === undefined || whole <= budget) return this.maxBatchSize;
    return Math.min(this.maxBatchSize, Math.ceil(rows / idle));
  }

  /** Predicted milliseconds until the soonest of this dispatcher's running batches returns (0 when none runs). */
  private soonestFlightDoneMs(): number {
    const now = this.clock.now();
    let soonest = Infinity;
    for (const f of this.flights) soonest = Math.min(soonest, Math.max(0, (this.cost.predict(f.rows) ?? 0) - (now - f.startedAt)));
    return soonest === Infinity ? 0 : soonest;
  }

  /** How long until one of this dispatcher's running batches is predicted to return (0 with an idle replica). */
  private untilReplicaFreeMs(): number {
    if (this.target.idleReplicas() > 0) return 0;
    return this.soonestFlightDoneMs();
  }

  /** Seconds for Retry-After: how long the queue is predicted to take to drain, at least 1. */
  private retryAfter(): number {
    const ms = this.predictCompletionMs(this.queue.rows, 0) ?? 0;
    return Math.max(1, Math.ceil(ms / 1000));
  }

  /** Rejects every waiting request (the runner lost its replicas, or closed without waiting). */
  rejectQueued(error: TiffinError, reason: ShedReason): void {
    for (const req of [...this.queue.all()]) {
      if (req.issued > 0) {
        this.fail(req, error);
      } else {
        this.queue.remove(req);
        this.shed(req, reason, error);
      }
    }
    this.checkDrained();
  }

  /** While set, new requests are refused with `error` (every replica is gone for good); undefined lifts it. */
  setUnavailable(error: TiffinError | undefined): void {
    this.unavailable = error;
    if (error) this.rejectQueued(error, 'unavailable');
  }

  /** Takes no new requests; resolves once every accepted request has been answered. */
  close(): Promise<void> {
    this.closed = true;
    return new Promise((resolve) => {
      this.drained.push(resolve);
      this.checkDrained();
    });
  }

  /** Stops listening to the target and clears timers; call after close() resolved or rejectQueued(). */
  dispose(): void {
    this.closed = true;
    this.sleep();
    this.unsubscribe();
  }

  private checkDrained(): void {
    if (!this.closed || this.queue.size > 0 || this.flights.length > 0 || this.drained.length === 0) return;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  stats(): DispatcherStats {
    return {
      name: this.name,
      queued: { requests: this.queue.size, rows: this.queue.rows },
      inFlight: this.flights.length,
      completed: this.completed,
      batches: { total: this.batchSeq, byReason: { ...this.byReason } },
      batchSize: this.batchSize.snapshot(),
      queueWaitMs: this.queueWait.snapshot(),
      runMs: this.runTime.snapshot(),
      shed: { ...this.shedCounts },
      failed: { ...this.failedCounts },
      cost: this.cost.fit(),
    };
  }
}
