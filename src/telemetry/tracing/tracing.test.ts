import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AlwaysOffSampler, InMemorySpanExporter, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { RateLimitingSampler } from './rate-limiting-sampler.ts';
import { decodeTraceRequest, countSpans } from '../../testing/otlp-protobuf.ts';
import { isTiffinError } from '../../errors/index.ts';
import { batchOptionsFromEnv, otlpTracesProtocol, Tracing, tracingConfigFromEnv } from './tracing.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

function inMemory(options: ConstructorParameters<typeof Tracing>[0] = {}): { tracing: Tracing; exporter: InMemorySpanExporter } {
  const exporter = new InMemorySpanExporter();
  const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, serviceName: 'iris', env: {}, ...options });
  return { tracing, exporter };
}

/** A server that records the headers of each request it receives. */
let seen: IncomingHttpHeaders[] = [];
let downstream: string;
const server = createServer((req, res) => {
  seen.push(req.headers);
  res.statusCode = req.url === '/fail' ? 503 : 200;
  res.end('ok');
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  downstream = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => server.close());

describe('tracing configuration from OTEL_*', () => {
  it('is off unless an exporter or an OTLP endpoint is named, and OTEL_SDK_DISABLED wins', () => {
    assert.deepEqual(tracingConfigFromEnv({}).exporters, []);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).exporters, ['otlp']);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }).exporters, ['otlp']);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'otlp,console' }).exporters, ['otlp', 'console']);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c' }).exporters, []);
    assert.deepEqual(tracingConfigFromEnv({ OTEL_SDK_DISABLED: 'true', OTEL_TRACES_EXPORTER: 'otlp' }).exporters, []);
    assert.equal(tracingConfigFromEnv({ OTEL_SERVICE_NAME: 'fraud' }).serviceName, 'fraud');
    assert.equal(new Tracing({ env: {}, registerGlobal: false }).enabled, false);
    assert.equal(new Tracing({ env: { OTEL_TRACES_EXPORTER: 'otlp' }, registerGlobal: false }).enabled, true);
    assert.equal(new Tracing({ env: { OTEL_SDK_DISABLED: 'true' }, exporter: new InMemorySpanExporter(), registerGlobal: false }).enabled, false);
  });
});

describe('request spans', () => {
  it('continue the trace of an incoming traceparent, as a SERVER span named by route', async () => {
    const { tracing, exporter } = inMemory();
    const req = tracing.startRequest('POST', '/v1/predict', '/v1/predict', { traceparent: TRACEPARENT });
    assert.equal(req.traceId, TRACE_ID);
    tracing.endRequest(req.span, 200);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span!.name, 'POST /v1/predict');
    assert.equal(span!.kind, SpanKind.SERVER);
    assert.equal(span!.spanContext().traceId, TRACE_ID);
    assert.equal(span!.parentSpanContext?.spanId, PARENT_ID);
    assert.equal(span!.parentSpanContext?.isRemote, true);
    assert.equal(span!.attributes['http.route'], '/v1/predict');
    assert.equal(span!.attributes['http.request.method'], 'POST');
    assert.equal(span!.attributes['http.response.status_code'], 200);
    assert.equal(span!.resource.attributes['service.name'], 'iris');
  });

  it('start a new trace without traceparent, and mark 5xx as errors', () => {
    const { tracing, exporter } = inMemory();
    const req = tracing.startRequest('GET', undefined, '/nope', {});
    assert.match(req.traceId!, /^[0-9a-f]{32}$/);
    assert.notEqual(req.traceId, TRACE_ID);
    tracing.endRequest(req.span, 500, new Error('boom'));
    const [span] = exporter.getFinishedSpans();
    assert.equal(span!.parentSpanContext, undefined);
    assert.equal(span!.name, 'GET');
    assert.equal(span!.status.code, SpanStatusCode.ERROR);
    assert.equal(span!.events[0]?.name, 'exception');
  });

  it('nest queue and model spans under the request, and link a batch to every member', () => {
    const { tracing, exporter } = inMemory();
    const reqs = [0, 1, 2].map(() => tracing.startRequest('POST', '/predict', '/predict', {}));
    const queues = reqs.map((r) => tracing.startSpan('tiffin.queue', r.context, { attributes: { 'tiffin.model': 'iris' } }));
    queues.forEach((q) => q.end());
    const batch = tracing.startBatchSpan('tiffin.batch', reqs.map((r) => r.context), { 'tiffin.batch.size': 3 });
    const run = tracing.startSpan('tiffin.model.run', tracing.contextWith(reqs[0]!.context, batch));
    run.end();
    batch.end();
    reqs.forEach((r) => tracing.endRequest(r.span, 200));

    const spans = exporter.getFinishedSpans();
    const byName = (n: string) => spans.filter((s) => s.name === n);
    const servers = byName('POST /predict');
    assert.equal(servers.length, 3);
    byName('tiffin.queue').forEach((q, i) => {
      assert.equal(q.parentSpanContext?.spanId, servers[i]!.spanContext().spanId);
      assert.equal(q.spanContext().traceId, servers[i]!.spanContext().traceId);
    });
    const [b] = byName('tiffin.batch');
    assert.equal(b!.parentSpanContext?.spanId, servers[0]!.spanContext().spanId, 'batch is a child of its first request');
    assert.deepEqual(
      b!.links.map((l) => l.context.spanId),
      servers.map((s) => s.spanContext().spanId),
      'and linked to every request it carried',
    );
    assert.equal(b!.attributes['tiffin.batch.size'], 3);
    assert.equal(byName('tiffin.model.run')[0]!.parentSpanContext?.spanId, b!.spanContext().spanId);
  });
});

describe('outgoing calls', () => {
  it('record a CLIENT span and send its traceparent downstream', async () => {
    seen = [];
    const { tracing, exporter } = inMemory();
    const req = tracing.startRequest('POST', '/predict', '/predict', { traceparent: TRACEPARENT });
    const res = await tracing.fetchWith(req.context)(`${downstream}/features?id=1`, { headers: { 'x-extra': '1' } });
    assert.equal(await res.text(), 'ok');
    const failed = await tracing.fetchWith(req.context)(`${downstream}/fail`, { method: 'post' });
    assert.equal(failed.status, 503);
    tracing.endRequest(req.span, 200);

    const clients = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
    assert.equal(clients.length, 2);
    const [get, post] = clients;
    assert.equal(get!.name, 'GET');
    assert.equal(get!.attributes['url.full'], `${downstream}/features`, 'no query string in the span');
    assert.equal(get!.attributes['http.response.status_code'], 200);
    assert.equal(get!.parentSpanContext?.spanId, req.span.spanContext().spanId);
    assert.equal(post!.name, 'POST');
    assert.equal(post!.status.code, SpanStatusCode.ERROR);

    assert.equal(seen[0]!.traceparent, `00-${TRACE_ID}-${get!.spanContext().spanId}-01`);
    assert.equal(seen[0]!['x-extra'], '1', 'caller headers kept');
    assert.equal(seen[1]!.traceparent, `00-${TRACE_ID}-${post!.spanContext().spanId}-01`);
  });

  it('with tracing off, pass the caller\'s traceparent on unchanged', async () => {
    seen = [];
    const tracing = new Tracing({ env: {}, registerGlobal: false });
    const req = tracing.startRequest('POST', '/predict', '/predict', { traceparent: TRACEPARENT, tracestate: 'vendor=1' });
    assert.equal(req.traceId, TRACE_ID, 'the access log still gets the trace id');
    await tracing.fetchWith(req.context)(`${downstream}/x`);
    assert.equal(seen[0]!.traceparent, TRACEPARENT);
    assert.equal(seen[0]!.tracestate, 'vendor=1');
    const headers: Record<string, string> = {};
    tracing.inject(tracing.startRequest('GET', '/', '/', {}).context, headers);
    assert.deepEqual(headers, {}, 'nothing to propagate without a caller or a span');
  });

  it('propagate a not-sampled decision without exporting anything', async () => {
    seen = [];
    const { tracing, exporter } = inMemory({ sampler: new AlwaysOffSampler() });
    const req = tracing.startRequest('POST', '/predict', '/predict', {});
    assert.match(req.traceId!, /^[0-9a-f]{32}$/);
    await tracing.fetchWith(req.context)(`${downstream}/x`);
    tracing.endRequest(req.span, 200);
    assert.equal(exporter.getFinishedSpans().length, 0);
    assert.match(String(seen[0]!.traceparent), new RegExp(`^00-${req.traceId}-[0-9a-f]{16}-00$`));
  });
});

interface OtlpBody {
  resourceSpans: {
    resource: { attributes: { key: string; value: { stringValue?: string } }[] };
    scopeSpans: {
      spans: {
        name: string; traceId: string | undefined; spanId: string | undefined; parentSpanId?: string; traceState?: string; kind: number;
        status: { code: number }; events: { name: string }[]; links: { spanId: string | undefined }[];
      }[];
    }[];
  }[];
}

/** The body with ids and times blanked, to compare two exports of equivalent spans. */
function shape(body: OtlpBody): unknown {
  return JSON.parse(JSON.stringify(body, (k, v: unknown) => (/^(spanId|parentSpanId|traceId|\w+UnixNano)$/.test(k) ? '*' : v)));
}

describe('OTLP export', () => {
  // protobuf is the specification's default encoding; JSON is chosen with OTEL_EXPORTER_OTLP_PROTOCOL.
  for (const protocol of [undefined, 'http/json'] as const) {
    it(`sends spans to the collector named by OTEL_EXPORTER_OTLP_ENDPOINT as ${protocol ?? 'http/protobuf (default)'}`, async () => {
      let first: OtlpBody | undefined;
      const bodies: { url: string | undefined; type: string | undefined; body: Buffer }[] = [];
      const collector = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (d: Buffer) => chunks.push(d));
        req.on('end', () => {
          bodies.push({ url: req.url, type: req.headers['content-type'], body: Buffer.concat(chunks) });
          res.setHeader('content-type', req.headers['content-type'] ?? 'application/json');
          res.end(protocol === 'http/json' ? '{}' : '');
        });
      });
      await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
      const port = (collector.address() as AddressInfo).port;
      try {
        // In the export worker (the default) and on the event loop: the collector must get the same request.
        for (const exportInWorker of [true, false]) {
          bodies.length = 0;
          const tracing = new Tracing({
            env: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}/`, ...(protocol ? { OTEL_EXPORTER_OTLP_PROTOCOL: protocol } : {}) },
            serviceName: 'fraud',
            registerGlobal: false,
            exportInWorker,
          });
          assert.equal(tracing.enabled, true);
          const req = tracing.startRequest('POST', '/score', '/score', { traceparent: TRACEPARENT, tracestate: 'v=1' });
          const batch = tracing.startBatchSpan('tiffin.batch', [req.context], { 'tiffin.batch.size': 2 });
          batch.addEvent('split', { rows: 2 });
          batch.end();
          tracing.endRequest(req.span, 503, new Error('overloaded'));
          await tracing.shutdown();
          assert.equal(bodies.length, 1, `one export (worker: ${exportInWorker})`);
          assert.equal(bodies[0]!.url, '/v1/traces');
          let sent: OtlpBody;
          if (protocol === 'http/json') {
            assert.match(bodies[0]!.type!, /application\/json/);
            sent = JSON.parse(bodies[0]!.body.toString()) as OtlpBody;
          } else {
            assert.match(bodies[0]!.type!, /application\/x-protobuf/);
            sent = decodeTraceRequest(bodies[0]!.body);
            assert.equal(countSpans(bodies[0]!.body), 2);
          }
          const rs = sent.resourceSpans[0]!;
          assert.ok(rs.resource.attributes.some((a) => a.key === 'service.name' && a.value.stringValue === 'fraud'));
          const spans = rs.scopeSpans[0]!.spans;
          assert.deepEqual(spans.map((s) => s.name).sort(), ['POST /score', 'tiffin.batch']);
          const server = spans.find((s) => s.name === 'POST /score')!;
          assert.equal(server.traceId, TRACE_ID);
          assert.equal(server.parentSpanId, PARENT_ID);
          assert.equal(server.traceState, 'v=1');
          assert.equal(server.kind, 2);
          assert.equal(server.status.code, 2);
          assert.equal(server.events[0]!.name, 'exception');
          const b = spans.find((s) => s.name === 'tiffin.batch')!;
          assert.equal(b.links[0]!.spanId, server.spanId);
          assert.equal(b.events[0]!.name, 'split');
          if (exportInWorker) first = sent;
          else assert.deepEqual(shape(sent), shape(first!), 'the worker sends what the direct exporter sends');
        }
      } finally {
        collector.close();
      }
    });
  }

  it('batches in the export worker as OTEL_BSP_* say, and refuses values that are not counts', async () => {
    const received: number[] = [];
    const collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        received.push(countSpans(Buffer.concat(chunks)));
        res.end('');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const spans = (tracing: Tracing, n: number) => {
      for (let i = 0; i < n; i++) tracing.endRequest(tracing.startRequest('POST', '/score', '/score', {}).span, 200);
    };
    try {
      // A full batch of 2 goes at once; the third span waits for its (minute-long) delay, so only shutdown sends it.
      const batched = new Tracing({
        env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '60000' },
        registerGlobal: false,
      });
      spans(batched, 3);
      // The worker starts on the first batch (a cold import can take a while); then the third span must still wait.
      for (let waited = 0; received.length === 0 && waited < 10_000; waited += 20) await sleep(20);
      await sleep(500);
      assert.deepEqual(received, [2]);
      await batched.shutdown();
      assert.deepEqual(received, [2, 1]);

      // Beyond a queue of 3, spans are dropped rather than held.
      received.length = 0;
      const bounded = new Tracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_BSP_MAX_QUEUE_SIZE: '3' }, registerGlobal: false });
      spans(bounded, 5);
      await bounded.shutdown();
      assert.deepEqual(received, [3]);
    } finally {
      collector.close();
    }
    assert.deepEqual(batchOptionsFromEnv({ OTEL_BSP_SCHEDULE_DELAY: ' 0 ' }), { delayMs: 0 });
    assert.throws(() => batchOptionsFromEnv({ OTEL_BSP_SCHEDULE_DELAY: '-1' }), /OTEL_BSP_SCHEDULE_DELAY='-1' is not a whole number of at least 0/);
    for (const bad of ['0', '-5', '2.5', 'soon']) {
      assert.throws(
        () => batchOptionsFromEnv({ OTEL_BSP_MAX_QUEUE_SIZE: bad }),
        (err: unknown) => isTiffinError(err, 'CONFIG_INVALID') && (err as Error).message.includes(`OTEL_BSP_MAX_QUEUE_SIZE='${bad}'`),
      );
    }
  });

  it('reads the protocol from the signal-specific variable first, and refuses gRPC with a clear error', () => {
    assert.equal(otlpTracesProtocol({}), 'http/protobuf');
    assert.equal(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), 'http/json');
    assert.equal(otlpTracesProtocol({ OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf' }), 'http/protobuf');
    assert.throws(
      () => new Tracing({ env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, registerGlobal: false }),
      (err: unknown) => isTiffinError(err, 'CONFIG_INVALID') && /'grpc' is not supported.*4318/.test((err as Error).message),
    );
  });
});

describe('default sampling', () => {
  it('starts at most N new traces per second, refilling with time', () => {
    let now = 0;
    const s = new RateLimitingSampler(100, () => now);
    const sampled = () => s.shouldSample().decision === SamplingDecision.RECORD_AND_SAMPLED;
    let n = 0;
    for (let i = 0; i < 150; i++) if (sampled()) n++;
    assert.equal(n, 100, 'a full bucket, then nothing');
    now += 500;
    n = 0;
    for (let i = 0; i < 150; i++) if (sampled()) n++;
    assert.equal(n, 50, 'half a second refills half');
  });

  it('refills in steps of 100 ms, so traced requests come in runs of consecutive requests', () => {
    let now = 0;
    const drain = (s: RateLimitingSampler, at: number) => {
      now = at;
      let n = 0;
      while (s.take()) n++;
      return n;
    };
    const s = new RateLimitingSampler(100, () => now);
    assert.equal(drain(s, 0), 100);
    assert.equal(drain(s, 99.9), 0, 'nothing before the step is due');
    assert.equal(drain(s, 100), 10, "the step's ten at once");
    assert.equal(drain(s, 150), 0);
    assert.equal(drain(s, 420), 30, 'three steps since: thirty');
    assert.equal(drain(s, 499), 0, 'steps keep their own clock, not the time of the last call');
    assert.equal(drain(s, 500), 10);
    // Two a second: a fifth of a token a step, so one trace every 500 ms.
    const slow = new RateLimitingSampler(2, () => now);
    assert.equal(drain(slow, 500), 2);
    assert.deepEqual([900, 1000, 1400, 1500].map((t) => drain(slow, t)), [0, 1, 0, 1]);
  });

  it('always continues a trace its caller sampled, and rations new ones', () => {
    const { tracing, exporter } = inMemory({ maxTracesPerSecond: 2 });
    for (let i = 0; i < 5; i++) tracing.endRequest(tracing.startRequest('GET', '/a', '/a', {}).span, 200);
    for (let i = 0; i < 5; i++) tracing.endRequest(tracing.startRequest('GET', '/b', '/b', { traceparent: TRACEPARENT }).span, 200);
    const unsampledCaller = tracing.startRequest('GET', '/c', '/c', { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` });
    assert.equal(unsampledCaller.traceId, TRACE_ID, 'an unsampled caller\'s trace still carries on');
    assert.equal(unsampledCaller.span.isRecording(), false);
    const headers: Record<string, string> = {};
    tracing.inject(unsampledCaller.context, headers);
    assert.match(headers.traceparent!, new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
    const names = exporter.getFinishedSpans().map((s) => s.name);
    assert.equal(names.filter((n) => n === 'GET /a').length, 2);
    assert.equal(names.filter((n) => n === 'GET /b').length, 5);
    assert.equal(names.filter((n) => n === 'GET /c').length, 0);
  });

  it('gives a new trace it does not sample no ids, no span and nothing to propagate', () => {
    const { tracing } = inMemory({ maxTracesPerSecond: 1 });
    tracing.endRequest(tracing.startRequest('GET', '/a', '/a', {}).span, 200); // takes the only token
    const unsampled = tracing.startRequest('GET', '/a', '/a', {});
    assert.equal(unsampled.traceId, undefined);
    assert.equal(unsampled.span.isRecording(), false);
    const headers: Record<string, string> = {};
    tracing.inject(unsampled.context, headers);
    assert.deepEqual(headers, {});
  });
});
