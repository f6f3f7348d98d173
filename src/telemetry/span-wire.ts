// Finished spans as plain, structured-cloneable objects, to hand them to the export worker: serialising
// spans to OTLP costs more than recording them, so the event loop only copies them out. otlp-worker.js
// rebuilds the ReadableSpan shape from this one; the two change together.
import type { Attributes, HrTime, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';

interface WireContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState: string | undefined;
  isRemote: boolean | undefined;
}

export interface WireSpan {
  name: string;
  kind: SpanKind;
  context: WireContext;
  parent: WireContext | undefined;
  startTime: HrTime;
  endTime: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  events: TimedEvent[];
  links: { context: WireContext; attributes: Attributes | undefined; droppedAttributesCount: number | undefined }[];
  droppedAttributesCount: number;
  droppedEventsCount: number;
  droppedLinksCount: number;
  scope: { name: string; version: string | undefined; schemaUrl: string | undefined };
}

function wireContext(c: SpanContext): WireContext {
  return { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags, traceState: c.traceState?.serialize(), isRemote: c.isRemote };
}

export function toWire(span: ReadableSpan): WireSpan {
  const scope = span.instrumentationScope;
  return {
    name: span.name,
    kind: span.kind,
    context: wireContext(span.spanContext()),
    parent: span.parentSpanContext ? wireContext(span.parentSpanContext) : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: span.attributes,
    events: span.events,
    links: span.links.map((l) => ({ context: wireContext(l.context), attributes: l.attributes, droppedAttributesCount: l.droppedAttributesCount })),
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    scope: { name: scope.name, version: scope.version, schemaUrl: scope.schemaUrl },
  };
}
