// The spans Tiffin starts itself (a request's, its model calls', a batch's), recorded without the SDK's Tracer.
// At the default sampling about one request in a hundred is traced, so tracing code runs rarely and cold: on the
// 2-core VM, the SDK's span path cost a traced request 12.6 µs when every request was traced but 24 µs at one
// in a hundred and 88 µs at one in a thousand (bench/RESULTS.md, "Telemetry cost"), and slowed the requests
// around it. This class does the same recording with far less code and no per-span closures or arrays: times
// are kept as epoch milliseconds and turned into HrTime only when an exporter reads them. It is both the API's
// Span (what handlers and Tiffin's code call) and the SDK's ReadableSpan (what span processors and exporters
// read), with the SDK's rules for limits, status, events and links. Spans that user code starts through
// @opentelemetry/api still come from the SDK's provider; both end in the same span processors.
import { diag, type Attributes, type AttributeValue, type Exception, type HrTime, type Link, type Span, type SpanContext, type SpanKind, type SpanStatus, type TimeInput, SpanStatusCode } from '@opentelemetry/api';
import { hrTimeDuration, isAttributeValue, isTimeInput, isTimeInputHrTime, millisToHrTime, sanitizeAttributes, type InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, SpanProcessor, TimedEvent } from '@opentelemetry/sdk-trace-base';

/** The SDK's span limits (OTEL_SPAN_*_LIMIT; see span-config.ts). */
export interface SpanLimits {
  attributeCount: number;
  /** Longest string attribute value; Infinity for none. */
  attributeValueLength: number;
  eventCount: number;
  linkCount: number;
  attributesPerEvent: number;
  attributesPerLink: number;
}

/** What every span of one Tracing shares. */
export interface SpanSink {
  readonly resource: Resource;
  readonly scope: InstrumentationScope;
  readonly limits: SpanLimits;
  readonly processors: readonly SpanProcessor[];
}

// Wall-clock milliseconds from the monotonic clock: sub-millisecond, and cheap. Re-anchored to Date.now() once a
// second when the two have drifted apart by more than 2 ms (an NTP step), so timestamps stay true over weeks of
// uptime without jumping back and forth by Date.now()'s millisecond rounding.
let offset = Date.now() - performance.now();
let checkedAt = performance.now();

/** Now, in epoch milliseconds (what Tiffin's span times and the runner's batch times are measured in). */
export function epochNowMs(): number {
  const now = performance.now();
  if (now - checkedAt > 1000) {
    checkedAt = now;
    const fresh = Date.now() - now;
    if (Math.abs(fresh - offset) > 2) offset = fresh;
  }
  return offset + now;
}

/** A TimeInput (epoch ms, performance.now() ms, Date or HrTime) in epoch milliseconds, as the SDK reads it. */
export function toEpochMs(time: TimeInput | undefined): number {
  if (time === undefined) return epochNowMs();
  if (typeof time === 'number') return time <= performance.now() ? offset + time : time;
  if (time instanceof Date) return time.getTime();
  return isTimeInputHrTime(time) ? time[0] * 1000 + time[1] / 1e6 : epochNowMs();
}

/** Room for one more entry in `list` under `limit`, the oldest dropped when it is full (the SDK keeps the newest):
 * 0 when nothing was dropped, 1 when the oldest was, -1 when the limit allows none (the new one is dropped). */
function makeRoom(list: unknown[], limit: number): -1 | 0 | 1 {
  if (limit === 0) return -1;
  if (list.length < limit) return 0;
  list.shift();
  return 1;
}

function truncate(value: AttributeValue, limit: number): AttributeValue {
  if (typeof value === 'string') return value.length > limit ? value.slice(0, limit) : value;
  if (Array.isArray(value)) return value.map((v) => (typeof v === 'string' && v.length > limit ? v.slice(0, limit) : v)) as AttributeValue;
  return value;
}

/** Valid attributes up to `max` of them, values truncated; and how many were dropped. */
function limited(attributes: Attributes | undefined, max: number, valueLength: number): { attributes: Attributes; dropped: number } {
  const out: Attributes = {};
  let n = 0;
  let dropped = 0;
  const clean = sanitizeAttributes(attributes);
  for (const key in clean) {
    if (n >= max) dropped++;
    else {
      out[key] = truncate(clean[key]!, valueLength);
      n++;
    }
  }
  return { attributes: out, dropped };
}

export class RecordedSpan implements Span, ReadableSpan {
  readonly attributes: Attributes = {};
  readonly links: Link[] = [];
  readonly events: TimedEvent[] = [];
  status: SpanStatus = { code: SpanStatusCode.UNSET };
  droppedAttributesCount = 0;
  droppedEventsCount = 0;
  droppedLinksCount = 0;
  ended = false;
  private attributeCount = 0;
  private readonly startMs: number;
  private endMs = 0;

  constructor(
    private readonly sink: SpanSink,
    public name: string,
    readonly kind: SpanKind,
    private readonly context: SpanContext,
    readonly parentSpanContext: SpanContext | undefined,
    attributes: Attributes | undefined,
    links: readonly Link[] | undefined,
    startTime: TimeInput | undefined,
  ) {
    this.startMs = toEpochMs(startTime);
    if (attributes) this.setAttributes(attributes);
    if (links) for (const link of links) this.addLink(link);
  }

  get resource(): Resource {
    return this.sink.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.sink.scope;
  }

  get startTime(): HrTime {
    return millisToHrTime(this.startMs);
  }

  /** [0, 0] until the span has ended, as the SDK's. */
  get endTime(): HrTime {
    return this.ended ? millisToHrTime(this.endMs) : [0, 0];
  }

  get duration(): HrTime {
    return this.ended ? hrTimeDuration(this.startTime, this.endTime) : [-1, -1];
  }

  spanContext(): SpanContext {
    return this.context;
  }

  isRecording(): boolean {
    return !this.ended;
  }

  setAttribute(key: string, value: AttributeValue): this {
    if (value == null || this.endedAlready()) return this;
    if (key.length === 0 || !isAttributeValue(value)) {
      diag.warn(`Invalid attribute ${key.length === 0 ? 'key' : `value for key ${key}`}`);
      return this;
    }
    const isNew = !Object.hasOwn(this.attributes, key);
    if (isNew && this.attributeCount >= this.sink.limits.attributeCount) {
      this.droppedAttributesCount++;
      return this;
    }
    this.attributes[key] = truncate(value, this.sink.limits.attributeValueLength);
    if (isNew) this.attributeCount++;
    return this;
  }

  setAttributes(attributes: Attributes): this {
    for (const key in attributes) if (Object.hasOwn(attributes, key)) this.setAttribute(key, attributes[key]!);
    return this;
  }

  addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
    if (this.endedAlready()) return this;
    const { eventCount, attributesPerEvent, attributeValueLength } = this.sink.limits;
    const room = makeRoom(this.events, eventCount);
    if (room !== 0) this.droppedEventsCount++;
    if (room < 0) return this;
    let attributes: Attributes | undefined;
    if (isTimeInput(attributesOrTime)) {
      if (!isTimeInput(time)) time = attributesOrTime;
    } else attributes = attributesOrTime;
    const kept = limited(attributes, attributesPerEvent, attributeValueLength);
    this.events.push({ name, attributes: kept.attributes, time: millisToHrTime(toEpochMs(time)), droppedAttributesCount: kept.dropped });
    return this;
  }

  addLink(link: Link): this {
    if (this.endedAlready()) return this;
    const { linkCount, attributesPerLink, attributeValueLength } = this.sink.limits;
    const room = makeRoom(this.links, linkCount);
    if (room !== 0) this.droppedLinksCount++;
    if (room < 0) return this;
    const out: Link = { context: link.context };
    if (link.attributes) {
      const kept = limited(link.attributes, attributesPerLink, attributeValueLength);
      if (Object.keys(kept.attributes).length > 0) out.attributes = kept.attributes;
      if (kept.dropped > 0) out.droppedAttributesCount = kept.dropped;
    }
    this.links.push(out);
    return this;
  }

  addLinks(links: Link[]): this {
    for (const link of links) this.addLink(link);
    return this;
  }

  /** UNSET is ignored and OK is final, as the API specifies; a message is kept only with ERROR. */
  setStatus(status: SpanStatus): this {
    if (this.endedAlready() || status.code === SpanStatusCode.UNSET || this.status.code === SpanStatusCode.OK) return this;
    this.status = status.code === SpanStatusCode.ERROR && typeof status.message === 'string' ? { code: status.code, message: status.message } : { code: status.code };
    return this;
  }

  updateName(name: string): this {
    if (!this.endedAlready()) this.name = name;
    return this;
  }

  recordException(exception: Exception, time?: TimeInput): void {
    const attributes: Attributes = {};
    if (typeof exception === 'string') attributes['exception.message'] = exception;
    else if (exception) {
      if (exception.code) attributes['exception.type'] = String(exception.code);
      else if (exception.name) attributes['exception.type'] = exception.name;
      if (exception.message) attributes['exception.message'] = exception.message;
      if (exception.stack) attributes['exception.stacktrace'] = exception.stack;
    }
    if (attributes['exception.type'] || attributes['exception.message']) this.addEvent('exception', attributes, time);
    else diag.warn(`Failed to record an exception ${String(exception)}`);
  }

  end(endTime?: TimeInput): void {
    if (this.ended) {
      diag.error(`${this.name} ${this.context.traceId}-${this.context.spanId}: end() was called on a span more than once`);
      return;
    }
    // A span that would end before it started gets no length, as in the SDK.
    this.endMs = Math.max(this.startMs, toEpochMs(endTime));
    this.ended = true;
    for (const p of this.sink.processors) p.onEnd(this);
  }

  private endedAlready(): boolean {
    if (this.ended) diag.warn(`Cannot change span ${this.context.traceId}-${this.context.spanId}: it has ended`);
    return this.ended;
  }
}
