// The dispatcher's contracts: what it dispatches to (a BatchTarget, in practice a runner's replicas),
// how it is configured, and what it reports about each batch and each request it turns away.
import type { TiffinError } from '../errors/index.ts';
import type { Clock } from './clock.ts';
import type { CostFit } from './cost-model.ts';
import type { HistogramSnapshot } from './stats.ts';

export interface ExecuteOptions {
  /** The outputs the batch's requests asked for (requests are only batched with ones asking the same). */
  outputs?: string[];
}

export interface ExecuteResult<O> {
  output: O;
  /** Time the model itself took, measured where it ran; feeds the cost model. */
  runMs: number;
}

/** Where batches run: a pool of replicas, each running one batch at a time. */
export interface BatchTarget<I = unknown, O = unknown> {
  /** Replicas running nothing right now. */
  idleReplicas(): number;
  /** Replicas able to take work (busy or idle); 0 while every replica is down or restarting. */
  liveReplicas(): number;
  /** Runs one batch on the replica that will be free first. */
  execute(input: I, options: ExecuteOptions): Promise<ExecuteResult<O>>;
  /** Calls `listener` whenever a replica frees up or replicas come and go; returns an unsubscribe function. */
  onCapacity(listener: () => void): () => void;
  /**
   * Offered a batch of one request that is alone (nothing queued behind it, nothing running, none arrived while the
   * previous batch ran) with its predicted run time: runs it on the calling thread and resolves with the result, or
   * answers undefined to have it executed on a replica.
   */
  runInline?(input: I, options: ExecuteOptions, predictedMs: number | undefined): Promise<ExecuteResult<O>> | undefined;
}

export interface BatchingOptions {
  /** Most rows in one batch (1 turns batching off). Default 32. */
  maxBatchSize?: number;
  /**
   * How long the oldest waiting request may be held to let a batch grow, including the batch's
   * predicted run time, while every replica is busy. An idle replica never waits. Default 10.
   */
  maxLatencyMs?: number;
  /**
   * Most batches one request may be split into: a request of more rows than maxBatchSize × maxSplits is refused
   * (413) rather than queued as hundreds of batches that would hold the replicas for seconds. Default 64.
   */
  maxSplits?: number;
  /** Most requests waiting; past it a request is turned away (503, Retry-After). Default 1024. */
  maxQueueSize?: number;
  /** Batches running or sent at once; default: live replicas + 1, so a replica finds its next batch waiting. */
  maxInFlight?: number;
  /** Timeout of requests that name none; default none. */
  defaultTimeoutMs?: number;
  /** Recent batches the cost model fits. Default 64. */
  costWindow?: number;
}

export interface DispatcherOptions extends BatchingOptions {
  /** Names the dispatcher in errors and events, e.g. `iris:3.run`. */
  name: string;
  clock?: Clock;
}

/**
 * Why a batch left: `idle` a replica was free, `full` it reached maxBatchSize, `deadline` waiting
 * longer would make its oldest request miss maxLatencyMs, `inline` it was alone and ran on the calling
 * thread (src/runner/inline-runs.ts).
 */
export type DispatchReason = 'idle' | 'full' | 'deadline' | 'inline';

/**
 * Why a request was turned away before any of it ran: `queue_full` the queue was at maxQueueSize
 * (or a higher priority request took its place), `deadline` it was predicted to miss its timeout,
 * `timeout`/`aborted` its timeout or signal fired while it waited, `shutdown` the runner closed,
 * `unavailable` the runner lost every replica.
 */
export type ShedReason = 'queue_full' | 'deadline' | 'timeout' | 'aborted' | 'shutdown' | 'unavailable';

export interface BatchInfo {
  dispatcher: string;
  /** Sequence number of the batch in this dispatcher. */
  batch: number;
  reason: DispatchReason;
  rows: number;
  /** Requests (or parts of split requests) in the batch. */
  requests: number;
  /** For each request in the batch, how long it waited in the queue. */
  queueWaitMs: number[];
  /** The model's own run time, measured in the replica (0 when the batch failed). */
  runMs: number;
  /** From dispatch to result, with the hop to the replica and back. */
  totalMs: number;
  /** Set when the batch failed; every request in it got this error. */
  error?: TiffinError;
  /** For each request in the batch (aligned with queueWaitMs), the trace context its caller passed in
   * CallOptions.traceContext, undefined for callers that passed none; absent when no caller passed one. */
  traceContexts?: readonly unknown[];
}

export interface ShedInfo {
  dispatcher: string;
  reason: ShedReason;
  priority: number;
  rows: number;
  /** How long it waited before it was turned away (0 when refused on arrival). */
  waitedMs: number;
  /** Seconds the client was told to wait before retrying, when it was told. */
  retryAfter?: number;
}

export interface FailedInfo {
  dispatcher: string;
  /** The error code, lower-cased: `runner_failed`, `inference_failed`, `timeout`, `aborted`... */
  reason: string;
  priority: number;
  rows: number;
  error: TiffinError;
}

export interface DispatcherEvents {
  batch: [BatchInfo];
  shed: [ShedInfo];
  failed: [FailedInfo];
}

export interface DispatcherStats {
  name: string;
  queued: { requests: number; rows: number };
  inFlight: number;
  /** Requests answered successfully. */
  completed: number;
  batches: { total: number; byReason: Record<DispatchReason, number> };
  batchSize: HistogramSnapshot;
  queueWaitMs: HistogramSnapshot;
  runMs: HistogramSnapshot;
  shed: Record<ShedReason, number>;
  failed: Record<string, number>;
  /** The learned cost of a batch, once a batch ran. */
  cost: CostFit | undefined;
}
