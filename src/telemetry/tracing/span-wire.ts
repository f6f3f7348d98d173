// Finished spans as JSON text, to hand them to the export worker: serialising spans to OTLP costs more than
// recording them, so the event loop only copies them out. As one JSON string each rather than as objects:
// postMessage clones an object graph field by field (2.5-6 µs a span, measured) but a string in one copy.
// otlp-worker.js parses this shape and rebuilds the ReadableSpan from it; the two change together.
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

/** JSON has no NaN or Infinity: a number that is neither is sent as its name, a string, rather than as null. */
function jsonSafe<A extends Attributes | undefined>(attributes: A): A {
  if (attributes === undefined) return attributes;
  let safe = true;
  for (const key in attributes) if (!isJsonSafe(attributes[key])) safe = false;
  if (safe) return attributes;
  const out: Attributes = {};
  for (const key in attributes) out[key] = toJsonSafe(attributes[key]) as Attributes[string];
  return out as A;
}

function isJsonSafe(v: unknown): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  return !Array.isArray(v) || v.every(isJsonSafe);
}

function toJsonSafe(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  return Array.isArray(v) ? v.map(toJsonSafe) : v;
}

/** A finished span as one JSON string (a WireSpan). */
export function toWireJson(span: ReadableSpan): string {
  return JSON.stringify(toWire(span));
}

function toWire(span: ReadableSpan): WireSpan {
  const scope = span.instrumentationScope;
  return {
    name: span.name,
    kind: span.kind,
    context: wireContext(span.spanContext()),
    parent: span.parentSpanContext ? wireContext(span.parentSpanContext) : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: jsonSafe(span.attributes),
    events: span.events.length === 0 ? span.events : span.events.map((e) => ({ ...e, attributes: jsonSafe(e.attributes) })),
    links: span.links.map((l) => ({ context: wireContext(l.context), attributes: jsonSafe(l.attributes), droppedAttributesCount: l.droppedAttributesCount })),
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
    scope: { name: scope.name, version: scope.version, schemaUrl: scope.schemaUrl },
  };
}
