// Observability end to end, through the server `tiffin serve` runs (serveModels: a service whose model is
// served by a runner pool with batching): /metrics after known traffic, checked by promtool and scraped by a
// real Prometheus server; the access log; spans and trace propagation in and out; prediction logs.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { Models } from '../../src/models/index.ts';
import { mlp } from '../../src/onnx/index.ts';
import { tensor } from '../../src/runtime/tensor.ts';
import { service } from '../../src/service/service.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { findSamples, parseExposition, sampleValue, Telemetry } from '../../src/telemetry/index.ts';
import { promtoolCheckMetrics } from '../../src/testing/promtool.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
const WIDTH = 8;

const dirs: string[] = [];
async function tempDir(prefix: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `tiffin-${prefix}-`));
  dirs.push(d);
  return d;
}

/** A downstream service that records the headers it is called with. */
const downstreamHeaders: IncomingHttpHeaders[] = [];
const downstream = createHttpServer((req, res) => {
  downstreamHeaders.push(req.headers);
  res.setHeader('content-type', 'application/json');
  res.end('{"feature":1}');
});

const logLines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});

const exporter = new InMemorySpanExporter();
let server: ModelServer;
let telemetry: Telemetry;
let monitoringDir: string;
let downstreamUrl: string;

before(async () => {
  await new Promise<void>((r) => downstream.listen(0, '127.0.0.1', r));
  downstreamUrl = `http://127.0.0.1:${(downstream.address() as AddressInfo).port}`;
  const models = new Models(new ModelStore(await tempDir('obs-store')));
  const file = join(await tempDir('obs-src'), 'mlp.onnx');
  await writeFile(file, mlp({ layers: [WIDTH, 16, 3], seed: 7 }));
  await models.save('mlp:1', file, { framework: 'onnx', batchable: true });
  monitoringDir = await tempDir('obs-monitoring');

  telemetry = new Telemetry({
    service: 'obs',
    version: '1.0.0',
    logDestination: logStream,
    tracing: { exporter, processor: 'simple', registerGlobal: false, env: {} },
    config: { metrics: { gpu: false }, monitoring: { dir: monitoringDir, sampleRate: 1 } },
  });
  const svc = service('obs', { models: { mlp: 'mlp:1' } }).api('predict', {
    input: z.object({ input: z.array(z.number()).length(WIDTH), enrich: z.boolean().optional() }),
    output: z.object({ output: z.array(z.number()) }),
    handler: async ({ input, enrich }, ctx) => {
      if (enrich) await (await ctx.fetch(`${downstreamUrl}/features`)).json();
      ctx.metrics.counter('predictions', 'Predictions made, by class.', { labelNames: ['class'] }).inc({ class: 'any' });
      const mon = ctx.monitor('obs');
      mon.features({ input });
      const out = await ctx.models.mlp.run({ input: tensor('float32', [1, WIDTH], Float32Array.from(input)) });
      const output = Array.from(out.output!.data as Float32Array);
      mon.predictions({ output });
      return { output };
    },
  });
  server = await serveModels({
    service: svc,
    store: models.store,
    runner: { replicas: 2, batching: { maxBatchSize: 8, maxLatencyMs: 5 } },
    pollIntervalMs: 0,
    grpc: false,
    http: { port: 0, docs: false },
    telemetry,
  });
  await server.ready;
});

after(async () => {
  await server?.close();
  await telemetry?.close();
  downstream.close();
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const N = 24;
const row = (i: number) => Array.from({ length: WIDTH }, (_, j) => (i + j) / 10);
const predict = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });

describe('observability through the real server', () => {
  it('counts known traffic in /metrics: HTTP by route and status, inference by outcome, batches; promtool agrees', async () => {
    const responses = await Promise.all(Array.from({ length: N }, (_, i) => predict({ input: row(i) }, { 'x-request-id': `obs-${i}` })));
    assert.deepEqual([...new Set(responses.map((r) => r.status))], [200]);
    await Promise.all(responses.map((r) => r.text()));
    assert.equal((await predict({ input: [1] })).status, 400);
    assert.equal((await fetch(`${server.url}/livez`)).status, 200);

    const scrape = await fetch(`${server.url}/metrics`);
    assert.equal(scrape.status, 200);
    const text = await scrape.text();
    const exp = parseExposition(text);
    const route = { route: '/predict', method: 'POST' };
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { ...route, status: '200' }), N);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { ...route, status: '400' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_request_duration_seconds_count', { ...route, status: '200' }), N);
    const mv = { model: 'mlp', version: '1' };
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...mv, outcome: 'success' }), N);
    assert.equal(sampleValue(exp, 'tiffin_inference_requests_total', { ...mv, outcome: 'error' }), 0);
    assert.equal(sampleValue(exp, 'tiffin_inference_items_total', mv), N);
    assert.equal(sampleValue(exp, 'tiffin_inference_batch_size_sum', mv), N);
    assert.equal(sampleValue(exp, 'tiffin_inference_queue_duration_seconds_count', mv), N);
    assert.ok(sampleValue(exp, 'tiffin_inference_batch_size_bucket', { ...mv, le: '8' })! >= 1);
    assert.equal(sampleValue(exp, 'tiffin_runner_replicas', mv), 2);
    assert.equal(findSamples(exp, 'tiffin_runner_replicas').length, 1, 'two replica threads, one series');
    assert.equal(sampleValue(exp, 'predictions_total', { class: 'any' }), N);
    assert.equal(sampleValue(exp, 'tiffin_monitor_records_total', { stream: 'obs', outcome: 'kept' }), N);
    assert.ok((sampleValue(exp, 'process_resident_memory_bytes') ?? 0) > 0);

    const verdict = await promtoolCheckMetrics(text);
    if (!verdict) return void console.log('# promtool not installed: apt-get install prometheus');
    assert.equal(verdict.output, '', 'promtool check metrics');
  });

  it('writes one access-log line per request with method, path, status, latency, bytes, request id and trace id', async () => {
    const res = await predict({ input: row(1) }, { traceparent: TRACEPARENT, 'x-request-id': 'traced-1' });
    const bytes = Number(res.headers.get('content-length'));
    await res.text();
    const line = logLines.find((l) => l.msg === 'request' && l.requestId === 'traced-1');
    assert.ok(line, 'the request was logged');
    assert.equal(line.method, 'POST');
    assert.equal(line.path, '/predict');
    assert.equal(line.status, 200);
    assert.equal(line.bytes, bytes);
    assert.equal(line.traceId, TRACE_ID);
    assert.equal(line.service, 'obs');
    assert.equal(typeof line.latencyMs, 'number');
    assert.ok(!logLines.some((l) => l.msg === 'request' && (l.path === '/livez' || l.path === '/metrics')), 'probes and scrapes are not logged');
  });

  it('continues the caller\'s trace and passes it on from ctx.fetch', async () => {
    exporter.reset();
    downstreamHeaders.length = 0;
    const res = await predict({ input: row(2), enrich: true }, { traceparent: TRACEPARENT });
    assert.equal(res.status, 200);
    await res.text();
    const spans = exporter.getFinishedSpans();
    const serverSpan = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'POST /predict');
    assert.ok(serverSpan);
    assert.equal(serverSpan.spanContext().traceId, TRACE_ID);
    assert.equal(serverSpan.parentSpanContext?.spanId, '00f067aa0ba902b7');
    const inference = spans.find((s) => s.name === 'tiffin.inference');
    assert.ok(inference, 'the model call has its span');
    assert.equal(inference.parentSpanContext?.spanId, serverSpan.spanContext().spanId);
    assert.equal(inference.attributes['tiffin.model.key'], 'mlp');
    const client = spans.find((s) => s.kind === SpanKind.CLIENT);
    assert.ok(client);
    assert.equal(client.parentSpanContext?.spanId, serverSpan.spanContext().spanId);
    assert.equal(downstreamHeaders[0]!.traceparent, `00-${TRACE_ID}-${client.spanContext().spanId}-01`);
  });

  it('logs features and predictions of each request to the prediction stream', async () => {
    await telemetry.predictions!.flush();
    const text = await readFile(join(monitoringDir, 'obs', 'data.1.jsonl'), 'utf8');
    const rows = text.trim().split('\n').map((l) => JSON.parse(l) as { request_id: string; input: number[]; output: number[] });
    const first = rows.find((r) => r.request_id === 'obs-0');
    assert.ok(first);
    assert.deepEqual(first.input, row(0));
    assert.equal(first.output.length, 3);
  });
});

const hasPrometheus = spawnSync('prometheus', ['--version'], { stdio: 'ignore' }).status === 0;

describe('a real Prometheus server scraping Tiffin', { skip: hasPrometheus ? false : 'prometheus not installed (apt-get install prometheus)' }, () => {
  let prometheus: ChildProcess | undefined;
  after(() => {
    prometheus?.kill('SIGTERM');
  });

  it('ingests the series and answers queries on them', { timeout: 30_000 }, async () => {
    const dir = await tempDir('prometheus');
    const config = join(dir, 'prometheus.yml');
    const target = new URL(server.url).host;
    await writeFile(config, `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tiffin\n    static_configs:\n      - targets: ['${target}']\n`);
    const probe = createNetServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = (probe.address() as AddressInfo).port;
    probe.close();
    prometheus = spawn('prometheus', [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    prometheus.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const query = async (q: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
        return res.ok ? ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result : [];
      } catch {
        return []; // not listening yet
      }
    };
    const deadline = Date.now() + 25_000;
    let series: Awaited<ReturnType<typeof query>> = [];
    while (Date.now() < deadline && series.length === 0) {
      series = await query('tiffin_http_requests_total{route="/predict",status="200"}');
      if (series.length === 0) await new Promise((r) => setTimeout(r, 250));
    }
    assert.ok(series.length > 0, `no series within 25 s; prometheus said: ${stderr.slice(-2000)}`);
    assert.equal(series[0]!.metric.job, 'tiffin');
    assert.ok(Number(series[0]!.value[1]) >= N);
    assert.equal((await query('up{job="tiffin"}'))[0]?.value[1], '1', 'every scrape parsed');
    assert.equal((await query('tiffin_runner_replicas{model="mlp"}'))[0]?.value[1], '2');
  });
});
