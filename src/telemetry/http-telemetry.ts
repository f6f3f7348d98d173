// HTTP telemetry on a fastify instance: `GET /metrics`, request metrics labelled by route pattern, one SERVER
// span per request, and one access-log line per request. Probes and scrapes are counted but neither logged
// nor traced by default: at one probe per second per pod they would drown the lines that matter.
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchema } from 'fastify';
import type { Logger } from 'pino';
import { accessLogWriter } from './logs/access-log.ts';
import { DEFAULT_METRICS_PATH, DEFAULT_QUIET_PATHS } from './config.ts';
import type { TiffinMetrics } from './metrics/metrics.ts';
import { NO_REQUEST_TRACE, TIFFIN_ATTR, Tracing, type RequestTrace } from './tracing/tracing.ts';

export { DEFAULT_METRICS_PATH, DEFAULT_QUIET_PATHS };

export interface HttpTelemetryOptions {
  /** Records HTTP metrics and serves them; omitted: no metrics, no endpoint. */
  metrics?: TiffinMetrics;
  /** Where metrics are served (default '/metrics'); false: record but do not serve. */
  metricsPath?: string | false;
  /** Writes one line per request at info (error for 5xx); omitted or false: no access log. */
  accessLog?: Logger | false;
  tracing?: Tracing;
  /** Paths that get no access-log line and no span (default DEFAULT_QUIET_PATHS; the metrics path is always added). */
  quietPaths?: readonly string[];
}

/** What telemetry knows about a request in flight; handlers reach the trace through it. */
export interface RequestTelemetry {
  readonly requestId: string;
  readonly trace: RequestTrace;
  /** Set by traffic routing when the request went to an A/B variant; logged and put on the span. */
  variant: string | undefined;
  /** The model that served the request, when one did. */
  model: string | undefined;
}

interface State extends RequestTelemetry {
  readonly start: number;
  readonly path: string;
  /** The matched route pattern, read once: fastify's `routeOptions` getter builds a new object on every read. */
  readonly route: string | undefined;
  readonly quiet: boolean;
  error: unknown;
  done: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Tiffin's per-request telemetry state (read it with requestTelemetry()). */
    tiffinTelemetry: RequestTelemetry | null;
  }
}

/** A request decoration rather than a WeakMap: a fixed property keeps request objects one shape, and spares the
 * garbage collector an ephemeron per request. */
function stateOf(request: FastifyRequest): State | undefined {
  return (request.tiffinTelemetry as State | null) ?? undefined;
}

/** The telemetry of a request, or undefined when telemetry is not registered on its server. */
export function requestTelemetry(request: FastifyRequest): RequestTelemetry | undefined {
  return stateOf(request);
}

/** Records which variant (and model) served a request, for the access log and the span. */
export function annotateRequest(request: FastifyRequest, fields: { variant?: string; model?: string }): void {
  const s = stateOf(request);
  if (!s) return;
  if (fields.variant !== undefined) {
    s.variant = fields.variant;
    s.trace.span.setAttribute(TIFFIN_ATTR.variant, fields.variant);
  }
  if (fields.model !== undefined) {
    s.model = fields.model;
    s.trace.span.setAttribute(TIFFIN_ATTR.model, fields.model);
  }
}

/** Decides whether a path is quiet: exact matches, and prefixes for entries ending in '*'. */
export function quietPathMatcher(paths: readonly string[]): (path: string) => boolean {
  const exact = new Set(paths.filter((p) => !p.endsWith('*')));
  const prefixes = paths.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1));
  return (path) => exact.has(path) || prefixes.some((p) => path.startsWith(p));
}

/** Adds the hooks (and the metrics route) to `app`. Call it on the root instance before routes are added, so
 * every route and the 404 handler are covered. */
export function registerHttpTelemetry(app: FastifyInstance, options: HttpTelemetryOptions): void {
  const { metrics } = options;
  // Without tracing configured, a disabled Tracing still reads the caller's traceparent for the access log.
  const tracing = options.tracing ?? new Tracing({ env: {} });
  const writeAccessLine = options.accessLog ? accessLogWriter(options.accessLog) : undefined;
  const metricsPath = options.metricsPath === undefined ? DEFAULT_METRICS_PATH : options.metricsPath;
  if (!app.hasRequestDecorator('tiffinTelemetry')) app.decorateRequest('tiffinTelemetry', null);
  const isQuiet = quietPathMatcher([...(options.quietPaths ?? DEFAULT_QUIET_PATHS), ...(metricsPath ? [metricsPath] : [])]);

  const finish = (request: FastifyRequest, reply: FastifyReply | undefined, status: number): void => {
    const s = stateOf(request);
    if (!s || s.done) return;
    s.done = true;
    const ms = performance.now() - s.start;
    const { route } = s;
    metrics?.http.finished(route, request.method, status, ms / 1000);
    tracing.endRequest(s.trace.span, status, s.error);
    if (!writeAccessLine || s.quiet) return;
    writeAccessLine({
      method: request.method,
      path: s.path,
      route,
      status,
      latencyMs: Math.round(ms * 100) / 100,
      bytes: reply ? contentLength(reply) : undefined,
      requestId: request.id,
      traceId: s.trace.traceId,
      variant: s.variant,
      model: s.model,
    });
  };

  app.addHook('onRequest', (request, _reply, done) => {
    const path = pathOf(request.url);
    const quiet = isQuiet(path);
    const route = request.routeOptions.url;
    const trace: RequestTrace = quiet ? NO_REQUEST_TRACE : tracing.startRequest(request.method, route, path, request.headers);
    trace.span.setAttribute(TIFFIN_ATTR.requestId, request.id);
    const state: State = {
      requestId: request.id,
      trace,
      variant: undefined,
      model: undefined,
      start: performance.now(),
      path,
      route,
      quiet,
      error: undefined,
      done: false,
    };
    request.tiffinTelemetry = state;
    metrics?.http.started();
    done();
  });

  app.addHook('onError', (request, _reply, error, done) => {
    const s = stateOf(request);
    if (s) s.error = error;
    done();
  });

  app.addHook('onResponse', (request, reply, done) => {
    finish(request, reply, reply.statusCode);
    done();
  });

  // A client that hangs up never gets a response: count it as nginx's 499 so the in-flight gauge comes back down.
  app.addHook('onRequestAbort', (request, done) => {
    finish(request, undefined, 499);
    done();
  });

  if (metrics && metricsPath) {
    // `hide` keeps the endpoint out of the OpenAPI document (@fastify/swagger reads it; fastify ignores it).
    const schema = { hide: true } as FastifySchema;
    app.get(metricsPath, { schema }, async (_request, reply) => {
      const body = await metrics.scrape();
      return reply.header('content-type', metrics.contentType).send(body);
    });
  }
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

function contentLength(reply: FastifyReply): number | undefined {
  const h = reply.getHeader('content-length');
  const n = typeof h === 'string' ? Number(h) : typeof h === 'number' ? h : NaN;
  return Number.isFinite(n) ? n : undefined;
}
