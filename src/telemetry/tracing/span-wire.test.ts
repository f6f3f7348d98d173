import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { toWireJson, type WireSpan } from './span-wire.ts';
import { Tracing } from './tracing.ts';

describe('spans as JSON for the export worker', () => {
  it('keeps every field, and sends numbers JSON cannot hold (NaN, ±Infinity) as their names', async () => {
    const exporter = new InMemorySpanExporter();
    const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env: {} });
    const request = tracing.startRequest('POST', '/score', '/score', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', tracestate: 'v=1' });
    const span = tracing.startBatchSpan('tiffin.batch', [request.context], { rows: 3, ratio: NaN, bounds: [1, Infinity], model: 'iris' });
    span.addEvent('split', { parts: 2, scale: -Infinity });
    span.end();
    tracing.endRequest(request.span, 200);
    const [batch, server] = exporter.getFinishedSpans();
    const wire = JSON.parse(toWireJson(batch!)) as WireSpan;
    assert.equal(wire.name, 'tiffin.batch');
    assert.deepEqual(wire.attributes, { rows: 3, ratio: 'NaN', bounds: [1, 'Infinity'], model: 'iris' });
    assert.deepEqual(wire.events[0]!.attributes, { parts: 2, scale: '-Infinity' });
    assert.deepEqual(wire.startTime, batch!.startTime);
    assert.equal(wire.context.spanId, batch!.spanContext().spanId);
    assert.equal(wire.parent!.spanId, server!.spanContext().spanId);
    assert.equal(wire.links[0]!.context.spanId, server!.spanContext().spanId);
    // The span's own attributes are left as they were.
    assert.ok(Number.isNaN(batch!.attributes.ratio));

    const fromServer = JSON.parse(toWireJson(server!)) as WireSpan;
    assert.equal(fromServer.parent!.spanId, '00f067aa0ba902b7');
    assert.equal(fromServer.parent!.traceState, 'v=1');
    assert.equal(fromServer.attributes['http.response.status_code'], 200);
    await tracing.shutdown();
  });
});
