// One POST route per API. Before the body is read (onRequest): readiness and the media type (503 / 415 early),
// and the request joins the lifecycle's in-flight list. Then: read the body, build the request context, invoke
// the API, and send its body or event stream. Routes whose input takes multipart bodies live in their own
// scope with @fastify/multipart, whose hooks would otherwise run on every request of every API.
import type { ServerResponse } from 'node:http';
import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { TiffinError } from '../errors/index.ts';
import { Cancellation, handlesCancelledWith } from '../runtime/cancellation.ts';
import type { CallRouting } from '../runtime/types.ts';
import type { ModelHandles, ModelTags, RequestContext } from '../service/context.ts';
import { checkMediaType, invokeApi } from '../service/invoke.ts';
import { MULTIPART_MEDIA_TYPE } from '../service/io-file.ts';
import { acceptsMediaType, parseContentType, type ParsedMediaType } from '../service/media-type.ts';
import type { ApiDefinition } from '../service/service.ts';
import { NO_REQUEST_TRACE, annotateRequest, requestTelemetry, type HandlerTelemetry, type PredictionRecord, type UserMetrics } from '../telemetry/index.ts';
import type { AppContext } from './app-context.ts';
import { errorBody, toTiffinError } from './error-reply.ts';
import { sendEventStream } from './event-stream.ts';
import type { InFlightRequest } from './lifecycle.ts';
import { readPayload } from './request-payload.ts';

/** A client's own deadline for one request, in milliseconds; the API's timeout caps it. */
export const TIMEOUT_HEADER = 'x-tiffin-timeout-ms';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by an API route's onRequest hook. */
    tiffinApi: ApiRequest | null;
  }
}

/** An API request from its onRequest hook to its response: its parsed Content-Type and its cancellation. The
 * cancellation is an object of its own, holding nothing of the request: model calls carry it down into the
 * runner, and what the runner still points at after a call should not keep a whole request alive. */
class ApiRequest implements InFlightRequest {
  readonly cancellation = new Cancellation();
  inFlightPrev: InFlightRequest | undefined = undefined;
  inFlightNext: InFlightRequest | undefined = undefined;
  /** Rejects with TIMEOUT when the request's deadline passes before its response starts. */
  readonly deadline: Promise<never>;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly res: ServerResponse,
    readonly contentType: ParsedMediaType,
    timeoutMs: number,
    api: string,
  ) {
    let expire!: (err: TiffinError) => void;
    this.deadline = new Promise<never>((_, reject) => (expire = reject));
    this.deadline.catch(() => {}); // only awaited in a race; unobserved once the response has started
    this.timer = setTimeout(() => {
      const err = new TiffinError('TIMEOUT', `${api} did not answer within ${timeoutMs} ms (its timeoutMs, server.apiTimeout or the ${TIMEOUT_HEADER} header); its model calls were cancelled`);
      // Queued model calls are dropped, not run: they see the request cancelled.
      this.cancellation.abort(err);
      expire(err);
    }, timeoutMs);
  }

  /** The response is starting (or the request is over): the deadline no longer applies. */
  settle(): void {
    clearTimeout(this.timer);
  }

  abort(reason?: unknown): void {
    this.cancellation.abort(reason);
  }
}

/** The request's timeout: the API's (or the server's), lowered by the client's header when it asks for less. */
function timeoutOf(header: string | string[] | undefined, limit: number): number {
  if (header === undefined) return limit;
  const raw = Array.isArray(header) ? header[0]! : header;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms <= 0) throw new TiffinError('BAD_REQUEST', `${TIMEOUT_HEADER} must be a whole number of milliseconds above 0, got "${raw}"`);
  return Math.min(ms, limit);
}

/** A handler's context. A class, so its methods are shared rather than made per request, and the logger child
 * and the AbortSignal are made only when a handler asks for them. Model calls through `models` are cancelled
 * with the request without one (see runtime/cancellation.ts). */
class ApiContext implements RequestContext<ModelTags>, CallRouting {
  status = 200;
  responseHeaders: Record<string, string> | undefined;
  readonly models: ModelHandles<ModelTags>;
  /** The parsed input, for traffic routes keyed by one of its fields (CallRouting). */
  input: unknown = undefined;
  /** `model=version` of each traffic-routed model call, for x-tiffin-variant and the access log. */
  variants: string | undefined;
  private logger: Logger | undefined;
  private clients: RequestContext<ModelTags>['services'] | undefined;

  constructor(
    private readonly app: AppContext,
    private readonly request: ApiRequest,
    readonly requestId: string,
    readonly api: string,
    readonly headers: RequestContext<ModelTags>['headers'],
    private readonly telemetry: HandlerTelemetry,
  ) {
    this.models = telemetry.models(handlesCancelledWith(app.lifecycle.models, request.cancellation, this));
  }

  /** invokeApi's observer: the parsed input, before the handler runs. */
  parsed(input: unknown): void {
    this.input = input;
  }

  /** CallRouting: a model call went to a traffic route's variant. */
  routed(model: string, version: string): void {
    const entry = `${model}=${version}`;
    if (this.variants === undefined) this.variants = entry;
    else if (!this.variants.split(', ').includes(entry)) this.variants += `, ${entry}`;
    this.setHeader('x-tiffin-variant', this.variants);
  }

  get signal(): AbortSignal {
    return this.request.cancellation.signal;
  }

  get log(): Logger {
    this.logger ??= this.app.log.child({ reqId: this.requestId, api: this.api });
    return this.logger;
  }

  get metrics(): UserMetrics {
    return this.telemetry.metrics;
  }

  get fetch(): typeof fetch {
    return this.telemetry.fetch;
  }

  get services(): RequestContext<ModelTags>['services'] {
    this.clients ??= this.app.dependencies.clients({ fetch: this.fetch, requestId: this.requestId, signal: this.signal });
    return this.clients;
  }

  get traceId(): string | undefined {
    return this.telemetry.traceId;
  }

  setStatus(code: number): void {
    if (!Number.isInteger(code) || code < 200 || code > 599) throw new TypeError(`setStatus: ${code} is not an HTTP status`);
    this.status = code;
  }

  setHeader(name: string, value: string): void {
    (this.responseHeaders ??= {})[name.toLowerCase()] = value;
  }

  monitor(name: string): PredictionRecord {
    return this.telemetry.monitor(name);
  }
}

function takesMultipart(api: ApiDefinition): boolean {
  return acceptsMediaType(api.input.accepts, MULTIPART_MEDIA_TYPE);
}

function addApiRoute(fastify: FastifyInstance, app: AppContext, api: ApiDefinition): void {
  const limit = api.timeoutMs ?? app.options.apiTimeoutMs;
  const maxConcurrency = api.maxConcurrency ?? Infinity;
  let inProgress = 0;
  fastify.post(api.route, {
    onRequest: (request, reply, done) => {
      const notReady = app.lifecycle.notReady();
      if (notReady) return done(notReady);
      const contentType = parseContentType(request.headers['content-type']);
      let timeoutMs: number;
      try {
        checkMediaType(api, contentType.mediaType);
        timeoutMs = timeoutOf(request.headers[TIMEOUT_HEADER], limit);
      } catch (err) {
        return done(err as Error);
      }
      if (inProgress >= maxConcurrency) {
        return done(new TiffinError('TOO_MANY_REQUESTS', `${api.name} already has ${maxConcurrency} requests in progress (its maxConcurrency); retry shortly`, { retryAfter: 1 }));
      }
      inProgress++;
      const call = new ApiRequest(reply.raw, contentType, timeoutMs, api.name);
      request.tiffinApi = call;
      app.lifecycle.enter(call);
      reply.raw.on('close', () => {
        inProgress--;
        call.settle();
        // A response that closed before it finished means the client went away. Its socket can linger
        // half-open (until the keep-alive timeout) and hold up shutdown, so it goes too.
        if (!reply.raw.writableFinished) {
          call.abort();
          request.raw.socket.destroy();
        }
        app.lifecycle.leave(call);
      });
      done();
    },
    handler: async (request, reply) => {
      const call = request.tiffinApi!;
      const payload = await Promise.race([readPayload(request, app.options.maxBodySize, app.options.limits, call.contentType), call.deadline]);
      const telemetry = app.telemetry.forHandler(request.id, requestTelemetry(request)?.trace ?? NO_REQUEST_TRACE);
      const ctx = new ApiContext(app, call, request.id, api.name, payload.headers, telemetry);
      let result: Awaited<ReturnType<typeof invokeApi>>;
      try {
        result = await Promise.race([invokeApi(api, payload, ctx, { accept: request.headers.accept }, ctx), call.deadline]);
      } finally {
        telemetry.end(); // commits the request's prediction records, whatever the outcome
        if (ctx.variants !== undefined) annotateRequest(request, { variant: ctx.variants });
      }
      call.settle();
      reply.status(ctx.status);
      if (ctx.responseHeaders) for (const name in ctx.responseHeaders) reply.header(name, ctx.responseHeaders[name]);
      if (result.type === 'events') {
        return sendEventStream(reply, {
          contentType: result.contentType,
          frames: result.frames,
          signal: call.cancellation.signal,
          log: ctx.log,
          errorBody: (err) => errorBody(toTiffinError(err, app.options.maxBodySize), request.id, app.options.development),
        });
      }
      if (result.headers) for (const name in result.headers) reply.header(name, result.headers[name]);
      return reply.type(result.contentType).send(result.body);
    },
  });
}

export async function registerApiRoutes(fastify: FastifyInstance, app: AppContext): Promise<void> {
  if (!fastify.hasRequestDecorator('tiffinApi')) fastify.decorateRequest('tiffinApi', null);
  const multipartApis = app.svc.apis.filter(takesMultipart);
  for (const api of app.svc.apis) if (!multipartApis.includes(api)) addApiRoute(fastify, app, api);
  if (multipartApis.length === 0) return;
  await fastify.register(async (scope) => {
    const { maxPartSize, maxParts } = app.options.limits;
    await scope.register(multipart, { limits: { fileSize: maxPartSize, fieldSize: maxPartSize, parts: maxParts } });
    for (const api of multipartApis) addApiRoute(scope, app, api);
  });
}
