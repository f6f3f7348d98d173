import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import Fastify, { type FastifyInstance } from 'fastify';
import { parseExposition, sampleValue } from './metrics/exposition.ts';
import { annotateRequest, quietPathMatcher, registerHttpTelemetry, requestTelemetry } from './http-telemetry.ts';
import { createLogger } from './logs/logger.ts';
import { TiffinMetrics } from './metrics/metrics.ts';
import { promtoolCheckMetrics } from '../testing/promtool.ts';
import { Tracing } from './tracing/tracing.ts';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const TRACEPARENT = `00-${TRACE_ID}-b7ad6b7169203331-01`;

const lines: Record<string, unknown>[] = [];
const logStream = new Writable({
  write(chunk: Buffer, _e, cb) {
    for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
    cb();
  },
});
const exporter = new InMemorySpanExporter();
const metrics = new TiffinMetrics({ gpu: false, process: false });
let app: FastifyInstance;
let base: string;
let releaseSlow: () => void = () => undefined;
const slowStarted = new Promise<void>((resolve) => {
  releaseSlow = resolve;
});
let slowSeen: () => void;
const slowArrived = new Promise<void>((r) => (slowSeen = r));

before(async () => {
  app = Fastify({ requestIdHeader: 'x-request-id' });
  registerHttpTelemetry(app, {
    metrics,
    accessLog: createLogger({ destination: logStream }),
    tracing: new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} }),
  });
  app.post('/v2/models/:name/infer', async (request) => {
    annotateRequest(request, { variant: 'b', model: (request.params as { name: string }).name });
    return { traceId: requestTelemetry(request)?.trace.traceId, outputs: [1, 2, 3] };
  });
  app.get('/livez', async () => 'ok');
  app.get('/v2/health/ready', async () => 'ok');
  app.get('/fail', async () => {
    throw new Error('boom');
  });
  app.get('/slow', async () => {
    slowSeen();
    await slowStarted;
    return 'late';
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
});
after(async () => {
  releaseSlow();
  await app.close();
  metrics.close();
});

describe('HTTP telemetry on a fastify app', () => {
  it('counts requests by route pattern, logs one line per non-probe request, traces them', async () => {
    const infer = (name: string, headers: Record<string, string> = {}) =>
      fetch(`${base}/v2/models/${name}/infer?verbose=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"inputs":[]}',
      });
    const first = await infer('iris', { traceparent: TRACEPARENT, 'x-request-id': 'req-abc' });
    assert.equal(((await first.json()) as { traceId: string }).traceId, TRACE_ID);
    await (await infer('mnist')).text();
    await (await infer('iris')).text();
    assert.equal((await fetch(`${base}/nowhere`)).status, 404);
    assert.equal((await fetch(`${base}/livez`)).status, 200);
    assert.equal((await fetch(`${base}/v2/health/ready`)).status, 200);
    assert.equal((await fetch(`${base}/fail`)).status, 500);
    const scrape = await fetch(`${base}/metrics`);
    assert.match(scrape.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/);
    const text = await scrape.text();

    // Metrics: by pattern, never by raw URL.
    const exp = parseExposition(text);
    const route = '/v2/models/:name/infer';
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route, method: 'POST', status: '200' }), 3);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route: '/livez', status: '200' }), 1, 'probes are counted');
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route: '/fail', status: '500' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_request_duration_seconds_count', { route, status: '200' }), 3);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_in_flight'), 1, 'the scrape itself is in flight');
    assert.ok(!text.includes('/v2/models/iris'), 'no raw URLs in labels');
    const verdict = await promtoolCheckMetrics(text);
    if (verdict) assert.equal(verdict.output, '', 'promtool check metrics');

    // Access log: infer x3, 404, 500; no probes, no scrape.
    const access = lines.filter((l) => l.msg === 'request');
    assert.deepEqual(
      access.map((l) => `${l.status} ${l.path}`),
      ['200 /v2/models/iris/infer', '200 /v2/models/mnist/infer', '200 /v2/models/iris/infer', '404 /nowhere', '500 /fail'],
    );
    const line = access[0]!;
    assert.equal(line.method, 'POST');
    assert.equal(line.route, route);
    assert.equal(line.requestId, 'req-abc');
    assert.equal(line.traceId, TRACE_ID);
    assert.equal(line.variant, 'b');
    assert.equal(line.model, 'iris');
    assert.equal(line.level, 'info');
    assert.equal(typeof line.latencyMs, 'number');
    assert.ok((line.latencyMs as number) >= 0);
    assert.equal(line.bytes, Number(first.headers.get('content-length')));
    assert.match(String(access[1]!.traceId), /^[0-9a-f]{32}$/, 'a new trace when none came in');
    assert.equal(access[4]!.level, 'error', '5xx lines are errors');

    // Spans: one SERVER span per non-probe request, continuing the caller's trace.
    const servers = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);
    assert.deepEqual(
      servers.map((s) => s.name),
      ['POST /v2/models/:name/infer', 'POST /v2/models/:name/infer', 'POST /v2/models/:name/infer', 'GET', 'GET /fail'],
    );
    assert.equal(servers[0]!.spanContext().traceId, TRACE_ID);
    assert.equal(servers[0]!.attributes['tiffin.request_id'], 'req-abc');
    assert.equal(servers[0]!.attributes['tiffin.variant'], 'b');
    assert.equal(servers[4]!.events[0]?.name, 'exception', 'the handler error is on the span');
  });

  it('counts a request whose client hung up as 499 and brings the in-flight gauge back down', async () => {
    lines.length = 0;
    const url = new URL(`${base}/slow`);
    const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname });
    req.on('error', () => undefined);
    req.end();
    await slowArrived;
    req.destroy();
    await new Promise((r) => setTimeout(r, 50));
    const exp = parseExposition(await metrics.scrape());
    assert.equal(sampleValue(exp, 'tiffin_http_requests_total', { route: '/slow', status: '499' }), 1);
    assert.equal(sampleValue(exp, 'tiffin_http_requests_in_flight'), 0);
    releaseSlow();
    await new Promise((r) => setTimeout(r, 50));
    const after = parseExposition(await metrics.scrape());
    assert.equal(sampleValue(after, 'tiffin_http_requests_total', { route: '/slow', status: '200' }), undefined, 'counted once');
    assert.equal(sampleValue(after, 'tiffin_http_requests_in_flight'), 0);
    assert.deepEqual(lines.filter((l) => l.msg === 'request').map((l) => l.status), [499]);
  });
});

describe('quiet paths', () => {
  it('match exactly, or by prefix for entries ending in *', () => {
    const quiet = quietPathMatcher(['/livez', '/v2/health/*']);
    assert.equal(quiet('/livez'), true);
    assert.equal(quiet('/livez/x'), false);
    assert.equal(quiet('/v2/health/live'), true);
    assert.equal(quiet('/v2/models'), false);
  });
});
