// One POST route per API. Before the body is read: readiness and the media type (503 / 415 early).
// Then: read the body, build the request context, invoke the API, and send its body or event stream.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ModelTags, RequestContext } from '../service/context.ts';
import { checkMediaType, invokeApi } from '../service/invoke.ts';
import { parseContentType } from '../service/media-type.ts';
import type { ApiDefinition } from '../service/service.ts';
import { NO_REQUEST_TRACE, requestTelemetry, type HandlerTelemetry } from '../telemetry/index.ts';
import type { AppContext } from './app-context.ts';
import { errorBody, toTiffinError } from './error-reply.ts';
import { sendEventStream } from './event-stream.ts';
import { readPayload } from './request-payload.ts';

/** Cancellation of each API request, from its onRequest hook to its handler. */
const controllers = new WeakMap<FastifyRequest, AbortController>();

function trackRequest(app: AppContext, request: FastifyRequest, reply: FastifyReply): void {
  const { controller, done } = app.lifecycle.track(reply.raw);
  controllers.set(request, controller);
  reply.raw.once('close', () => {
    // A response that closed before it finished means the client went away. Its socket can linger
    // half-open (until the keep-alive timeout) and hold up shutdown, so it goes too.
    if (!reply.raw.writableFinished) {
      controller.abort();
      request.raw.socket.destroy();
    }
    done();
  });
}

function contextFor(app: AppContext, api: ApiDefinition, request: FastifyRequest, headers: RequestContext<ModelTags>['headers'], signal: AbortSignal, log: Logger) {
  const state = { status: 200, headers: {} as Record<string, string> };
  const telemetry: HandlerTelemetry = app.telemetry.forHandler(request.id, requestTelemetry(request)?.trace ?? NO_REQUEST_TRACE);
  const ctx: RequestContext<ModelTags> = {
    requestId: request.id,
    api: api.name,
    headers,
    models: telemetry.models(app.lifecycle.models),
    signal,
    log,
    setStatus(code: number) {
      if (!Number.isInteger(code) || code < 200 || code > 599) throw new TypeError(`setStatus: ${code} is not an HTTP status`);
      state.status = code;
    },
    setHeader(name: string, value: string) {
      state.headers[name.toLowerCase()] = value;
    },
    metrics: telemetry.metrics,
    monitor: (name: string) => telemetry.monitor(name),
    get fetch() {
      return telemetry.fetch;
    },
    traceId: telemetry.traceId,
  };
  return { ctx, state, telemetry };
}

export function registerApiRoutes(fastify: FastifyInstance, app: AppContext): void {
  for (const api of app.svc.apis) {
    fastify.post(api.route, {
      onRequest: async (request, reply) => {
        const notReady = app.lifecycle.notReady();
        if (notReady) throw notReady;
        checkMediaType(api, parseContentType(request.headers['content-type']).mediaType);
        trackRequest(app, request, reply);
      },
      handler: async (request, reply) => {
        const signal = controllers.get(request)?.signal ?? new AbortController().signal;
        const payload = await readPayload(request, app.options.maxBodySize);
        const log = app.log.child({ reqId: request.id, api: api.name });
        const { ctx, state, telemetry } = contextFor(app, api, request, payload.headers, signal, log);
        let result: Awaited<ReturnType<typeof invokeApi>>;
        try {
          result = await invokeApi(api, payload, ctx, { accept: request.headers.accept });
        } finally {
          telemetry.end(); // commits the request's prediction records, whatever the outcome
        }
        reply.status(state.status);
        for (const [name, value] of Object.entries(state.headers)) reply.header(name, value);
        if (result.type === 'events') {
          return sendEventStream(reply, {
            contentType: result.contentType,
            frames: result.frames,
            signal,
            log,
            errorBody: (err) => errorBody(toTiffinError(err, app.options.maxBodySize), request.id, app.options.development),
          });
        }
        for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
        return reply.type(result.contentType).send(result.body);
      },
    });
  }
}
