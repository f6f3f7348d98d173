// Finished spans as plain, structured-cloneable objects, to hand them to the export worker: serialising
// spans to OTLP costs more than recording them, so the event loop only copies them out.
import type { Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace-base';
import type { InstrumentationScope } from '@opentelemetry/core';

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

/** A minimal TraceState: the OTLP serialiser only calls serialize(). */
function traceState(serialized: string | undefined): SpanContext['traceState'] {
  if (serialized === undefined) return undefined;
  return {
    serialize: () => serialized,
    get: () => undefined,
    set() {
      return this;
    },
    unset() {
      return this;
    },
  };
}

function spanContext(c: WireContext): SpanContext {
  const out: SpanContext = { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags };
  const ts = traceState(c.traceState);
  if (ts) out.traceState = ts;
  if (c.isRemote !== undefined) out.isRemote = c.isRemote;
  return out;
}

/** Rebuilds a ReadableSpan for the official OTLP serialiser. `resource` is shared, as the serialiser groups by it. */
export function fromWire(w: WireSpan, resource: Resource, scopes: Map<string, InstrumentationScope>): ReadableSpan {
  const ctx = spanContext(w.context);
  const key = `${w.scope.name}@${w.scope.version ?? ''}:${w.scope.schemaUrl ?? ''}`;
  let scope = scopes.get(key);
  if (!scope) {
    scope = { name: w.scope.name, ...(w.scope.version ? { version: w.scope.version } : {}), ...(w.scope.schemaUrl ? { schemaUrl: w.scope.schemaUrl } : {}) };
    scopes.set(key, scope);
  }
  const links: Link[] = w.links.map((l) => ({
    context: spanContext(l.context),
    ...(l.attributes ? { attributes: l.attributes } : {}),
    ...(l.droppedAttributesCount !== undefined ? { droppedAttributesCount: l.droppedAttributesCount } : {}),
  }));
  return {
    name: w.name,
    kind: w.kind,
    spanContext: () => ctx,
    ...(w.parent ? { parentSpanContext: spanContext(w.parent) } : {}),
    startTime: w.startTime,
    endTime: w.endTime,
    status: w.status,
    attributes: w.attributes,
    links,
    events: w.events,
    duration: [w.endTime[0] - w.startTime[0], w.endTime[1] - w.startTime[1]],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: w.droppedAttributesCount,
    droppedEventsCount: w.droppedEventsCount,
    droppedLinksCount: w.droppedLinksCount,
  };
}
