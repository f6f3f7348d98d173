// The fastify app of a service: body parsing (raw buffers, multipart), request ids, CORS, the one error
// handler, 404/405, health probes, docs and one route per API.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import { TiffinError } from '../errors/index.ts';
import { readTls } from '../tls/index.ts';
import { RESERVED_PATHS } from '../service/service.ts';
import { registerApiRoutes } from './api-routes.ts';
import { registerTaskRoutes } from './task-routes.ts';
import { registerAuth } from './auth-hook.ts';
import type { AppContext } from './app-context.ts';
import { registerDocsRoutes } from './docs-routes.ts';
import { errorBody, toTiffinError } from './error-reply.ts';
import { HEALTH_PATHS, registerHealthRoutes } from './health-routes.ts';
import { REQUEST_ID_HEADER, requestIdOf } from './request-id.ts';

/** Headers browsers may read from cross-origin responses. */
const EXPOSED_HEADERS = ['x-request-id', 'x-tensor-dtype', 'x-tensor-shape', 'retry-after', 'content-disposition'];

export function sendError(reply: FastifyReply, err: TiffinError, development: boolean): FastifyReply {
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  return reply
    .status(err.status)
    .type('application/json; charset=utf-8')
    .send(errorBody(err, reply.request.id, development));
}

/** The methods a known path takes, for 405 answers; undefined for unknown paths. */
function allowedMethods(app: AppContext, path: string): string[] | undefined {
  const cors = app.options.cors !== false ? ['OPTIONS'] : [];
  if (app.svc.apis.some((a) => a.route === path)) return ['POST', ...cors];
  for (const t of app.svc.tasks) {
    const action = path.startsWith(`${t.route}/`) ? path.slice(t.route.length + 1) : undefined;
    if (action === 'status' || action === 'get') return ['GET', 'HEAD', ...cors];
    if (action === 'submit' || action === 'cancel' || action === 'retry') return ['POST', ...cors];
  }
  const getPaths: readonly string[] = app.options.docs ? [...HEALTH_PATHS, ...RESERVED_PATHS] : HEALTH_PATHS;
  if (getPaths.includes(path)) return ['GET', 'HEAD', ...cors];
  return undefined;
}

/**
 * Errors Node's parser raises before a request exists (headers too large, a request past its deadline, bytes that
 * are not HTTP), answered in Tiffin's error shape where the socket can still take it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, maxHeaderSize: number): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? new TiffinError('HEADERS_TOO_LARGE', `the request's headers are larger than the ${maxHeaderSize} bytes server.maxHeaderSize allows`, { details: { limit: 'server.maxHeaderSize', max: maxHeaderSize } })
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new TiffinError('BAD_REQUEST', 'the request was not received in time (server.requestTimeout)', { status: 408 })
        : new TiffinError('BAD_REQUEST', `the request is not valid HTTP/1.1 (${err.code ?? err.message})`);
  if (socket.writable) {
    const body = JSON.stringify({ code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) });
    socket.write(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

export async function buildApp(app: AppContext): Promise<FastifyInstance> {
  const { options } = app;
  const loggerInstance: FastifyBaseLogger = app.log;
  // Slow clients: headers and the whole request each have a deadline, checked every second (Node's default is
  // every 30 s, which lets a slowloris hold a socket half a minute past its deadline).
  const timeouts = {
    headersTimeout: options.requestTimeoutMs > 0 ? Math.min(options.headersTimeoutMs, options.requestTimeoutMs) : options.headersTimeoutMs,
    connectionsCheckingInterval: 1_000,
    maxHeaderSize: options.maxHeaderSize,
  };
  const fastify = Fastify({
    ...(options.tls ? { https: { ...readTls(options.tls), ...timeouts } } : { http: timeouts }),
    requestTimeout: options.requestTimeoutMs,
    keepAliveTimeout: options.keepAliveTimeoutMs,
    loggerInstance,
    // request.log is the server's logger itself: a pino child per request (what fastify makes by default) is a
    // measurable share of a small request's cost. Error logs name the request id themselves.
    childLoggerFactory: (logger) => logger,
    // One line per request from our onResponse hook instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodySize,
    genReqId: requestIdOf,
    routerOptions: { ignoreTrailingSlash: true },
    // Draining is answered by our own 503 (in the Tiffin error shape); fastify still adds Connection: close.
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    clientErrorHandler: (err, socket) => answerClientError(err, socket, options.maxHeaderSize),
  });

  // Every body reaches the handler as raw bytes; the API's io kind decides how to read it.
  // (APIs that take multipart/form-data get its parser in their own scope: see api-routes.ts.)
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  if (options.cors !== false) {
    const { origins, credentials = false } = options.cors;
    await fastify.register(cors, {
      origin: origins === '*' ? (credentials ? true : '*') : origins,
      credentials,
      methods: ['GET', 'HEAD', 'POST'],
      exposedHeaders: EXPOSED_HEADERS,
      maxAge: 600,
    });
  }

  // /metrics, HTTP metrics, a span and an access-log line per request: first, so they cover every route and the 404s.
  app.telemetry.registerHttp(fastify);
  // While draining, the listener stays open until what was accepted has finished (start-server.ts): probes and
  // scrapes still answer (readiness 503), anything else is turned away at once, and every connection then closes.
  const openWhileDraining = new Set<string>([...HEALTH_PATHS, app.telemetry.config.metrics.path]);
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    if (app.lifecycle.phase === 'draining') {
      reply.header('connection', 'close');
      if (!openWhileDraining.has(request.url.split('?')[0]!)) return done(app.lifecycle.notReady());
    }
    done();
  });
  registerAuth(fastify, options.auth, { listenHost: options.host, metricsPath: app.telemetry.config.metrics.path });

  fastify.setErrorHandler((error, request, reply) => {
    const err = toTiffinError(error, options.maxBodySize);
    if (err.status >= 500 && err.code !== 'NOT_READY' && err.code !== 'SHUTTING_DOWN') request.log.error({ err: error, reqId: request.id }, err.message);
    else request.log.debug({ code: err.code, reqId: request.id }, err.message);
    if (reply.sent || reply.raw.headersSent) return;
    return sendError(reply, err, options.development);
  });

  fastify.setNotFoundHandler((request, reply) => {
    const path = (request.url.split('?')[0] ?? '/').replace(/(.)\/+$/, '$1');
    const allowed = allowedMethods(app, path);
    if (allowed) {
      reply.header('allow', allowed.join(', '));
      return sendError(reply, new TiffinError('METHOD_NOT_ALLOWED', `${request.method} is not allowed on ${path}; use ${allowed.join(' or ')}`), options.development);
    }
    const apis = [...app.svc.apis.map((a) => `POST ${a.route}`), ...app.svc.tasks.map((t) => `POST ${t.route}/submit`)];
    const docs = options.docs ? '; see /docs' : '';
    const message = `no route for ${request.method} ${path}; the APIs are ${apis.join(', ') || '(none)'}${docs}`;
    return sendError(reply, new TiffinError('NOT_FOUND', message, { details: { apis: app.svc.apis.map((a) => ({ name: a.name, method: 'POST', path: a.route })) } }), options.development);
  });

  registerHealthRoutes(fastify, app);
  await registerApiRoutes(fastify, app);
  registerTaskRoutes(fastify, app);
  for (const plugin of options.plugins) await fastify.register(plugin);
  if (options.docs) await registerDocsRoutes(fastify, app);
  return fastify;
}
