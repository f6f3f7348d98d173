import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isTiffinError, TiffinError } from '../../errors/index.ts';
import { findSamples, parseExposition, sampleValue } from './exposition.ts';
import { TiffinMetrics } from './metrics.ts';
import { outcomeOf } from './model-metrics.ts';
import { promtoolCheckMetrics } from '../../testing/promtool.ts';

const created: TiffinMetrics[] = [];
function metrics(options: ConstructorParameters<typeof TiffinMetrics>[0] = {}): TiffinMetrics {
  const m = new TiffinMetrics({ gpu: false, process: false, ...options });
  created.push(m);
  return m;
}
after(() => created.forEach((m) => m.close()));

describe('inference metrics', () => {
  it('count outcomes, queue waits, batch sizes, items, compute and busy time per model version', async () => {
    const m = metrics();
    const iris = m.model('iris', 'v1');
    // Known traffic: 5 calls in two batches (3 rows, full; 2 rows, deadline), one shed, one timeout.
    for (let i = 0; i < 5; i++) iris.request('success');
    iris.request('shed');
    iris.request('timeout');
    for (const w of [0.0002, 0.0004, 0.003, 0.02, 0.02]) iris.queueWait(w);
    iris.batch(3, 0.004, 'full');
    iris.batch(2, 0.003, 'deadline');
    iris.setReplicas(2);
    iris.setQueueDepth(7);
    m.model('mnist', '3').request('error');

    const exp = parseExposition(await m.scrape());
    const v1 = { model: 'iris', version: 'v1' };
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'success' }), 5);
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'shed' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'timeout' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...v1, outcome: 'rejected' }), 0, 'outcomes start at 0');
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { model: 'mnist', version: '3', outcome: 'error' }), 1);
    assert.equal(findSamples(exp, 'tiffin_inference_requests_total', v1).length, 6, 'one series per outcome');

    // Batch sizes 3 and 2: le=2 holds one, le=4 holds both.
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '1' }), 0);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '2' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '4' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...v1, le: '+Inf' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_sum', v1), 5);
    assert.equal(sampleValue(exp, 'tiffin_inference_items_total', v1), 5);
    assert.equal(sampleValue(exp, 'tiffin_inference_batches_total', { ...v1, reason: 'full' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_inference_batches_total', { ...v1, reason: 'deadline' }), 1);

    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_count', v1), 5);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_bucket', { ...v1, le: '0.0005' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_bucket', { ...v1, le: '0.005' }), 3);
    assert.equal(sampleValue(exp, 'tiffin_inference_compute_duration_seconds_count', v1), 2);
    assert.ok(Math.abs(sampleValue(exp, 'tiffin_inference_compute_duration_seconds_sum', v1)! - 0.007) < 1e-12);
    assert.ok(Math.abs(sampleValue(exp, 'tiffin_runner_busy_seconds_total', v1)! - 0.007) < 1e-12);
    assert.equal(sampleValue(exp, 'tiffin_runner_replicas', v1), 2);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_depth', v1), 7);
  });

  it('drops every series of a removed model version and keeps the others', async () => {
    const m = metrics();
    m.model('a', '1').batch(4, 0.01, 'full');
    m.model('b', '1').batch(4, 0.01, 'idle');
    m.removeModel('a', '1');
    const exp = parseExposition(await m.scrape());
    assert.equal(exp.samples.filter((s) => s.labels.model === 'a').length, 0);
    assert.ok(exp.samples.some((s) => s.labels.model === 'b'));
    // A model that comes back starts from zero.
    m.model('a', '1').request('success');
    assert.equal(sampleValue(parseExposition(await m.scrape()), 'tiffin_inference_requests_total', { model: 'a', outcome: 'success' }), 1);
  });

  it('maps failures to outcomes by error code', () => {
    assert.equal(outcomeOf(new TiffinError('OVERLOADED', 'full')), 'rejected');
    assert.equal(outcomeOf(new TiffinError('TIMEOUT', 'late')), 'timeout');
    assert.equal(outcomeOf(new TiffinError('ABORTED', 'gone')), 'aborted');
    assert.equal(outcomeOf(new TiffinError('INFERENCE_FAILED', 'boom')), 'error');
    assert.equal(outcomeOf(new Error('x')), 'error');
  });
});

describe('HTTP metrics', () => {
  it('label by route pattern, method and status, with unknown methods folded into OTHER', async () => {
    const m = metrics();
    for (const status of [200, 200, 400]) {
      m.http.started();
      m.http.finished('/v2/models/:name/infer', 'POST', status, 0.003);
    }
    m.http.started();
    m.http.finished(undefined, 'PROPFIND', 404, 0.0001);
    m.http.started(); // still in flight
    const exp = parseExposition(await m.scrape());
    const route = '/v2/models/:name/infer';
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route, method: 'POST', status: '200' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route, method: 'POST', status: '400' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route: 'unmatched', method: 'OTHER', status: '404' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_request_duration_seconds_bucket', { route, status: '200', le: '0.0025' }), 0);
    assert.equal(sampleValue(exp, 'tiffin_http_request_duration_seconds_bucket', { route, status: '200', le: '0.005' }), 2);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_in_flight'), 1);
  });
});

describe('buckets', () => {
  it('are configurable per histogram', async () => {
    const m = metrics({ buckets: { batchSize: [1, 8, 64] } });
    m.model('m', '1').batch(10, 0.001);
    const exp = parseExposition(await m.scrape());
    const les = findSamples(exp, 'tiffin_inference_batch_size_bucket').map((s) => s.labels.le);
    assert.deepEqual(les, ['1', '8', '64', '+Inf']);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { le: '64' }), 1);
  });

  it('reject lists that are empty, unsorted or not positive', () => {
    for (const bad of [[], [2, 1], [0, 1], [1, Infinity]]) {
      assert.throws(() => new TiffinMetrics({ gpu: false, process: false, buckets: { queueDurationSeconds: bad } }), (e) =>
        isTiffinError(e, 'CONFIG_INVALID'),
      );
    }
  });
});

describe('process metrics', () => {
  it('export CPU, memory, heap and an event-loop delay histogram that sees a blocked loop', async () => {
    const m = metrics({ process: true });
    await new Promise((r) => setTimeout(r, 30));
    const until = performance.now() + 60;
    while (performance.now() < until); // block the loop for 60 ms
    // The probe runs every 25 ms; on a loaded machine timers run late, so wait for the third one (up to 2 s)
    // rather than for a fixed time.
    let exp = parseExposition(await m.scrape());
    for (let waited = 0; (sampleValue(exp, 'tiffin_event_loop_delay_seconds_count') ?? 0) < 3 && waited < 2000; waited += 25) {
      await new Promise((r) => setTimeout(r, 25));
      exp = parseExposition(await m.scrape());
    }
    for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes']) {
      assert.ok((sampleValue(exp, name) ?? 0) > 0, name);
    }
    const count = sampleValue(exp, 'tiffin_event_loop_delay_seconds_count')!;
    const under25ms = sampleValue(exp, 'tiffin_event_loop_delay_seconds_bucket', { le: '0.025' })!;
    assert.ok(count >= 3, `probes ran (${count})`);
    assert.ok(count - under25ms >= 1, 'the 60 ms block was seen as a delay over 25 ms');
  });
});

describe('promtool', () => {
  it('accepts a full scrape: built-in, process, GPU and user metrics', async (t) => {
    const m = metrics({
      process: true,
      gpu: true,
      gpuQuery: async () => [
        { index: '0', uuid: 'GPU-1', name: 'NVIDIA H100', memoryUsedBytes: 2 ** 30, memoryTotalBytes: 80 * 2 ** 30, utilization: 0.5 },
      ],
    });
    m.http.started();
    m.http.finished('/predict', 'POST', 200, 0.01);
    m.model('iris', 'v1').batch(8, 0.002, 'full');
    m.model('iris', 'v1').request('success');
    m.model('iris', 'v1').queueWait(0.001);
    m.user.counter('fraud_checks', 'Fraud checks by verdict.', { labelNames: ['verdict'] }).inc({ verdict: 'ok' });
    m.user.histogram('score', 'Fraud score.', { buckets: [0.1, 0.5, 0.9] }).observe(0.3);
    m.user.gauge('cache_entries', 'Entries in the feature cache.').set(12);
    m.predictionRecordCounter()('iris', 'kept');
    const text = await m.scrape();
    const verdict = await promtoolCheckMetrics(text);
    if (!verdict) return t.skip('promtool not installed (apt-get install prometheus)');
    assert.equal(verdict.output, '', verdict.output);
    assert.ok(verdict.ok);
  });

  it('flags a bad scrape (the check is real)', async (t) => {
    const verdict = await promtoolCheckMetrics('# HELP x_total a\n# TYPE x_total gauge\nx_total 1\n');
    if (!verdict) return t.skip('promtool not installed');
    assert.equal(verdict.ok, false);
    assert.match(verdict.output, /_total/);
  });
});
