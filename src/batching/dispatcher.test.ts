import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTiffinError, TiffinError } from '../errors/index.ts';
import { tensor, type Tensors } from '../runtime/tensor.ts';
import { rowCodec, singleCodec, type BatchCodec } from './codec.ts';
import { BatchDispatcher } from './dispatcher.ts';
import { FakeClock, settle } from './fake-clock.ts';
import type { BatchInfo, BatchTarget, DispatcherOptions, ExecuteResult, ShedInfo } from './types.ts';

type Items = number[];

interface RunRecord {
  input: Items;
  startedAt: number;
  replica: number;
}

/**
 * Replicas simulated on a fake clock: each runs one batch at a time, in the order sent to it, for
 * cost(rows) ms. `manual` leaves completion to the test (`finish`), to control the order of results.
 */
class FakeReplicas implements BatchTarget<Items, Items> {
  readonly runs: RunRecord[] = [];
  private readonly freeAt: number[];
  private readonly running: number[];
  private readonly listeners = new Set<() => void>();
  private readonly manualRuns: { input: Items; resolve: (r: ExecuteResult<Items>) => void; reject: (e: unknown) => void; replica: number }[] = [];

  constructor(
    private readonly clock: FakeClock,
    replicas: number,
    private readonly cost: (rows: number) => number = (n) => 1 + 0.1 * n,
    private readonly model: (input: Items) => Items = (xs) => xs.map((x) => x * 10),
    private readonly manual = false,
  ) {
    this.freeAt = new Array<number>(replicas).fill(0);
    this.running = new Array<number>(replicas).fill(0);
  }

  idleReplicas(): number {
    return this.running.filter((n) => n === 0).length;
  }

  liveReplicas(): number {
    return this.running.length;
  }

  onCapacity(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  execute(input: Items): Promise<ExecuteResult<Items>> {
    // The replica that will be free first, as the runner picks it.
    let r = 0;
    for (let i = 1; i < this.freeAt.length; i++) if (this.running[i]! < this.running[r]! || (this.running[i] === this.running[r] && this.freeAt[i]! < this.freeAt[r]!)) r = i;
    this.running[r]!++;
    const startedAt = Math.max(this.clock.now(), this.freeAt[r]!);
    const ms = this.cost(input.length);
    this.freeAt[r] = startedAt + ms;
    this.runs.push({ input: [...input], startedAt, replica: r });
    return new Promise((resolve, reject) => {
      if (this.manual) {
        this.manualRuns.push({ input, resolve, reject, replica: r });
        return;
      }
      this.clock.setTimer(this.freeAt[r]! - this.clock.now(), () => this.done(r, () => resolve({ output: this.model(input), runMs: ms })));
    });
  }

  /** Completes the i-th batch sent (manual mode) with the model's output or `output`. */
  finish(i: number, output?: Items | Error): void {
    const run = this.manualRuns[i]!;
    this.done(run.replica, () => (output instanceof Error ? run.reject(output) : run.resolve({ output: output ?? this.model(run.input), runMs: 1 })));
  }

  private done(replica: number, settleRun: () => void): void {
    this.running[replica]!--;
    settleRun();
    for (const l of this.listeners) l();
  }
}

function setup(options: Partial<DispatcherOptions> & { replicas?: number; cost?: (n: number) => number; model?: (xs: Items) => Items; manual?: boolean; codec?: BatchCodec } = {}) {
  const clock = new FakeClock();
  const target = new FakeReplicas(clock, options.replicas ?? 1, options.cost, options.model, options.manual);
  const dispatcher = new BatchDispatcher<Items, Items>(target, (options.codec ?? rowCodec(0)) as BatchCodec<Items, Items>, { name: 'm:1.run', clock, ...options });
  const batches: BatchInfo[] = [];
  const shed: ShedInfo[] = [];
  dispatcher.on('batch', (b) => batches.push(b));
  dispatcher.on('shed', (s) => shed.push(s));
  return { clock, target, dispatcher, batches, shed };
}

/** Settles a promise into a value or its error, so tests can look at either without unhandled rejections. */
function outcome<T>(p: Promise<T>): { value?: T; error?: TiffinError; done: boolean } {
  const o: { value?: T; error?: TiffinError; done: boolean } = { done: false };
  p.then((v) => { o.value = v; o.done = true; }, (e: TiffinError) => { o.error = e; o.done = true; });
  return o;
}

/** A fake clock whose event-loop turn ends when the test says so (the system clock defers with setImmediate). */
class TurnClock extends FakeClock {
  private deferred: (() => void)[] = [];

  defer(fn: () => void): void {
    this.deferred.push(fn);
  }

  endTurn(): void {
    for (const fn of this.deferred.splice(0)) fn();
  }
}

describe('BatchDispatcher decisions', () => {
  it('dispatches at once when a replica is idle: a lone request never waits for a window', async () => {
    const { clock, target, dispatcher, batches } = setup({ maxLatencyMs: 50, cost: () => 2 });
    for (let i = 0; i < 5; i++) {
      const started = clock.now();
      const r = outcome(dispatcher.submit([i]));
      await settle();
      assert.equal(target.runs.at(-1)!.startedAt, started, 'sent the moment it arrived');
      await clock.advance(2);
      assert.deepEqual(r.value, [i * 10]);
    }
    assert.deepEqual(batches.map((b) => [b.reason, b.rows, b.queueWaitMs[0]]), Array(5).fill(['idle', 1, 0]));
  });

  it('decides once the event-loop turn has read every request: requests that arrive together leave as one batch', async () => {
    const clock = new TurnClock();
    const target = new FakeReplicas(clock, 2, () => 2);
    const dispatcher = new BatchDispatcher<Items, Items>(target, rowCodec(0) as BatchCodec<Items, Items>, { name: 'm:1.run', clock });
    const together = Array.from({ length: 5 }, (_, i) => outcome(dispatcher.submit([i])));
    assert.equal(target.runs.length, 0, 'nothing sent before the turn has read every request');
    clock.endTurn();
    assert.deepEqual(target.runs.map((r) => r.input), [[0, 1, 2, 3, 4]], 'one batch, not the first request alone');
    await clock.advance(2);
    assert.ok(together.every((r, i) => r.value?.[0] === i * 10));
    const lone = outcome(dispatcher.submit([7]));
    clock.endTurn();
    assert.equal(target.runs.at(-1)!.startedAt, clock.now(), 'a lone request leaves in its own turn');
    await clock.advance(2);
    assert.deepEqual(lone.value, [70]);
  });

  it('shares rows among idle replicas when one batch of them would miss maxLatencyMs', async () => {
    const clock = new TurnClock();
    const target = new FakeReplicas(clock, 2, (n) => 4 * n);
    const dispatcher = new BatchDispatcher<Items, Items>(target, rowCodec(0) as BatchCodec<Items, Items>, { name: 'm:1.run', clock, maxLatencyMs: 10 });
    for (const n of [1, 2, 3]) {
      void dispatcher.submit(Array.from({ length: n }, () => 1));
      clock.endTurn();
      await clock.advance(20);
    }
    // Four rows cost 16 ms on one replica, past the 10 ms budget: two batches of two, side by side (8 ms).
    const before = target.runs.length;
    const together = Array.from({ length: 4 }, (_, i) => outcome(dispatcher.submit([i])));
    clock.endTurn();
    const shared = target.runs.slice(before);
    assert.deepEqual(shared.map((r) => r.input), [[0, 1], [2, 3]]);
    assert.deepEqual(new Set(shared.map((r) => r.replica)).size, 2, 'on both replicas');
    assert.ok(shared.every((r) => r.startedAt === clock.now()), 'side by side');
    await clock.advance(8);
    assert.ok(together.every((r, i) => r.value?.[0] === i * 10));
  });

  it('lets the rows of a cheap model wait for the running batch rather than wake another replica', async () => {
    const { clock, target, dispatcher, batches } = setup({ replicas: 2, maxLatencyMs: 10, cost: (n) => 1 + n });
    for (const n of [1, 2, 3]) {
      void dispatcher.submit(Array.from({ length: n }, () => 1));
      await clock.advance(5);
    }
    void dispatcher.submit([10]); // runs from 15 to 17
    await clock.advance(0.5);
    const late = Array.from({ length: 3 }, (_, i) => outcome(dispatcher.submit([11 + i])));
    await clock.advance(1);
    assert.equal(target.runs.length, 4, 'the second replica stays asleep while the first finishes within the budget');
    await clock.advance(0.5);
    // The three that came meanwhile left together as soon as #10 was done.
    assert.deepEqual(target.runs.slice(4).map((r) => [r.input, r.startedAt]), [[[11, 12, 13], 17]]);
    await clock.advance(4);
    assert.deepEqual(batches.slice(3).map((b) => [b.reason, b.rows]), [['idle', 1], ['idle', 3]]);
    assert.ok(late.every((r, i) => r.value?.[0] === (11 + i) * 10));
  });

  it('wakes an idle replica at once when waiting for the running batch would miss maxLatencyMs', async () => {
    const { clock, target, dispatcher, batches } = setup({ replicas: 2, maxLatencyMs: 10, cost: (n) => 8 * n });
    for (const n of [1, 1, 2]) {
      void dispatcher.submit(Array.from({ length: n }, () => 1));
      await clock.advance(20);
    }
    const before = target.runs.length;
    const t0 = clock.now();
    void dispatcher.submit([1]);
    void dispatcher.submit([2]);
    await settle();
    const both = target.runs.slice(before);
    assert.deepEqual(both.map((r) => r.startedAt), [t0, t0], 'side by side');
    assert.notEqual(both[0]!.replica, both[1]!.replica);
    await clock.advance(20);
    assert.equal(batches.at(-1)!.reason, 'deadline');
  });

  it('fills batches under load, one queued behind the running one, and sends a full batch without waiting', async () => {
    const { clock, target, dispatcher, batches } = setup({ maxBatchSize: 8, cost: (n) => 1 + 0.1 * n });
    const results = Array.from({ length: 21 }, (_, i) => outcome(dispatcher.submit([i])));
    // #0 went alone to the idle replica; rows 1..8 then made a full batch, sent to wait behind it.
    assert.deepEqual(target.runs.map((r) => r.input.length), [1, 8]);
    await clock.advance(10);
    assert.deepEqual(batches.map((b) => [b.reason, b.rows]), [['idle', 1], ['full', 8], ['full', 8], ['idle', 4]]);
    assert.ok(results.every((r, i) => r.value?.[0] === i * 10), 'every request got its own row back');
    assert.equal(dispatcher.stats().inFlight, 0);
  });

  it('keeps every replica busy: several batches in flight at once', async () => {
    const { clock, target, dispatcher } = setup({ replicas: 3, maxBatchSize: 4, cost: () => 5 });
    const results = Array.from({ length: 24 }, (_, i) => outcome(dispatcher.submit([i])));
    await settle();
    // A lone request to an idle replica; then full batches, to the other idle replicas, then one queued behind.
    assert.deepEqual(target.runs.map((r) => [r.replica, r.input.length]), [[0, 1], [1, 4], [2, 4], [0, 4]]);
    await clock.advance(100);
    assert.ok(results.every((r) => r.done && r.value));
    assert.deepEqual(new Set(target.runs.map((r) => r.replica)), new Set([0, 1, 2]));
  });

  it('holds a partial batch while every replica is busy, until the oldest request would miss maxLatencyMs', async () => {
    const { clock, target, dispatcher, batches } = setup({ maxLatencyMs: 10, maxBatchSize: 32, cost: (n) => 4 + n });
    // Teach the cost model cost(n) = 4 + n: three batches of different sizes.
    for (const n of [1, 2, 3]) {
      void dispatcher.submit(Array.from({ length: n }, () => 1));
      await clock.advance(10);
    }
    assert.deepEqual(dispatcher.stats().cost && [dispatcher.stats().cost!.fixedMs, dispatcher.stats().cost!.perRowMs].map(Math.round), [4, 1]);
    // A 30-row batch keeps the only replica busy for 34 ms.
    void dispatcher.submit(Array.from({ length: 30 }, () => 1));
    const t0 = clock.now();
    void dispatcher.submit([7]);
    await clock.advance(4.9);
    assert.equal(target.runs.length, 4, 'still collecting');
    // Waiting beyond t0 + 10 - cost(1) = t0 + 5 would make the request late.
    await clock.advance(0.2);
    assert.equal(target.runs.length, 5);
    assert.equal(batches.length, 3);
    await clock.advance(100);
    const last = batches.at(-1)!;
    assert.equal(last.reason, 'deadline');
    assert.equal(Math.round(last.queueWaitMs[0]!), 5);
    assert.equal(target.runs[4]!.startedAt, t0 + 34, 'it waits in the replica for the running batch');
  });

  it('learns the cost of a batch from the batches that ran', async () => {
    const { clock, dispatcher } = setup({ replicas: 1, maxBatchSize: 64, cost: (n) => 2 + 0.25 * n });
    for (let i = 0; i < 40; i++) {
      for (let j = 0; j < 1 + (i % 7) * 5; j++) void dispatcher.submit([j]);
      await clock.advance(1);
    }
    await clock.advance(1000);
    const cost = dispatcher.stats().cost!;
    assert.ok(Math.abs(cost.fixedMs - 2) < 1e-6 && Math.abs(cost.perRowMs - 0.25) < 1e-6, JSON.stringify(cost));
  });
});

describe('BatchDispatcher splitting', () => {
  it('splits a request larger than the room left across batches and re-joins its parts in order', async () => {
    const { clock, target, dispatcher } = setup({ maxBatchSize: 4, manual: true, maxInFlight: 3 });
    const a = outcome(dispatcher.submit([1, 2, 3]));
    const b = outcome(dispatcher.submit([4, 5, 6, 7, 8, 9]));
    const c = outcome(dispatcher.submit([10, 11]));
    await settle();
    assert.deepEqual(target.runs.map((r) => r.input), [[1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]);
    // Results come back out of order: the dispatcher still re-joins b's parts in order.
    target.finish(2);
    target.finish(1);
    target.finish(0);
    await clock.advance(0);
    assert.deepEqual(a.value, [10, 20, 30]);
    assert.deepEqual(b.value, [40, 50, 60, 70, 80, 90]);
    assert.deepEqual(c.value, [100, 110]);
  });

  it('splits named tensors along the batch dimension', async () => {
    const clock = new FakeClock();
    const runs: number[] = [];
    const target: BatchTarget<Tensors, Tensors> = {
      idleReplicas: () => 1,
      liveReplicas: () => 1,
      onCapacity: () => () => {},
      async execute(input) {
        const x = input.x!;
        runs.push(x.shape[0]!);
        const data = Float32Array.from(x.data as Float32Array, (v) => v * 2);
        return { output: { y: tensor('float32', [x.shape[0]!, 2], data) }, runMs: 1 };
      },
    };
    const d = new BatchDispatcher<Tensors, Tensors>(target, rowCodec(0) as BatchCodec<Tensors, Tensors>, { name: 't', clock, maxBatchSize: 2 });
    const out = await d.submit({ x: tensor('float32', [5, 2], Float32Array.from({ length: 10 }, (_, i) => i)) });
    assert.deepEqual(runs, [2, 2, 1]);
    assert.deepEqual(out.y!.shape, [5, 2]);
    assert.deepEqual([...(out.y!.data as Float32Array)], Array.from({ length: 10 }, (_, i) => i * 2));
  });

  it('fails every request of a batch whose output has the wrong number of rows, naming the output', async () => {
    const { clock, dispatcher, batches } = setup({ model: (xs) => xs.slice(1), maxBatchSize: 8 });
    const first = outcome(dispatcher.submit([1]));
    const rest = [outcome(dispatcher.submit([2])), outcome(dispatcher.submit([3, 4]))];
    await clock.advance(50);
    for (const r of [first, ...rest]) assert.ok(isTiffinError(r.error, 'INFERENCE_FAILED'), String(r.error));
    assert.match(first.error!.message, /0 rows, but the batch had 1 rows/);
    assert.equal(batches.filter((b) => b.error).length, 2);
    assert.equal(dispatcher.stats().failed.inference_failed, 3);

    const clock2 = new FakeClock();
    const target: BatchTarget<Tensors, Tensors> = {
      idleReplicas: () => 1, liveReplicas: () => 1, onCapacity: () => () => {},
      execute: async () => ({ output: { probabilities: tensor('float32', [1, 1], new Float32Array(1)) }, runMs: 1 }),
    };
    const d = new BatchDispatcher<Tensors, Tensors>(target, rowCodec(0) as BatchCodec<Tensors, Tensors>, { name: 't', clock: clock2 });
    await assert.rejects(d.submit({ x: tensor('float32', [2], new Float32Array(2)) }), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /output "probabilities"/.test(e.message));
  });

  it('fails every request of a batch whose run failed, and keeps serving', async () => {
    const { clock, target, dispatcher } = setup({ manual: true });
    const a = outcome(dispatcher.submit([1]));
    const b = outcome(dispatcher.submit([2]));
    await settle();
    target.finish(0, new TiffinError('RUNNER_FAILED', 'replica 0 died'));
    await clock.advance(0);
    assert.ok(isTiffinError(a.error, 'RUNNER_FAILED'));
    target.finish(1);
    await clock.advance(0);
    assert.deepEqual(b.value, [20]);
  });
});

describe('BatchDispatcher queue policy', () => {
  it('bounds the queue: past maxQueueSize a request gets OVERLOADED (503) with Retry-After', async () => {
    const { dispatcher, shed } = setup({ maxQueueSize: 3, maxInFlight: 1, cost: () => 100 });
    const accepted = Array.from({ length: 4 }, (_, i) => outcome(dispatcher.submit([i])));
    await assert.rejects(dispatcher.submit([9]), (e) => isTiffinError(e, 'OVERLOADED') && e.status === 503 && e.retryAfter! >= 1);
    assert.deepEqual(shed.map((s) => s.reason), ['queue_full']);
    assert.ok(accepted.every((r) => !r.done));
  });

  it('lets a higher priority request take the place of the newest lower priority one when the queue is full', async () => {
    const { clock, dispatcher } = setup({ maxQueueSize: 2, maxInFlight: 1, maxBatchSize: 1, cost: () => 5 });
    const running = outcome(dispatcher.submit([0]));
    const low1 = outcome(dispatcher.submit([1]));
    const low2 = outcome(dispatcher.submit([2]));
    const high = outcome(dispatcher.submit([3], { priority: 1 }));
    await settle();
    assert.ok(isTiffinError(low2.error, 'OVERLOADED'));
    await clock.advance(100);
    assert.deepEqual([running.value, high.value, low1.value], [[0], [30], [10]]);
  });

  it('serves higher priority first, first come first served within a priority', async () => {
    const { clock, target, dispatcher } = setup({ maxBatchSize: 1, maxInFlight: 1, cost: () => 1 });
    const all = [
      dispatcher.submit([0]),
      dispatcher.submit([1], { priority: 0 }),
      dispatcher.submit([2], { priority: 0 }),
      dispatcher.submit([3], { priority: 5 }),
      dispatcher.submit([4], { priority: 1 }),
      dispatcher.submit([5], { priority: 5 }),
    ];
    await clock.advance(100);
    await Promise.all(all);
    assert.deepEqual(target.runs.map((r) => r.input[0]), [0, 3, 5, 4, 1, 2]);
  });

  it('sheds early, with 503 and Retry-After, a request predicted to miss its timeout', async () => {
    const { clock, dispatcher, shed } = setup({ maxBatchSize: 4, maxInFlight: 1, cost: (n) => 10 + n });
    for (const n of [1, 2, 3]) {
      void dispatcher.submit(Array.from({ length: n }, () => 0));
      await clock.advance(20);
    }
    // A backlog of 40 rows: 10 batches of ~14 ms on one replica.
    const backlog = Array.from({ length: 40 }, () => outcome(dispatcher.submit([1])));
    await assert.rejects(dispatcher.submit([2], { timeoutMs: 50 }), (e) => isTiffinError(e, 'OVERLOADED') && e.retryAfter! >= 1 && (e.details as { reason: string }).reason === 'deadline');
    const patient = outcome(dispatcher.submit([3], { timeoutMs: 1000 }));
    assert.equal(shed.at(-1)!.reason, 'deadline');
    await clock.advance(1000);
    assert.deepEqual(patient.value, [30]);
    assert.ok(backlog.every((r) => r.value));
  });

  it('rejects with TIMEOUT a request whose timeout expires while it waits, and never runs it', async () => {
    const { clock, target, dispatcher, shed } = setup({ maxInFlight: 1, cost: () => 50 });
    void dispatcher.submit([0]);
    const late = outcome(dispatcher.submit([1], { timeoutMs: 5 }));
    await clock.advance(4);
    assert.equal(late.done, false);
    await clock.advance(2);
    assert.ok(isTiffinError(late.error, 'TIMEOUT') && late.error.status === 504, String(late.error));
    assert.deepEqual(shed.map((s) => [s.reason, s.waitedMs]), [['timeout', 5]]);
    await clock.advance(200);
    assert.equal(target.runs.length, 1, 'the timed-out request never ran');
    assert.equal(dispatcher.stats().queued.requests, 0);
  });

  it('applies defaultTimeoutMs to requests that name none, and fails one that times out while running', async () => {
    const { clock, dispatcher } = setup({ defaultTimeoutMs: 20, cost: () => 50 });
    const r = outcome(dispatcher.submit([0]));
    await clock.advance(21);
    assert.ok(isTiffinError(r.error, 'TIMEOUT'));
    assert.equal(dispatcher.stats().failed.timeout, 1);
  });

  it('drops a waiting request when its signal aborts', async () => {
    const { clock, target, dispatcher, shed } = setup({ maxInFlight: 1, cost: () => 50 });
    void dispatcher.submit([0]);
    const ac = new AbortController();
    const r = outcome(dispatcher.submit([1], { signal: ac.signal }));
    await clock.advance(1);
    ac.abort();
    await settle();
    assert.ok(isTiffinError(r.error, 'ABORTED'));
    await assert.rejects(dispatcher.submit([2], { signal: AbortSignal.abort() }), (e) => isTiffinError(e, 'ABORTED'));
    await clock.advance(200);
    assert.equal(target.runs.length, 1);
    assert.deepEqual(shed.map((s) => s.reason), ['aborted', 'aborted']);
  });

  it('reports batches and counters: sizes, reasons, queue waits, run times', async () => {
    const { clock, dispatcher } = setup({ maxBatchSize: 4, cost: () => 3 });
    for (let i = 0; i < 9; i++) void dispatcher.submit([i]);
    await clock.advance(100);
    const s = dispatcher.stats();
    // #0 alone to the idle replica, then two full batches of 4 (one waiting behind each running one).
    assert.deepEqual(s.batches.byReason, { idle: 1, full: 2, deadline: 0, inline: 0 });
    assert.deepEqual(s.batchSize.counts.slice(0, 3), [1, 0, 2]);
    assert.equal(s.batchSize.sum, 9);
    assert.equal(s.queueWaitMs.count, 9);
    assert.equal(s.runMs.sum, 9);
    assert.equal(s.completed, 9);
  });

  it('drains on close, then refuses new requests with SHUTTING_DOWN', async () => {
    const { clock, dispatcher } = setup({ cost: () => 5 });
    const r = outcome(dispatcher.submit([1]));
    const closed = outcome(dispatcher.close());
    await assert.rejects(dispatcher.submit([2]), (e) => isTiffinError(e, 'SHUTTING_DOWN'));
    await clock.advance(5);
    assert.deepEqual(r.value, [10]);
    assert.ok(closed.done);
    dispatcher.dispose();
  });

  it('runs unbatched methods one request per run through the same queue', async () => {
    const { clock, target, dispatcher } = setup({ codec: singleCodec, maxBatchSize: 1, cost: () => 1 });
    const rs = [dispatcher.submit([1, 2]), dispatcher.submit([3])];
    await clock.advance(10);
    assert.deepEqual(await Promise.all(rs), [[10, 20], [30]]);
    assert.deepEqual(target.runs.map((r) => r.input), [[1, 2], [3]]);
  });
});

describe('BatchDispatcher trace contexts', () => {
  it('reports the trace context of each part of a batch, aligned with its queue wait; none when no caller passed one', async () => {
    const { clock, dispatcher, batches } = setup({ maxBatchSize: 4, cost: () => 3 });
    const [a, c, d] = [{ span: 'a' }, { span: 'c' }, { span: 'd' }];
    const results = [
      dispatcher.submit([1], { traceContext: a }),
      dispatcher.submit([2, 3, 4]),
      dispatcher.submit([5, 6], { traceContext: c }),
      dispatcher.submit([7, 8], { traceContext: d }),
    ];
    await clock.advance(100);
    assert.deepEqual(await Promise.all(results), [[10], [20, 30, 40], [50, 60], [70, 80]]);
    void dispatcher.submit([9]);
    await clock.advance(100);
    // #1 alone to the idle replica; then a full batch of #2 and the first row of #3; then the rest of #3 with #4;
    // then a batch nobody traced.
    assert.deepEqual(batches.map((b) => b.rows), [1, 4, 3, 1]);
    assert.deepEqual(batches.map((b) => b.traceContexts), [[a], [undefined, c], [c, d], undefined]);
    assert.equal(batches[1]!.traceContexts![1], c, 'the caller\'s own object, passed through');
    assert.equal(batches[2]!.traceContexts![0], c, 'both parts of a split request carry its context');
    for (const b of batches.slice(0, 3)) assert.equal(b.traceContexts!.length, b.queueWaitMs.length);
    assert.ok(!('traceContexts' in batches[3]!), 'no array is built for a batch without contexts');
  });
});
