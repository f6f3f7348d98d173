// One replica of a runner: a worker thread holding its own copy of the model, and the calls sent to
// it that have not come back. When the thread dies, every call it held is rejected at once with
// RUNNER_FAILED (never left hanging); the pool decides whether to start a replacement.
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { TiffinError, messageOf } from '../errors/index.ts';
import { deserializeError, type FromReplica, type ModelInfo, type ReplicaInit, type ToReplica } from './messages.ts';
import { BusyPoll } from './busy-poll.ts';
import { GateKeeper } from './native-gate.ts';
import { transferablesOf } from './transfer.ts';

export type ReplicaState = 'starting' | 'ready' | 'stopping' | 'stopped' | 'dead';

export interface ReplicaCallResult {
  output: unknown;
  runMs: number;
}

export interface ReplicaHooks {
  /** The replica finished a call (it may now be idle). */
  onSettled(replica: Replica): void;
  /** The replica's thread died unexpectedly; its calls were already rejected. */
  onDeath(replica: Replica, reason: string): void;
}

export interface ReplicaOptions {
  /** `replica 0 of iris:3`: how errors and events name it. */
  label: string;
  /** What the worker is started with; `gate` is a buffer from newGate(), one per replica. */
  init: ReplicaInit;
  resourceLimits?: ResourceLimits;
  /** Whether inputs' buffers are moved to the worker (true) or copied. */
  transferInputs: boolean;
  /** How long this thread polls for a call's result before it sleeps (busy-poll.ts); 0: never. */
  busyPollMs?: number;
  hooks: ReplicaHooks;
}

interface PendingCall {
  id: number;
  resolve(result: ReplicaCallResult): void;
  reject(err: TiffinError): void;
}

/** Graceful stop waits this long for the worker to release the model and end on its own. */
const STOP_GRACE_MS = 5000;

const ENTRY = new URL('./replica-worker-entry.js', import.meta.url);

export class Replica {
  readonly index: number;
  readonly label: string;
  readonly worker: Worker;
  /** Resolves with the model's description once it is loaded; rejects if the worker fails first. */
  readonly ready: Promise<ModelInfo>;
  state: ReplicaState = 'starting';
  /** Calls answered (successfully or with a model error). */
  served = 0;
  readonly startedAt = Date.now();
  readyAt: number | undefined;
  loadMs: number | undefined;
  /** Why it died, once it did. */
  deathReason: string | undefined;

  private nextId = 1;
  /**
   * Calls sent and not answered, in sending order (a few at most). An array, not a Map: a Map that takes and
   * drops an entry per batch rehashes often, and V8 links each discarded table to its successor, so tables
   * promoted to the old generation keep later batches, and through them whole requests, alive until a full
   * collection (measured: bench/RESULTS.md).
   */
  private readonly pending: PendingCall[] = [];
  private readonly hooks: ReplicaHooks;
  private readonly transferInputs: boolean;
  private settleReady!: { resolve(info: ModelInfo): void; reject(err: TiffinError): void };
  private exited: Promise<void>;
  private readonly gate: GateKeeper;
  private readonly poll = new BusyPoll(() => this.pending.length > 0);
  private readonly busyPollMs: number;

  constructor(options: ReplicaOptions) {
    this.index = options.init.replica;
    this.label = options.label;
    this.hooks = options.hooks;
    this.transferInputs = options.transferInputs;
    this.busyPollMs = options.busyPollMs ?? 0;
    this.ready = new Promise<ModelInfo>((resolve, reject) => {
      this.settleReady = { resolve, reject };
    });
    this.ready.catch(() => {}); // a replica that dies while loading is reported through onDeath too
    this.gate = new GateKeeper(options.init.gate);
    this.worker = new Worker(ENTRY, {
      workerData: options.init,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (msg: FromReplica) => this.onMessage(msg));
    this.worker.on('error', (err) => {
      const oom = (err as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.die(oom ? `it ran out of memory (${messageOf(err)})` : `it threw an uncaught error: ${messageOf(err)}`);
    });
    this.worker.on('messageerror', (err) => this.die(`a message from it could not be read: ${messageOf(err)}`));
    this.worker.on('exit', (code) => {
      if (this.state === 'stopping') {
        this.state = 'stopped';
        this.rejectAll(new TiffinError('SHUTTING_DOWN', `${this.label} stopped before the request was completed`));
      } else {
        this.die(`its thread exited with code ${code}`);
      }
    });
  }

  /** Calls sent and not yet answered. */
  get inFlight(): number {
    return this.pending.length;
  }

  call(method: string, input: unknown, outputs?: string[]): Promise<ReplicaCallResult> {
    if (this.state !== 'ready') {
      return Promise.reject(new TiffinError('RUNNER_FAILED', `${this.label} is ${this.state}, not ready to run requests`));
    }
    const id = this.nextId++;
    const msg: ToReplica = outputs ? { type: 'call', id, method, input, outputs } : { type: 'call', id, method, input };
    return new Promise<ReplicaCallResult>((resolve, reject) => {
      this.pending.push({ id, resolve, reject });
      try {
        this.worker.postMessage(msg, this.transferInputs ? transferablesOf(input) : []);
        this.poll.extend(this.busyPollMs);
      } catch (err) {
        this.pending.pop();
        reject(new TiffinError('BAD_REQUEST', `the input cannot be sent to ${this.label}: ${messageOf(err)}`, { cause: err }));
      }
    });
  }

  /** Releases the model and ends the thread (draining in-flight calls first is the pool's job). */
  async stop(): Promise<void> {
    if (this.state === 'dead' || this.state === 'stopped') return;
    this.state = 'stopping';
    this.worker.postMessage({ type: 'stop' } satisfies ToReplica);
    // Past the grace it is killed; a thread still inside a model call then gets one more grace to return, and is
    // terminated regardless after that, at the risk native-gate.ts describes: a hung call must not hang shutdown.
    let forced: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      this.kill();
      forced = setTimeout(() => void this.worker.terminate(), STOP_GRACE_MS);
    }, STOP_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
    clearTimeout(forced);
  }

  private onMessage(msg: FromReplica): void {
    switch (msg.type) {
      case 'ready':
        if (this.state !== 'starting') return;
        this.state = 'ready';
        this.readyAt = Date.now();
        this.loadMs = msg.loadMs;
        this.settleReady.resolve(msg.model);
        return;
      case 'load-failed':
        this.settleReady.reject(deserializeError(msg.error));
        return;
      case 'result':
      case 'error': {
        const i = this.pending.findIndex((c) => c.id === msg.id);
        if (i < 0) return;
        const call = this.pending[i]!;
        this.pending.splice(i, 1);
        this.served++;
        if (msg.type === 'result') call.resolve({ output: msg.output, runMs: msg.runMs });
        else call.reject(deserializeError(msg.error));
        this.hooks.onSettled(this);
        return;
      }
    }
  }

  private die(reason: string): void {
    if (this.state === 'dead' || this.state === 'stopped') return;
    this.state = 'dead';
    this.deathReason = reason;
    this.settleReady.reject(new TiffinError('MODEL_LOAD_FAILED', `${this.label} died while loading the model: ${reason}`));
    this.rejectAll(new TiffinError('RUNNER_FAILED', `${this.label} died: ${reason}; the request was not completed`, {
      details: { replica: this.index, reason },
    }));
    this.kill();
    this.hooks.onDeath(this, reason);
  }

  /** Ends the thread now, or, if it is inside the model's native code, as soon as that returns (native-gate.ts).
   * The calls it held fail through the thread's exit. */
  kill(): void {
    if (this.gate.requestKill()) void this.worker.terminate();
  }

  private rejectAll(error: TiffinError): void {
    const calls = this.pending.splice(0);
    for (const c of calls) c.reject(error);
  }
}
