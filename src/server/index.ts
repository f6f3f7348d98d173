// Owns: serving a Service over HTTP with fastify: API routes, probes, docs, errors, request ids, CORS, body limits, graceful shutdown.
// Knows nothing about: the CLI, config files or signals (callers handle those), nor how models are loaded (a ModelProvider does).
export { openDependencies, serveService, type RunningServer } from './start-server.ts';
export type { Dependencies } from './dependencies.ts';
export { DEFAULT_HOST, DEFAULT_MAX_BODY_SIZE, DEFAULT_PORT, DEFAULT_SHUTDOWN_GRACE_MS, type CorsOptions, type ServerOptions, type ServerPlugin } from './options.ts';
export { openApiDocument, type OpenApiDocument } from './openapi.ts';
export type { ErrorBody } from './error-reply.ts';
export { isLoopbackHost, type AuthOptions, type RouteScope } from './auth-hook.ts';
