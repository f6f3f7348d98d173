import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ROOT_CONTEXT, SpanStatusCode, trace, TraceFlags } from '@opentelemetry/api';
import { hrTimeToMilliseconds } from '@opentelemetry/core';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { isTiffinError } from '../../errors/index.ts';
import { samplerFromEnv, spanLimitsFromEnv } from './span-config.ts';
import { Tracing } from './tracing.ts';

const TRACEPARENT = (flags: string) => `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-${flags}`;

function inMemory(env: Record<string, string> = {}, maxTracesPerSecond = 1000): { tracing: Tracing; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter();
  const tracing = new Tracing({ exporter, processor: 'simple', registerGlobal: false, env, maxTracesPerSecond });
  return { tracing, spans: () => exporter.getFinishedSpans() };
}

function only(spans: ReadableSpan[]): ReadableSpan {
  assert.equal(spans.length, 1);
  return spans[0]!;
}

describe("Tiffin's recorded spans", () => {
  it('take valid attributes within the limits, count what they drop, and truncate long strings', () => {
    const { tracing, spans } = inMemory({ OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '3', OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: '4' });
    const span = tracing.startSpan('work', ROOT_CONTEXT, { attributes: { a: 'abcdefgh', b: ['xyz12', 'ab'], mixed: ['x', 1] as never } });
    span.setAttribute('', 1);
    span.setAttribute('bad', { nested: true } as never);
    span.setAttribute('c', true);
    span.setAttribute('d', 4); // a fourth key: dropped
    span.setAttribute('a', 'replaced'); // an existing key still updates
    span.end();
    span.setAttribute('late', 1); // after end: ignored
    const s = only(spans());
    assert.deepEqual(s.attributes, { a: 'repl', b: ['xyz1', 'ab'], c: true }); // arrays must hold one type
    assert.equal(s.droppedAttributesCount, 1);
  });

  it('keep the newest events within the limit, and record exceptions as the SDK does', () => {
    const { tracing, spans } = inMemory({ OTEL_SPAN_EVENT_COUNT_LIMIT: '2', OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT: '3' });
    const span = tracing.startSpan('work', ROOT_CONTEXT);
    span.addEvent('first');
    span.addEvent('second', { x: 1, y: 2, z: 3, w: 4 });
    const err = Object.assign(new Error('disk full'), { code: 'ENOSPC' });
    span.recordException(err, new Date(1_700_000_000_000));
    span.end();
    const s = only(spans());
    assert.deepEqual(s.events.map((e) => e.name), ['second', 'exception']);
    assert.equal(s.droppedEventsCount, 1);
    assert.deepEqual(s.events[0]!.attributes, { x: 1, y: 2, z: 3 });
    assert.equal(s.events[0]!.droppedAttributesCount, 1);
    const exception = s.events[1]!;
    assert.equal(exception.attributes!['exception.type'], 'ENOSPC');
    assert.equal(exception.attributes!['exception.message'], 'disk full');
    assert.match(String(exception.attributes!['exception.stacktrace']), /disk full/);
    assert.equal(hrTimeToMilliseconds(exception.time), 1_700_000_000_000);
  });

  it('follow the API on status: UNSET is ignored, OK is final, a message stays only with ERROR', () => {
    const { tracing, spans } = inMemory();
    const a = tracing.startSpan('a', ROOT_CONTEXT);
    a.setStatus({ code: SpanStatusCode.ERROR, message: 'bad input' });
    a.setStatus({ code: SpanStatusCode.UNSET });
    a.end();
    const b = tracing.startSpan('b', ROOT_CONTEXT);
    b.setStatus({ code: SpanStatusCode.OK, message: 'dropped' });
    b.setStatus({ code: SpanStatusCode.ERROR, message: 'too late' });
    b.end();
    const [sa, sb] = spans();
    assert.deepEqual(sa!.status, { code: SpanStatusCode.ERROR, message: 'bad input' });
    assert.deepEqual(sb!.status, { code: SpanStatusCode.OK });
  });

  it('take start and end times as epoch ms, Date, HrTime or performance.now(), and end only once', () => {
    const { tracing, spans } = inMemory();
    const t0 = 1_700_000_000_000;
    const a = tracing.startSpan('epoch', ROOT_CONTEXT, { startTime: t0 });
    a.end(new Date(t0 + 250));
    a.end(t0 + 999_999); // a second end() changes nothing and exports nothing more
    const perfStart = performance.now();
    const b = tracing.startSpan('performance', ROOT_CONTEXT, { startTime: perfStart });
    b.end([Math.floor((t0 + 10) / 1000), ((t0 + 10) % 1000) * 1e6]); // before its start: no length
    const [sa, sb] = spans();
    assert.equal(spans().length, 2);
    assert.equal(hrTimeToMilliseconds(sa!.startTime), t0);
    assert.equal(hrTimeToMilliseconds(sa!.endTime), t0 + 250);
    assert.equal(hrTimeToMilliseconds(sa!.duration), 250);
    assert.equal(sa!.ended, true);
    // performance.now() input lands at wall-clock time, within the clock's millisecond.
    assert.ok(Math.abs(hrTimeToMilliseconds(sb!.startTime) - Date.now()) < 1000);
    assert.deepEqual(sb!.duration, [0, 0]);
  });

  it('carry the resource, the scope, the kind and the parent', () => {
    const { tracing, spans } = inMemory();
    const req = tracing.startRequest('POST', '/v1/predict', '/v1/predict', { traceparent: TRACEPARENT('01') });
    const child = tracing.startSpan('tiffin.inference', req.context);
    child.end();
    tracing.endRequest(req.span, 200);
    const [c, r] = spans();
    assert.equal(c!.parentSpanContext!.spanId, r!.spanContext().spanId);
    assert.equal(r!.parentSpanContext!.spanId, '00f067aa0ba902b7');
    assert.equal(r!.parentSpanContext!.isRemote, true);
    assert.equal(c!.instrumentationScope.name, 'tiffin');
    assert.equal(r!.resource.attributes['service.name'], 'tiffin');
  });
});

describe('sampling and limits from OTEL_*', () => {
  it('reads OTEL_TRACES_SAMPLER from the Tracing\'s own environment', () => {
    const off = inMemory({ OTEL_TRACES_SAMPLER: 'always_off' });
    const req = off.tracing.startRequest('POST', '/p', '/p', { traceparent: TRACEPARENT('01') });
    assert.equal(req.span.isRecording(), false);
    assert.equal(req.traceId, '4bf92f3577b34da6a3ce929d0e0e4736'); // still carried on for logs and outgoing calls
    off.tracing.endRequest(req.span, 200);
    assert.equal(off.spans().length, 0);

    const ratio0 = inMemory({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' });
    ratio0.tracing.endRequest(ratio0.tracing.startRequest('POST', '/p', '/p', {}).span, 200); // a new trace: ratio 0
    ratio0.tracing.endRequest(ratio0.tracing.startRequest('POST', '/p', '/p', { traceparent: TRACEPARENT('01') }).span, 200);
    assert.equal(ratio0.spans().length, 1); // the caller's sampled trace continues
  });

  it('follows a parent it did not sample without recording, under Tiffin\'s default', () => {
    const { tracing, spans } = inMemory({}, 0);
    const req = tracing.startRequest('POST', '/p', '/p', { traceparent: TRACEPARENT('00') });
    const child = tracing.startSpan('child', req.context);
    assert.equal(child.isRecording(), false);
    assert.equal(child.spanContext().traceId, '4bf92f3577b34da6a3ce929d0e0e4736');
    assert.equal(child.spanContext().traceFlags, TraceFlags.NONE);
    // A span with no parent at all is a new trace, rationed like a request's: none at 0 a second.
    assert.equal(tracing.startSpan('orphan', ROOT_CONTEXT).isRecording(), false);
    assert.equal(trace.isSpanContextValid(tracing.startSpan('orphan', ROOT_CONTEXT).spanContext()), false);
    child.end();
    assert.equal(spans().length, 0);
  });

  it('refuses a sampler, a ratio or a limit it cannot read, naming the variable', () => {
    const refused = (f: () => unknown, name: string) =>
      assert.throws(f, (err: unknown) => isTiffinError(err) && err.code === 'CONFIG_INVALID' && err.message.includes(name));
    refused(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'jaeger_remote' }), 'OTEL_TRACES_SAMPLER');
    refused(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }), 'OTEL_TRACES_SAMPLER_ARG');
    refused(() => spanLimitsFromEnv({ OTEL_SPAN_LINK_COUNT_LIMIT: '-1' }), 'OTEL_SPAN_LINK_COUNT_LIMIT');
    refused(() => new Tracing({ env: { OTEL_TRACES_EXPORTER: 'console', OTEL_ATTRIBUTE_COUNT_LIMIT: 'many' }, registerGlobal: false }), 'OTEL_ATTRIBUTE_COUNT_LIMIT');
    assert.equal(samplerFromEnv({}), undefined);
    assert.equal(String(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'TraceIdRatio' })), 'TraceIdRatioBased{1}');
    assert.deepEqual(spanLimitsFromEnv({ OTEL_ATTRIBUTE_COUNT_LIMIT: '10', OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: '5' }).attributeCount, 5);
    assert.equal(spanLimitsFromEnv({}).attributeValueLength, Infinity);
  });
});
