// A runner: one stored model served by N replica worker threads, so that inference stays off the caller's
// event loop (a cheap model's lone calls excepted: inline-runs.ts). Every method has a BatchDispatcher in
// front of the replicas (batchable methods batch; the others run one request per call through the same
// bounded queue), and `await runner.run()` is the same call either way. A replica that dies is replaced while the others keep serving.
import { EventEmitter } from 'node:events';
import type { ResourceLimits } from 'node:worker_threads';
import { BatchDispatcher } from '../batching/dispatcher.ts';
import { rowCodec, singleCodec } from '../batching/codec.ts';
import type { BatchingOptions, BatchTarget, DispatcherStats, ExecuteOptions, ExecuteResult } from '../batching/types.ts';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { TensorSpec, Tensors } from '../runtime/tensor.ts';
import type { CallOptions, ModelHandle, SessionOptions } from '../runtime/types.ts';
import { ModelStore } from '../store/index.ts';
import type { Signature } from '../runtime/tensor.ts';
import type { ModelInfo, ReplicaInit } from './messages.ts';
import { Replica, type ReplicaState } from './replica.ts';
import { newGate } from './native-gate.ts';
import { runnerResources, type RunnerResources } from './resources.ts';
import { checkInputs, checkOutputs } from './validate.ts';
import { asModelOutputs, type ModelOutputs } from '../runtime/model-outputs.ts';
import { Models } from '../models/index.ts';
import { INLINE_FRAMEWORKS, InlineRuns, type InlineOptions } from './inline-runs.ts';

export interface MethodOptions extends BatchingOptions {
  /** Set false to run a batchable method one request per call. */
  batchable?: boolean;
}

export interface RestartPolicy {
  /** Replacements of one replica that fail in a row before the runner gives that replica up. Default 5. */
  maxFailures?: number;
  /** Wait before the second replacement in a row, doubled for each further one. Default 250 ms. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface RunnerOptions extends SessionOptions {
  /** The model to serve: `name`, `name:latest` or `name:version` (resolved once, at start). */
  tag: string;
  /** Model store root; default the default store. */
  storeRoot?: string;
  /** Worker threads, each with its own copy of the model. Default: see runnerResources. */
  replicas?: number;
  /** V8 heap limit per replica in MiB: a JS out-of-memory then ends that replica only. */
  maxHeapMb?: number;
  /** Batching and queue settings for every method... */
  batching?: BatchingOptions;
  /** ...and per method, over those. */
  methods?: Record<string, MethodOptions>;
  /**
   * Move input tensors' buffers to the worker instead of copying them (default true). The caller's
   * tensors are then empty after the call: pass copies of tensors you still need.
   */
  transferInputs?: boolean;
  restart?: RestartPolicy;
  /**
   * Nice value of the replica threads on Linux (0-19; default 5): lower priority than the event loop,
   * so that saturated replicas never starve HTTP and batching of CPU. 0 leaves them at normal priority.
   */
  niceness?: number;
  /**
   * While calls are out to replicas, the event loop keeps polling for their results this long before it
   * sleeps (src/runner/busy-poll.ts), so an answer does not have to wake it. Default 2 ms with two or more
   * cores (after any cgroup CPU quota), else 0: off. It spends idle CPU for latency; set 0 where CPU time is billed.
   */
  busyPollMs?: number;
  /** Give up starting when the replicas have not loaded the model by then. Default 120 s. */
  startTimeoutMs?: number;
  /**
   * Lone calls of a cheap model (ONNX or a native tree model, on CPU, predicted at most 0.5 ms) run on the calling
   * thread when no other request overlaps them, saving the hop to a replica (src/runner/inline-runs.ts). On by
   * default; `false` (or maxRunMs 0) sends every call to the replicas. Off when maxHeapMb is set, since a
   * replica's heap limit cannot hold the calling thread.
   */
  inline?: InlineOptions | false;
}

export type RunnerStatus = 'created' | 'starting' | 'ready' | 'degraded' | 'unhealthy' | 'closing' | 'closed';

export interface ReplicaStats {
  index: number;
  state: ReplicaState | 'restarting' | 'given-up';
  inFlight: number;
  served: number;
  /** Replacements started for this replica since the runner started. */
  restarts: number;
  threadId: number | undefined;
  loadMs: number | undefined;
  /** Why the last replica in this position died, if one did. */
  lastExitReason: string | undefined;
}

export interface RunnerStats {
  tag: string;
  status: RunnerStatus;
  /** Replicas and threads chosen at start (undefined before). */
  resources: Omit<RunnerResources, 'loadOptions'> | undefined;
  replicas: ReplicaStats[];
  restarts: number;
  methods: Record<string, DispatcherStats>;
}

export interface ReplicaExitInfo {
  runner: string;
  replica: number;
  reason: string;
  /** Milliseconds until its replacement starts; undefined when the runner gave it up. */
  restartInMs: number | undefined;
}

export interface RunnerEvents {
  'replica-ready': [{ runner: string; replica: number; loadMs: number }];
  'replica-exit': [ReplicaExitInfo];
}

/** A replica position: the replica now in it, and how its recent replacements went. */
interface Slot {
  index: number;
  replica: Replica | undefined;
  /** Deaths in a row without a replica that lived long enough to count as healthy. */
  failures: number;
  restarts: number;
  restartTimer: NodeJS.Timeout | undefined;
  givenUp: boolean;
  /** Why its last replica died. */
  lastReason: string | undefined;
  /** When its replica last was sent a call or finished one (a sequence number; 0: never). */
  lastActive: number;
}

/** Whether slot `a` should take the next batch before slot `b`, as RunnerPool.execute chooses. */
function picksBefore(a: Slot, b: Slot): boolean {
  const busyA = a.replica?.inFlight ?? Infinity;
  const busyB = b.replica?.inFlight ?? Infinity;
  if (busyA !== busyB) return busyA < busyB;
  return busyA === 0 ? a.lastActive > b.lastActive : a.lastActive < b.lastActive;
}

/** A replica that lived this long after loading is healthy: its death starts a fresh failure count. */
const HEALTHY_AFTER_MS = 10_000;
const DEFAULT_START_TIMEOUT_MS = 120_000;
const DEFAULT_CLOSE_TIMEOUT_MS = 30_000;
const DEFAULT_NICENESS = 5;

export class RunnerPool extends EventEmitter<RunnerEvents> implements ModelHandle {
  private state: RunnerStatus = 'created';
  private info: ModelInfo | undefined;
  private resources: RunnerResources | undefined;
  private init: Omit<ReplicaInit, 'replica' | 'gate'> | undefined;
  private slots: Slot[] = [];
  private readonly dispatcherMap = new Map<string, BatchDispatcher>();
  private readonly capacityListeners: (() => void)[] = [];
  private capacityTurn = 0;
  private activity = 0;
  private starting: Promise<this> | undefined;
  private inline: InlineRuns | undefined;

  constructor(readonly options: RunnerOptions) {
    super();
  }

  /** Creates a runner and resolves once every replica has loaded the model. */
  static async start(options: RunnerOptions): Promise<RunnerPool> {
    return new RunnerPool(options).start();
  }

  get tag(): string {
    return this.model().tag;
  }

  get framework(): string {
    return this.model().framework;
  }

  get signatures(): Record<string, Signature> {
    return this.model().signatures;
  }

  get inputs(): TensorSpec[] {
    return this.model().inputs;
  }

  get outputs(): TensorSpec[] {
    return this.model().outputs;
  }

  get status(): RunnerStatus {
    return this.state;
  }

  /** The replicas running now, by position (a replaced replica's successor takes its place). */
  get replicas(): readonly (Replica | undefined)[] {
    return this.slots.map((s) => s.replica);
  }

  /** The dispatcher of each method: subscribe to its 'batch', 'shed' and 'failed' events for metrics. */
  get dispatchers(): ReadonlyMap<string, BatchDispatcher> {
    return this.dispatcherMap;
  }

  private model(): ModelInfo {
    if (!this.info) throw new TiffinError('NOT_READY', `the runner for ${this.options.tag} has not started; await runner.start() first`);
    return this.info;
  }

  /** Loads the model in every replica. Rejects with MODEL_LOAD_FAILED (and stops them all) if any fails. */
  start(): Promise<this> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  private async doStart(): Promise<this> {
    this.state = 'starting';
    const store = new ModelStore(this.options.storeRoot);
    const { manifest } = await store.get(this.options.tag).catch((err: unknown) => {
      this.state = 'closed';
      throw err;
    });
    const tag = `${manifest.name}:${manifest.version}`;
    for (const method of Object.keys(this.options.methods ?? {})) {
      if (!(method in manifest.signatures)) {
        this.state = 'closed';
        throw new TiffinError('CONFIG_INVALID', `runner options name method "${method}", which ${tag} does not have (it has ${Object.keys(manifest.signatures).join(', ')})`);
      }
    }
    this.resources = runnerResources(manifest.framework, this.options);
    this.init = { storeRoot: store.root, tag, loadOptions: this.resources.loadOptions, niceness: this.options.niceness ?? DEFAULT_NICENESS };
    this.slots = Array.from({ length: this.resources.replicas }, (_, index) => ({
      index, replica: undefined, failures: 0, restarts: 0, restartTimer: undefined, givenUp: false, lastReason: undefined, lastActive: 0,
    }));
    const replicas = this.slots.map((slot) => this.spawn(slot));
    let timer: NodeJS.Timeout | undefined;
    const timeoutMs = this.options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    try {
      const infos = await Promise.race([
        Promise.all(replicas.map((r) => r.ready)),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the replicas did not load it within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      this.info = infos[0]!;
    } catch (err) {
      this.state = 'closed';
      await Promise.all(this.slots.map((s) => s.replica?.stop()));
      throw new TiffinError('MODEL_LOAD_FAILED', `could not start a runner for ${tag}: ${messageOf(err)}`, {
        cause: err, details: err instanceof TiffinError ? { code: err.code, ...(err.details === undefined ? {} : { details: err.details }) } : undefined,
      });
    } finally {
      clearTimeout(timer);
    }
    this.inline = this.inlineRuns(store, tag);
    for (const [method, signature] of Object.entries(this.info.signatures)) this.addDispatcher(method, signature);
    this.state = 'ready';
    this.notifyCapacity();
    return this;
  }

  /** Inline runs when this model and these options allow them (see RunnerOptions.inline). */
  private inlineRuns(store: ModelStore, tag: string): InlineRuns | undefined {
    const options = this.options.inline ?? {};
    if (options === false || options.maxRunMs === 0 || this.options.maxHeapMb) return undefined;
    if (!INLINE_FRAMEWORKS.has(this.info!.framework) || this.resources!.gpu) return undefined;
    // One thread: an intra-op pool thread spins after each run and would take the core a replica needs.
    const loadOptions = { ...this.resources!.loadOptions, intraOpThreads: 1, interOpThreads: 1 };
    return new InlineRuns(() => new Models(store).load(tag, loadOptions), options, tag);
  }

  private addDispatcher(method: string, signature: Signature): void {
    const own = this.options.methods?.[method] ?? {};
    const batchable = signature.batchable && own.batchable !== false;
    const settings: BatchingOptions = { ...this.options.batching, ...own };
    const target: BatchTarget = {
      idleReplicas: () => this.idleReplicas(),
      liveReplicas: () => this.liveReplicas(),
      execute: (input, options) => this.execute(method, input, options),
      onCapacity: (listener) => this.onCapacity(listener),
    };
    const inline = this.inline;
    if (inline) target.runInline = (input, options, predictedMs) => inline.tryRun(method, input, options.outputs, predictedMs);
    const dispatcher = new BatchDispatcher(target, batchable ? rowCodec(signature.batchDim) : singleCodec, {
      ...settings,
      ...(batchable ? {} : { maxBatchSize: 1 }),
      name: `${this.info!.tag}.${method}`,
    });
    this.dispatcherMap.set(method, dispatcher);
  }

  run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    return (this.call('run', feeds, options) as Promise<Tensors>).then(asModelOutputs);
  }

  async call(method: string, input: unknown, options: CallOptions = {}): Promise<unknown> {
    if (this.state === 'closing' || this.state === 'closed') {
      throw new TiffinError('SHUTTING_DOWN', `the runner for ${this.options.tag} is ${this.state}`);
    }
    const info = this.model();
    const dispatcher = this.dispatcherMap.get(method);
    const signature = info.signatures[method];
    if (!dispatcher || !signature) {
      throw new TiffinError('NOT_FOUND', `model ${info.tag} has no method "${method}"; it has ${Object.keys(info.signatures).join(', ')}`);
    }
    checkInputs(signature, input, `${info.tag}.${method}`);
    checkOutputs(signature.outputs, options.outputs, `${info.tag}.${method}`);
    return dispatcher.submit(input, options);
  }

  private idleReplicas(): number {
    let n = 0;
    for (const s of this.slots) if (s.replica?.state === 'ready' && s.replica.inFlight === 0) n++;
    return n;
  }

  private liveReplicas(): number {
    let n = 0;
    for (const s of this.slots) if (s.replica?.state === 'ready') n++;
    return n;
  }

  private onCapacity(listener: () => void): () => void {
    this.capacityListeners.push(listener);
    return () => {
      const i = this.capacityListeners.indexOf(listener);
      if (i >= 0) this.capacityListeners.splice(i, 1);
    };
  }

  /** Tells every dispatcher that capacity changed, starting with a different one each time (fairness). */
  private notifyCapacity(): void {
    const n = this.capacityListeners.length;
    if (n === 0) return;
    const first = this.capacityTurn++ % n;
    for (let i = 0; i < n; i++) this.capacityListeners[(first + i) % n]?.();
  }

  /**
   * Sends one batch to the replica that will be free first: the least busy. Among idle ones, the one
   * active last: its thread is still awake and its caches warm, while waking a thread that slept costs
   * a call about as much as the run itself at low traffic (bench/RESULTS.md). Among busy ones, the
   * one active longest ago, whose batch is likely to end first.
   */
  private execute(method: string, input: unknown, options: ExecuteOptions): Promise<ExecuteResult<unknown>> {
    let best: Slot | undefined;
    for (const s of this.slots) if (s.replica?.state === 'ready' && (!best || picksBefore(s, best))) best = s;
    const replica = best?.replica;
    if (!best || !replica) return Promise.reject(new TiffinError('RUNNER_FAILED', `no replica of ${this.info?.tag ?? this.options.tag} is running`));
    best.lastActive = ++this.activity;
    return replica.call(method, input, options.outputs);
  }

  private spawn(slot: Slot): Replica {
    const init = this.init!;
    const maxHeapMb = this.options.maxHeapMb;
    const resourceLimits: ResourceLimits | undefined = maxHeapMb ? { maxOldGenerationSizeMb: maxHeapMb } : undefined;
    const replica = new Replica({
      label: `replica ${slot.index} of ${init.tag}`,
      init: { ...init, replica: slot.index, gate: newGate() },
      ...(resourceLimits ? { resourceLimits } : {}),
      transferInputs: this.options.transferInputs ?? true,
      busyPollMs: this.resources!.busyPollMs,
      hooks: {
        onSettled: (r) => {
          if (slot.replica === r) slot.lastActive = ++this.activity;
          this.notifyCapacity();
        },
        onDeath: (r, reason) => this.onReplicaDeath(slot, r, reason),
      },
    });
    slot.replica = replica;
    slot.lastActive = 0;
    replica.ready.then(() => {
      if (slot.replica !== replica || this.state === 'closing' || this.state === 'closed') return;
      this.emit('replica-ready', { runner: init.tag, replica: slot.index, loadMs: replica.loadMs ?? 0 });
      this.updateHealth();
      this.notifyCapacity();
    }, () => {});
    return replica;
  }

  /** A replica died; its calls were already rejected. */
  private onReplicaDeath(slot: Slot, replica: Replica, reason: string): void {
    if (slot.replica !== replica) return;
    slot.replica = undefined;
    this.replaceLater(slot, replica.readyAt, reason);
  }

  /**
   * Starts a replacement in the slot: at once the first time, then with doubling back-off while
   * replacements keep dying young; gives the slot up after maxFailures in a row.
   */
  private replaceLater(slot: Slot, readyAt: number | undefined, reason: string): void {
    if (this.state === 'starting' || this.state === 'closing' || this.state === 'closed' || this.state === 'created') return;
    slot.lastReason = reason;
    const policy = this.options.restart ?? {};
    const livedLong = readyAt !== undefined && Date.now() - readyAt >= HEALTHY_AFTER_MS;
    slot.failures = livedLong ? 1 : slot.failures + 1;
    let restartInMs: number | undefined;
    if (slot.failures > (policy.maxFailures ?? 5)) {
      slot.givenUp = true;
    } else {
      const backoff = policy.backoffMs ?? 250;
      restartInMs = slot.failures <= 1 ? 0 : Math.min(policy.maxBackoffMs ?? 10_000, backoff * 2 ** (slot.failures - 2));
      slot.restartTimer = setTimeout(() => {
        slot.restartTimer = undefined;
        if (this.state === 'closing' || this.state === 'closed') return;
        slot.restarts++;
        try {
          this.spawn(slot);
        } catch (err) {
          // The thread could not even be created (out of memory, too many threads): a failure like any other.
          this.replaceLater(slot, undefined, `its replacement could not start: ${messageOf(err)}`);
        }
      }, restartInMs);
    }
    this.emit('replica-exit', { runner: this.info?.tag ?? this.options.tag, replica: slot.index, reason, restartInMs });
    this.updateHealth();
    this.notifyCapacity();
  }

  /** Ready, degraded (some replicas down) or unhealthy (none left and none coming). */
  private updateHealth(): void {
    if (this.state === 'starting' || this.state === 'closing' || this.state === 'closed' || this.state === 'created') return;
    const live = this.liveReplicas();
    const allGivenUp = this.slots.every((s) => s.givenUp);
    const next: RunnerStatus = live === this.slots.length ? 'ready' : allGivenUp ? 'unhealthy' : 'degraded';
    if (next === this.state) return;
    this.state = next;
    const gone = next === 'unhealthy'
      ? new TiffinError('RUNNER_FAILED', `every replica of ${this.info?.tag} kept failing; the runner gave up (last: ${this.lastReason()})`, { status: 503 })
      : undefined;
    for (const d of this.dispatcherMap.values()) d.setUnavailable(gone);
  }

  private lastReason(): string {
    return this.slots.map((s) => s.lastReason).find((r) => r) ?? 'see the replica-exit events';
  }

  /** Health for readiness probes: ready or degraded runners serve requests. */
  health(): { status: RunnerStatus; replicas: { live: number; total: number; restarts: number } } {
    return { status: this.state, replicas: { live: this.liveReplicas(), total: this.slots.length, restarts: this.slots.reduce((n, s) => n + s.restarts, 0) } };
  }

  stats(): RunnerStats {
    const r = this.resources;
    const methods: Record<string, DispatcherStats> = {};
    for (const [m, d] of this.dispatcherMap) methods[m] = d.stats();
    return {
      tag: this.info?.tag ?? this.options.tag,
      status: this.state,
      resources: r && { replicas: r.replicas, intraOpThreads: r.intraOpThreads, interOpThreads: r.interOpThreads, gpu: r.gpu, busyPollMs: r.busyPollMs },
      replicas: this.slots.map((s) => ({
        index: s.index,
        state: s.replica?.state ?? (s.givenUp ? 'given-up' : 'restarting'),
        inFlight: s.replica?.inFlight ?? 0,
        served: s.replica?.served ?? 0,
        restarts: s.restarts,
        threadId: s.replica?.worker.threadId,
        loadMs: s.replica?.loadMs,
        lastExitReason: s.lastReason,
      })),
      restarts: this.slots.reduce((n, s) => n + s.restarts, 0),
      methods,
    };
  }

  /**
   * Stops taking requests, lets accepted ones finish (up to `timeoutMs`, default 30 s, after which the
   * rest get SHUTTING_DOWN), then releases the model and ends every replica.
   */
  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.state === 'closed') return;
    if (this.state === 'starting') await this.starting?.catch(() => {});
    this.state = 'closing';
    const dispatchers = [...this.dispatcherMap.values()];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(dispatchers.map((d) => d.close())),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          const err = new TiffinError('SHUTTING_DOWN', `the runner for ${this.info?.tag ?? this.options.tag} closed before the request ran`);
          for (const d of dispatchers) d.rejectQueued(err, 'shutdown');
          resolve();
        }, options.timeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    for (const s of this.slots) clearTimeout(s.restartTimer);
    for (const d of dispatchers) d.dispose();
    await Promise.all([...this.slots.map((s) => s.replica?.stop()), this.inline?.dispose()]);
    this.state = 'closed';
  }
}
