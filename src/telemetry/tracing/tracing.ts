// OpenTelemetry tracing: one SERVER span per request (continuing the caller's W3C `traceparent`), child
// spans for queue wait, batches and model runs, CLIENT spans for calls to other services with the trace
// context injected. Configured by the standard OTEL_* variables. Contexts are passed explicitly rather
// than read from the ambient async context, so Tiffin's own spans never depend on a global context manager.
// Spans come from the SDK's tracer, for Tiffin's own and for those user code starts alike. Tiffin's default
// sampling (callers' sampled traces plus a rationed number of new ones) is decided before the tracer is asked,
// so an unsampled request makes no span, ids or context at all.
import {
  context as otelContext,
  defaultTextMapGetter,
  defaultTextMapSetter,
  INVALID_SPAN_CONTEXT,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type SpanContext,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type TextMapSetter,
  type TimeInput,
  type Tracer,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPJsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtobufTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  RandomIdGenerator,
  SimpleSpanProcessor,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { TiffinError } from '../../errors/index.ts';
import { RateLimitingSampler } from './rate-limiting-sampler.ts';
import { samplerFromEnv, spanLimitsFromEnv } from './span-config.ts';
import { WorkerSpanProcessor, type WorkerSpanProcessorOptions } from './worker-span-processor.ts';

/** New traces per second that Tiffin starts at most, unless OTEL_TRACES_SAMPLER says otherwise. */
export const DEFAULT_MAX_TRACES_PER_SECOND = 100;
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
} from '@opentelemetry/semantic-conventions';

/** OpenTelemetry's RPC attributes (still in the incubating part of the semantic conventions package). */
const ATTR_RPC_SYSTEM = 'rpc.system';
const ATTR_RPC_SERVICE = 'rpc.service';
const ATTR_RPC_METHOD = 'rpc.method';

/** Tiffin's own span attribute names. */
export const TIFFIN_ATTR = {
  requestId: 'tiffin.request_id',
  model: 'tiffin.model',
  version: 'tiffin.model.version',
  batchSize: 'tiffin.batch.size',
  batchReason: 'tiffin.batch.reason',
  variant: 'tiffin.variant',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

export interface TracingOptions {
  /** service.name when OTEL_SERVICE_NAME is unset (default 'tiffin'). */
  serviceName?: string;
  serviceVersion?: string;
  /** An explicit exporter (tests: InMemorySpanExporter). Given one, tracing is on whatever the environment says,
   * except OTEL_SDK_DISABLED. */
  exporter?: SpanExporter;
  /** 'batch' (default) exports in the background; 'simple' exports each span as it ends (tests). */
  processor?: 'batch' | 'simple';
  /** Overrides OTEL_TRACES_SAMPLER. */
  sampler?: Sampler;
  /** Without OTEL_TRACES_SAMPLER or `sampler`: new traces started per second at most (default 100); requests whose
   * caller sampled them are always traced. Keeps tracing's cost flat as traffic grows. */
  maxTracesPerSecond?: number;
  /** Where OTEL_* are read (default process.env). */
  env?: Env;
  /** Install as the global tracer provider and propagator, so spans user code starts with @opentelemetry/api are
   * exported too (default true; the first Tracing in a process wins). */
  registerGlobal?: boolean;
  /** Also install an AsyncLocalStorage context manager, so `trace.getActiveSpan()` inside runWith() finds the
   * request's span. Off by default: on Node 20 it hooks every promise and costs several percent of throughput;
   * Tiffin's own spans pass their context explicitly and handlers have ctx.span. */
  activeContext?: boolean;
  /** Serialise and send OTLP in a worker thread (default true), keeping that work off the event loop. */
  exportInWorker?: boolean;
}

export type ExporterKind = 'otlp' | 'console';

/** What the OTEL_* variables ask for. Tracing is off unless an exporter is named or an OTLP endpoint is set, so a
 * server without a collector does not log export failures every few seconds. */
export function tracingConfigFromEnv(env: Env = process.env): { exporters: ExporterKind[]; serviceName: string | undefined } {
  const serviceName = env.OTEL_SERVICE_NAME || undefined;
  if (isTrue(env.OTEL_SDK_DISABLED)) return { exporters: [], serviceName };
  const named = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (named.length === 0) {
    const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
    return { exporters: endpoint ? ['otlp'] : [], serviceName };
  }
  if (named.includes('none')) return { exporters: [], serviceName };
  const exporters = named.filter((n): n is ExporterKind => n === 'otlp' || n === 'console');
  return { exporters: [...new Set(exporters)], serviceName };
}

/** The OTLP encodings Tiffin sends: protobuf (the specification's default) or JSON, both over HTTP. */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf. gRPC is refused with
 * a clear error at start-up rather than sending HTTP to a gRPC port and failing on every export. */
export function otlpTracesProtocol(env: Env = process.env): OtlpProtocol {
  const raw = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL || env.OTEL_EXPORTER_OTLP_PROTOCOL || 'http/protobuf').trim().toLowerCase();
  if ((OTLP_PROTOCOLS as readonly string[]).includes(raw)) return raw as OtlpProtocol;
  throw new TiffinError(
    'CONFIG_INVALID',
    `OTLP protocol '${raw}' is not supported: Tiffin sends traces over OTLP/HTTP as ${OTLP_PROTOCOLS.join(' or ')}; ` +
      'set OTEL_EXPORTER_OTLP_PROTOCOL to one of them and point the endpoint at the collector\'s HTTP port (usually 4318)',
  );
}

/** The OTLP/HTTP traces endpoint from `env`, as the spec says: the signal-specific one as is, the generic one plus
 * /v1/traces. Headers, timeout and compression the exporter reads from process.env itself. */
function otlpTracesUrl(env: Env): string | undefined {
  const specific = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  const generic = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  return specific || (generic ? `${generic.replace(/\/+$/, '')}/v1/traces` : undefined);
}

/** The batch span processor's OTEL_BSP_* settings for the export worker (the in-process BatchSpanProcessor reads
 * them itself). A value that is not a whole number in range stops start-up, naming the variable. */
export function batchOptionsFromEnv(env: Env = process.env): WorkerSpanProcessorOptions {
  const read = (name: string, min: 0 | 1): number | undefined => {
    const raw = env[name]?.trim();
    if (!raw) return undefined;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min) return n;
    throw new TiffinError('CONFIG_INVALID', `${name}='${raw}' is not a whole number of at least ${min}; unset it for the default or give one`);
  };
  const options: WorkerSpanProcessorOptions = {};
  const delayMs = read('OTEL_BSP_SCHEDULE_DELAY', 0);
  const maxBatch = read('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 1);
  const maxQueued = read('OTEL_BSP_MAX_QUEUE_SIZE', 1);
  if (delayMs !== undefined) options.delayMs = delayMs;
  if (maxBatch !== undefined) options.maxBatch = maxBatch;
  if (maxQueued !== undefined) options.maxQueued = maxQueued;
  return options;
}

function isTrue(v: string | undefined): boolean {
  return v !== undefined && v.trim().toLowerCase() === 'true';
}

/** A request's place in a trace. */
export interface RequestTrace {
  /** The SERVER span (a no-op span when tracing is off). */
  span: Span;
  /** Parent for this request's child spans and outgoing calls. With tracing off it still carries the
   * caller's trace context, so outgoing calls pass it on unchanged. */
  context: Context;
  /** For logs: this request's trace id, or the caller's when tracing is off; undefined when neither exists. */
  traceId: string | undefined;
}

const NOOP_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The trace of a request that is not traced (a probe, or a server without tracing). */
export const NO_REQUEST_TRACE: RequestTrace = Object.freeze({ span: NOOP_SPAN, context: ROOT_CONTEXT, traceId: undefined });

const headersSetter: TextMapSetter<Headers> = {
  set: (carrier, key, value) => carrier.set(key, value),
};

let globalInstalled = false;

export class Tracing {
  readonly enabled: boolean;
  /** What starts Tiffin's own spans (undefined when tracing is off). */
  private readonly tracer: Tracer | undefined;
  /** OTEL_TRACES_SAMPLER's sampler or the one given; undefined for Tiffin's default, the root limiter. */
  private readonly sampler: Sampler | undefined;
  /** Tiffin's default root sampling: new traces per second at most (undefined with another sampler). */
  private readonly rootLimiter: RateLimitingSampler | undefined;
  private readonly ids = new RandomIdGenerator();
  private readonly provider: NodeTracerProvider | undefined;
  private readonly propagator = new CompositePropagator({
    propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()],
  });

  constructor(options: TracingOptions = {}) {
    const env = options.env ?? process.env;
    const fromEnv = tracingConfigFromEnv(env);
    const kinds = isTrue(env.OTEL_SDK_DISABLED) ? [] : options.exporter ? ['given' as const] : fromEnv.exporters;
    this.enabled = kinds.length > 0;
    if (!this.enabled) return;

    const resource = defaultResource()
      .merge(
        resourceFromAttributes({
          [ATTR_SERVICE_NAME]: options.serviceName ?? 'tiffin',
          ...(options.serviceVersion ? { [ATTR_SERVICE_VERSION]: options.serviceVersion } : {}),
        }),
      )
      // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME win over what the code says, as the spec requires.
      .merge(detectResources({ detectors: [envDetector] }));
    const spanProcessors: SpanProcessor[] = kinds.map((kind) => {
      if (kind === 'given') {
        return options.processor === 'simple' ? new SimpleSpanProcessor(options.exporter!) : new BatchSpanProcessor(options.exporter!);
      }
      if (kind === 'console') return new SimpleSpanProcessor(new ConsoleSpanExporter());
      const url = otlpTracesUrl(env);
      const protocol = otlpTracesProtocol(env);
      if (options.exportInWorker !== false) {
        return new WorkerSpanProcessor({ url, protocol, resource: { ...resource.attributes } }, batchOptionsFromEnv(env));
      }
      const Exporter = protocol === 'http/json' ? OTLPJsonTraceExporter : OTLPProtobufTraceExporter;
      return new BatchSpanProcessor(new Exporter(url ? { url } : {}));
    });
    // OTEL_TRACES_SAMPLER (or `sampler`), when given, decides every span. Otherwise Tiffin's default applies:
    // callers' sampled traces and up to maxTracesPerSecond new ones. Its decision for a request is taken in
    // startRequest, before any span exists, so the (usual) unsampled request costs no more than that decision.
    this.sampler = options.sampler ?? samplerFromEnv(env);
    if (!this.sampler) this.rootLimiter = new RateLimitingSampler(options.maxTracesPerSecond ?? DEFAULT_MAX_TRACES_PER_SECOND);
    const limits = spanLimitsFromEnv(env);
    // Under Tiffin's default the provider's sampler follows the parent and traces a span without one: for Tiffin's
    // own spans the root limiter has already said yes (start()); for spans user code starts through
    // @opentelemetry/api, that is what they get.
    this.provider = new NodeTracerProvider({
      resource,
      spanProcessors,
      sampler: this.sampler ?? new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanLimits: {
        attributeCountLimit: limits.attributeCount,
        attributeValueLengthLimit: limits.attributeValueLength,
        eventCountLimit: limits.eventCount,
        linkCountLimit: limits.linkCount,
        attributePerEventCountLimit: limits.attributesPerEvent,
        attributePerLinkCountLimit: limits.attributesPerLink,
      },
    });
    this.tracer = this.provider.getTracer('tiffin');
    if ((options.registerGlobal ?? true) && !globalInstalled) {
      globalInstalled = true;
      this.provider.register({ propagator: this.propagator, ...(options.activeContext ? {} : { contextManager: null }) });
    }
  }

  /** Starts the SERVER span of a request, continuing the trace in its `traceparent` header when there is one. */
  startRequest(method: string, route: string | undefined, path: string, headers: Readonly<Record<string, unknown>>): RequestTrace {
    return this.startServerSpan(headers, () => {
      const attributes: Attributes = { [ATTR_HTTP_REQUEST_METHOD]: method, [ATTR_URL_PATH]: path };
      if (route !== undefined) attributes[ATTR_HTTP_ROUTE] = route;
      return { name: route === undefined ? method : `${method} ${route}`, attributes };
    });
  }

  /** Starts the SERVER span of a gRPC call (`service/method`), continuing a `traceparent` in its metadata. */
  startRpc(service: string, method: string, metadata: Readonly<Record<string, unknown>>): RequestTrace {
    return this.startServerSpan(metadata, () => ({
      name: `${service}/${method}`,
      attributes: { [ATTR_RPC_SYSTEM]: 'grpc', [ATTR_RPC_SERVICE]: service, [ATTR_RPC_METHOD]: method },
    }));
  }

  /** Ends a gRPC call's span; an error marks it failed. */
  endRpc(span: Span, error?: unknown): void {
    if (!span.isRecording()) return;
    if (error !== undefined) {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /** The sampling decision, then (for a sampled request) a SERVER span named and described by `describe`. */
  private startServerSpan(headers: Readonly<Record<string, unknown>>, describe: () => { name: string; attributes: Attributes }): RequestTrace {
    const parent = this.extract(headers);
    if (!this.tracer) {
      return { span: NOOP_SPAN, context: parent, traceId: trace.getSpanContext(parent)?.traceId };
    }
    let rootTaken = false;
    if (this.rootLimiter) {
      const caller = trace.getSpanContext(parent);
      // A new trace that is not sampled gets no ids at all: no span of it will exist anywhere, and making ids,
      // a span and a context for each such request was a measurable share of a small request's cost.
      if (caller === undefined) {
        if (!this.rootLimiter.take()) return NO_REQUEST_TRACE;
        rootTaken = true;
      } else if ((caller.traceFlags & TraceFlags.SAMPLED) === 0) return this.unsampled(parent, caller);
    }
    const { name, attributes } = describe();
    const span = this.start(name, SpanKind.SERVER, parent, attributes, undefined, undefined, rootTaken);
    return { span, context: trace.setSpan(parent, span), traceId: span.spanContext().traceId };
  }

  /** One of Tiffin's spans under `parent`, from the SDK's tracer, or the no-op span for a new trace that Tiffin's
   * default sampling does not take. `rootTaken`: the root limiter already said yes. */
  private start(
    name: string,
    kind: SpanKind,
    parent: Context,
    attributes: Attributes | undefined,
    links: Link[] | undefined,
    startTime: TimeInput | undefined,
    rootTaken = false,
  ): Span {
    if (!this.tracer) return NOOP_SPAN;
    if (!this.sampler && !rootTaken) {
      // Tiffin's default: a span without a parent starts a new trace, rationed like a request's.
      const parentContext = trace.getSpanContext(parent);
      const hasParent = parentContext !== undefined && trace.isSpanContextValid(parentContext);
      if (!hasParent && !this.rootLimiter!.take()) return NOOP_SPAN;
    }
    const options: { kind: SpanKind; attributes?: Attributes; links?: Link[]; startTime?: TimeInput } = { kind };
    if (attributes) options.attributes = attributes;
    if (links) options.links = links;
    if (startTime !== undefined) options.startTime = startTime;
    return this.tracer.startSpan(name, options, parent);
  }

  /** A span that records nothing but carries its trace (and a span id of its own) to child spans and calls. */
  private nonRecording(traceId: string, traceState: SpanContext['traceState']): Span {
    const sc: SpanContext = { traceId, spanId: this.ids.generateSpanId(), traceFlags: TraceFlags.NONE };
    if (traceState) sc.traceState = traceState;
    return trace.wrapSpanContext(sc);
  }

  /** A request its caller did not sample: a non-recording span that carries the caller's trace on. */
  private unsampled(parent: Context, caller: SpanContext): RequestTrace {
    const span = this.nonRecording(caller.traceId, caller.traceState);
    return { span, context: trace.setSpan(parent, span), traceId: caller.traceId };
  }

  /** Ends a request's span with its status; 5xx (and a thrown error) mark it failed. */
  endRequest(span: Span, status: number, error?: unknown): void {
    if (!span.isRecording()) return;
    span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    if (error !== undefined) span.recordException(error instanceof Error ? error : String(error));
    if (status >= 500) {
      span.setAttribute(ATTR_ERROR_TYPE, String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  /** A child span of `parent` (a no-op span when tracing is off). `startTime` in epoch ms lets a span start in the past,
   * for example a queue wait only known to have begun once the batch is dispatched. */
  startSpan(name: string, parent: Context, options: { attributes?: Attributes; links?: Link[]; kind?: SpanKind; startTime?: number } = {}): Span {
    return this.start(name, options.kind ?? SpanKind.INTERNAL, parent, options.attributes, options.links, options.startTime);
  }

  /** A span for work shared by several requests (a batch): child of the first, linked to all of them, following
   * OpenTelemetry's convention for batch processing. */
  startBatchSpan(name: string, members: readonly Context[], attributes: Attributes = {}, startTime?: number): Span {
    if (!this.tracer || members.length === 0) return NOOP_SPAN;
    const links: Link[] = [];
    for (const m of members) {
      const sc = trace.getSpanContext(m);
      if (sc) links.push({ context: sc });
    }
    return this.start(name, SpanKind.INTERNAL, members[0]!, attributes, links, startTime);
  }

  /** `parent` with `span` as its current span (returns `parent` itself for a no-op span, keeping the caller's context). */
  contextWith(parent: Context, span: Span): Context {
    return span === NOOP_SPAN ? parent : trace.setSpan(parent, span);
  }

  /** Reads `traceparent`/`tracestate`/`baggage` from request headers. */
  extract(headers: Readonly<Record<string, unknown>>): Context {
    if (headers.traceparent === undefined) return ROOT_CONTEXT;
    return this.propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter);
  }

  /** Writes `traceparent` (and friends) for `ctx` into outgoing headers: a plain object or a Headers. */
  inject(ctx: Context, headers: Record<string, string> | Headers): void {
    if (headers instanceof Headers) this.propagator.inject(ctx, headers, headersSetter);
    else this.propagator.inject(ctx, headers, defaultTextMapSetter);
  }

  /** A fetch that records a CLIENT span under `parent` and sends the trace context along (what ctx.fetch is).
   * The span ends when response headers arrive. */
  fetchWith(parent: Context): typeof fetch {
    return async (input, init) => {
      const request = input instanceof Request ? input : undefined;
      const url = new URL(request ? request.url : String(input));
      const method = (init?.method ?? request?.method ?? 'GET').toUpperCase();
      const span = this.startSpan(method, parent, {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR_HTTP_REQUEST_METHOD]: method,
          [ATTR_URL_FULL]: `${url.origin}${url.pathname}`,
          [ATTR_SERVER_ADDRESS]: url.hostname,
          [ATTR_SERVER_PORT]: Number(url.port || (url.protocol === 'https:' ? 443 : 80)),
        },
      });
      const headers = new Headers(init?.headers ?? request?.headers);
      this.inject(this.contextWith(parent, span), headers);
      try {
        const response = await fetch(input, { ...init, headers });
        span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, response.status);
        if (response.status >= 400) {
          span.setAttribute(ATTR_ERROR_TYPE, String(response.status));
          span.setStatus({ code: SpanStatusCode.ERROR });
        }
        return response;
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setAttribute(ATTR_ERROR_TYPE, err instanceof Error ? err.name : 'Error');
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    };
  }

  /** Runs `fn` with `ctx` as the active context, so `trace.getActiveSpan()` in user code finds the request's span
   * (when this Tracing is the global one with activeContext; otherwise it just calls `fn`). */
  runWith<T>(ctx: Context, fn: () => T): T {
    return otelContext.with(ctx, fn);
  }

  /** Exports what is buffered. */
  async flush(): Promise<void> {
    await this.provider?.forceFlush();
  }

  /** Flushes and stops exporting. */
  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }
}
