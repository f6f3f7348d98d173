import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { BatchDispatcher, FakeClock, settle, type BatchCodec, type BatchInfo, type BatchTarget, type DispatcherEvents, type ExecuteResult } from '../batching/index.ts';
import { RunnerPool } from '../runner/index.ts';
import { saveMlp, testStore } from '../testing/runner-fixtures.ts';
import { tensor } from '../runtime/tensor.ts';
import { findSamples, parseExposition, sampleValue } from './metrics/exposition.ts';
import { TiffinMetrics } from './metrics/metrics.ts';
import { promtoolCheckMetrics } from '../testing/promtool.ts';
import { observeLoads, observeRunner, splitTag, type ObservedRunner } from './runner-telemetry.ts';
import { Tracing } from './tracing/tracing.ts';

type Items = number[];

const items: BatchCodec<Items, Items> = {
  rows: (xs) => xs.length,
  key: () => '',
  slice: (xs, a, b) => xs.slice(a, b),
  concat: (parts) => parts.flat(),
  split: (out, counts) => {
    let at = 0;
    return counts.map((n) => out.slice(at, (at += n)));
  },
  join: (parts) => parts.flat(),
};

/** One replica whose batches finish when the test says, with the run time the test gives. */
class ManualReplica implements BatchTarget<Items, Items> {
  readonly pending: { input: Items; finish(runMs: number): void }[] = [];
  private listener: (() => void) | undefined;
  idleReplicas = () => (this.pending.length === 0 ? 1 : 0);
  liveReplicas = () => 1;
  onCapacity(listener: () => void) {
    this.listener = listener;
    return () => (this.listener = undefined);
  }
  execute(input: Items): Promise<ExecuteResult<Items>> {
    return new Promise((resolve) => {
      const run = {
        input,
        finish: (runMs: number) => {
          this.pending.splice(this.pending.indexOf(run), 1);
          resolve({ output: input.map((x) => x * 10), runMs });
          this.listener?.();
        },
      };
      this.pending.push(run);
    });
  }
}

describe('runner telemetry', () => {
  it('turns a dispatcher\'s batches, rejections and timeouts into inference metrics', async () => {
    const clock = new FakeClock();
    const replica = new ManualReplica();
    const dispatcher = new BatchDispatcher(replica, items, { name: 'iris:1.run', maxBatchSize: 4, maxLatencyMs: 10, maxQueueSize: 3, clock });
    const runner: ObservedRunner = { tag: 'iris:1', dispatchers: new Map([['run', dispatcher]]), health: () => ({ replicas: { live: 1 } }) };
    const metrics = new TiffinMetrics({ gpu: false, process: false });
    const stop = observeRunner(metrics, runner);
    const outcomes: string[] = [];
    const call = (x: number, timeoutMs?: number) =>
      dispatcher.submit([x], timeoutMs === undefined ? {} : { timeoutMs }).then(
        () => outcomes.push(`${x}:ok`),
        (e: { code: string }) => outcomes.push(`${x}:${e.code}`),
      );

    const a = call(1); // replica idle: an 'idle' batch of 1
    const [b, c, d] = [call(2), call(3), call(4)]; // replica busy: they wait for the 10 ms deadline
    const e = call(5); // queue holds 3: turned away (rejected)
    await settle();
    await clock.advance(10); // a 'deadline' batch of 3
    replica.pending[0]!.finish(2);
    replica.pending[0]!.finish(3);
    await Promise.all([a, b, c, d, e]);
    const g = call(7); // idle again: runs at once
    const f = call(6, 5); // replica busy: times out in the queue after 5 ms
    await settle();
    await clock.advance(5);
    replica.pending[0]!.finish(4);
    await Promise.all([f, g]);
    assert.deepEqual(outcomes.sort(), ['1:ok', '2:ok', '3:ok', '4:ok', '5:OVERLOADED', '6:TIMEOUT', '7:ok']);

    const text = await metrics.scrape();
    const exp = parseExposition(text);
    const mv = { model: 'iris', version: '1' };
    const outcome = (o: string) => sampleValue(exp, 'tiffin_inference_requests_total', { ...mv, outcome: o });
    assert.equal(outcome('success'), 5);
    assert.equal(outcome('rejected'), 1);
    assert.equal(outcome('timeout'), 1);
    assert.equal(outcome('shed'), 0);
    assert.equal(sampleValue(exp, 'tiffin_inference_batches_total', { ...mv, reason: 'idle' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batches_total', { ...mv, reason: 'deadline' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...mv, le: '1' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...mv, le: '2' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...mv, le: '4' }), 3);
    assert.equal(sampleValue(exp, 'tiffin_inference_items_total', mv), 5);
    assert.ok(Math.abs(sampleValue(exp, 'tiffin_inference_compute_duration_seconds_sum', mv)! - 0.009) < 1e-12);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_count', mv), 5);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_bucket', { ...mv, le: '0.01' }), 5, 'three waited 10 ms');
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_bucket', { ...mv, le: '0.005' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_runner_replicas', mv), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_depth', mv), 0);
    const verdict = await promtoolCheckMetrics(text);
    if (verdict) assert.equal(verdict.output, '');

    // Successes are read at scrape time: a second scrape does not count them twice.
    assert.equal(sampleValue(parseExposition(await metrics.scrape()), 'tiffin_inference_requests_total', { ...mv, outcome: 'success' }), 5);
    stop(true);
    assert.equal(findSamples(parseExposition(await metrics.scrape()), 'tiffin_inference_requests_total', mv).length, 0, 'forgotten');
    dispatcher.dispose();
  });

  it('traces a batch: a queue span per request, a batch span linked to all, the model run inside', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} });
    const events = new EventEmitter<DispatcherEvents>();
    const dispatcher = Object.assign(events, { stats: () => ({ completed: 0, queued: { requests: 0, rows: 0 } }) });
    const metrics = new TiffinMetrics({ gpu: false, process: false });
    observeRunner(metrics, { tag: 'iris:1', dispatchers: new Map([['run', dispatcher]]), health: () => ({ replicas: { live: 1 } }) }, { tracing });
    const reqs = [0, 1].map(() => tracing.startRequest('POST', '/predict', '/predict', {}));
    const info: BatchInfo = {
      dispatcher: 'iris:1.run', batch: 1, reason: 'full', rows: 2, requests: 2, queueWaitMs: [4, 1], runMs: 3, totalMs: 5,
      traceContexts: reqs.map((r) => r.context),
    };
    events.emit('batch', info);
    reqs.forEach((r) => tracing.endRequest(r.span, 200));
    const spans = exporter.getFinishedSpans();
    const named = (n: string) => spans.filter((s) => s.name === n);
    const queues = named('tiffin.queue');
    assert.equal(queues.length, 2);
    queues.forEach((q, i) => assert.equal(q.parentSpanContext?.spanId, reqs[i]!.span.spanContext().spanId));
    const ms = (s: { duration: [number, number] }) => s.duration[0] * 1000 + s.duration[1] / 1e6;
    assert.ok(Math.abs(ms(queues[0]!) - 4) < 0.01 && Math.abs(ms(queues[1]!) - 1) < 0.01, 'queue spans last the waits');
    const [batch] = named('tiffin.batch');
    assert.equal(batch!.parentSpanContext?.spanId, reqs[0]!.span.spanContext().spanId);
    assert.equal(batch!.links.length, 2);
    assert.equal(batch!.attributes['tiffin.batch.size'], 2);
    assert.equal(batch!.attributes['tiffin.batch.reason'], 'full');
    assert.ok(Math.abs(ms(batch!) - 5) < 0.01);
    const [run] = named('tiffin.model.run');
    assert.equal(run!.parentSpanContext?.spanId, batch!.spanContext().spanId);
    assert.ok(Math.abs(ms(run!) - 3) < 0.01);
  });

  it('traces batches without metrics, and skips parts whose caller passed no context', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} });
    const replica = new ManualReplica();
    const dispatcher = new BatchDispatcher(replica, items, { name: 'iris:1.run', maxBatchSize: 4, clock: new FakeClock() });
    const stop = observeRunner(undefined, { tag: 'iris:1', dispatchers: new Map([['run', dispatcher]]), health: () => ({ replicas: { live: 1 } }) }, { tracing });
    const req = tracing.startRequest('POST', '/predict', '/predict', {});
    const busy = dispatcher.submit([0]); // an untraced batch: no spans
    const traced = dispatcher.submit([1], { traceContext: req.context });
    const untraced = dispatcher.submit([2]);
    replica.pending[0]!.finish(1);
    await busy;
    await settle();
    replica.pending[0]!.finish(2);
    assert.deepEqual(await Promise.all([traced, untraced]), [[10], [20]]);
    tracing.endRequest(req.span, 200);
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.filter((s) => s.name === 'tiffin.queue').length, 1, 'a queue span for the traced call only');
    const [batch] = spans.filter((s) => s.name === 'tiffin.batch');
    assert.equal(batch!.parentSpanContext?.spanId, req.span.spanContext().spanId);
    assert.equal(batch!.attributes['tiffin.batch.size'], 2);
    assert.equal(batch!.links.length, 1);
    assert.equal(spans.filter((s) => s.name === 'tiffin.batch').length, 1);
    stop(true);
    dispatcher.dispose();
  });

  it('splits tags at the last colon', () => {
    assert.deepEqual(splitTag('iris:3'), { model: 'iris', version: '3' });
    assert.deepEqual(splitTag('org/iris:v1'), { model: 'org/iris', version: 'v1' });
  });
});

describe('several replica threads, one scrape', () => {
  it('reports every replica\'s work once: no missing or duplicated series', { timeout: 60_000 }, async () => {
    const store = await testStore('telemetry-runner');
    await saveMlp(store, 'mlp:1', [8, 16, 2]);
    const metrics = new TiffinMetrics({ gpu: false, process: false });
    // As the repository loads versions: through a loader that telemetry wraps.
    const load = observeLoads(metrics, (tag: string) => RunnerPool.start({ tag, storeRoot: store.root, replicas: 2, batching: { maxBatchSize: 8 } }));
    const runner = await load('mlp:1');
    try {
      const n = 64;
      await Promise.all(
        Array.from({ length: n }, (_, i) => runner.run({ input: tensor('float32', [1, 8], new Float32Array(8).fill(i / n)) })),
      );
      const exp = parseExposition(await metrics.scrape());
      const mv = { model: 'mlp', version: '1' };
      assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...mv, outcome: 'success' }), n);
      assert.equal(sampleValue(exp, 'tiffin_inference_items_total', mv), n);
      assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_sum', mv), n);
      assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_count', mv), n);
      const batches = findSamples(exp, 'tiffin_inference_batches_total', mv).reduce((t, s) => t + s.value, 0);
      assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_count', mv), batches);
      assert.equal(sampleValue(exp, 'tiffin_inference_compute_duration_seconds_count', mv), batches);
      assert.equal(sampleValue(exp, 'tiffin_runner_replicas', mv), 2);
      assert.ok(sampleValue(exp, 'tiffin_runner_busy_seconds_total', mv)! > 0);
      for (const family of ['tiffin_inference_items_total', 'tiffin_runner_replicas', 'tiffin_runner_busy_seconds_total']) {
        assert.equal(findSamples(exp, family).length, 1, `${family}: one series for the model, whatever the replica count`);
      }
    } finally {
      await runner.close();
    }
    const after = parseExposition(await metrics.scrape());
    assert.equal(after.samples.filter((s) => s.labels.model === 'mlp').length, 0, 'a closed version leaves no series');
  });
});
