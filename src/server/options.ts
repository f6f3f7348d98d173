// What startServer takes, and the defaults that fill in what the caller left out.
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { TokenSet } from '../auth/index.ts';
import { resolveLimits, type RequestLimits } from '../limits/index.ts';
import type { TlsFiles } from '../tls/index.ts';
import type { ModelProvider } from '../service/model-provider.ts';
import type { AuthOptions } from './auth-hook.ts';
import type { Telemetry } from '../telemetry/index.ts';
import type { TaskOptions } from './tasks.ts';

export interface CorsOptions {
  /** Allowed origins: a list, or '*' for any. */
  origins: '*' | string[];
  /** Sends Access-Control-Allow-Credentials (not allowed with '*'). */
  credentials?: boolean;
}

export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 3000. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (loopback only); 0.0.0.0 for every interface, as in containers. */
  host?: string;
  /** Largest request body in bytes (raw or multipart, in all). Default 32 MiB. */
  maxBodySize?: number;
  /** How long shutdown waits for in-flight requests before cancelling them. Default 30 000 ms. */
  shutdownGraceMs?: number;
  /** A client must send all of a request's headers within this time, or its connection is closed (slowloris).
   * Default 10 000 ms. */
  headersTimeoutMs?: number;
  /** ... and the whole request, body included, within this time (408). Default 120 000 ms; 0 for no limit. */
  requestTimeoutMs?: number;
  /** An idle keep-alive connection is closed after this time. Default 72 000 ms (above common load balancers' 60 s). */
  keepAliveTimeoutMs?: number;
  /** An API request that has not started its response within this time is answered 504 and its model calls are
   * cancelled; an API's own timeoutMs overrides it. Default 60 000 ms. */
  apiTimeoutMs?: number;
  /** Open connections at most; more are closed as they arrive. Default 10 000. */
  maxConnections?: number;
  /** Largest request head (request line and headers) in bytes; larger answers 431. Default 16 KiB (Node's). */
  maxHeaderSize?: number;
  /** What one request may hold beyond its size: inputs, tensor elements and bytes, string length, JSON depth,
   * multipart parts (src/limits). Unset keys keep their defaults. */
  limits?: Partial<RequestLimits>;
  /** Serve HTTPS with this certificate and key (PEM files), reloaded when they change and on SIGHUP. */
  tls?: TlsFiles;
  /** Puts error messages of failed handlers and stack traces in 500 responses. Never in production. */
  development?: boolean;
  /** Cross-origin requests; off by default. */
  cors?: CorsOptions | false;
  /** Serves the OpenAPI document at /docs.json and Swagger UI at /docs. Default true. */
  docs?: boolean;
  /** pino logger to use; default a new one at `logLevel`. */
  logger?: Logger;
  /** Level of the default logger: fatal, error, warn, info, debug, trace or silent. Default info. */
  logLevel?: string;
  /**
   * Metrics (/metrics), the access log, tracing and prediction logs. Default: Telemetry's defaults (tracing from
   * OTEL_*), logging through `logger` when given; the server then closes it on shutdown. One passed in is the caller's to close.
   */
  telemetry?: Telemetry;
  /** Where models run. Default: a RunnerPool per model (worker threads, batching) over the local store ($TIFFIN_HOME). */
  provider?: ModelProvider;
  /** Dependencies that answer elsewhere: key -> URL (and token). The rest run in this process on loopback ports.
   * A nested dependency is keyed by its path, e.g. `ocr.det`. */
  dependencies?: Record<string, { url: string; token?: string }>;
  /**
   * More routes beside the service's (for example the standard inference protocols), each registered in
   * its own encapsulated fastify scope after the API routes, so its parsers and error handler stay its own.
   */
  plugins?: ServerPlugin[];
  /** Tokens and the scopes of routes (src/auth). Default: no tokens, every scope open; on loopback the Host header is
   * still checked. */
  auth?: AuthOptions;
  /** Where the service's tasks are kept and for how long (docs/tasks.md). Used only when the service declares tasks. */
  tasks?: TaskOptions;
}

/** A fastify plugin that adds routes to the server. */
export type ServerPlugin = (app: FastifyInstance) => Promise<void>;

export const DEFAULT_PORT = 3000;
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_MAX_BODY_SIZE = 32 * 1024 * 1024;
export const DEFAULT_SHUTDOWN_GRACE_MS = 30_000;
export const DEFAULT_HEADERS_TIMEOUT_MS = 10_000;
export const DEFAULT_REQUEST_TIMEOUT_MS = 120_000;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 72_000;
export const DEFAULT_MAX_CONNECTIONS = 10_000;
export const DEFAULT_API_TIMEOUT_MS = 60_000;
export const DEFAULT_MAX_HEADER_SIZE = 16 * 1024;

export type ResolvedServerOptions = Required<Omit<ServerOptions, 'logger' | 'provider' | 'telemetry' | 'tls' | 'limits'>> &
  Pick<ServerOptions, 'logger' | 'provider' | 'telemetry' | 'tls'> & { limits: RequestLimits };

export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  return {
    port: options.port ?? DEFAULT_PORT,
    host: options.host ?? DEFAULT_HOST,
    maxBodySize: options.maxBodySize ?? DEFAULT_MAX_BODY_SIZE,
    shutdownGraceMs: options.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
    headersTimeoutMs: options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
    maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
    maxHeaderSize: options.maxHeaderSize ?? DEFAULT_MAX_HEADER_SIZE,
    limits: resolveLimits(options.limits),
    apiTimeoutMs: options.apiTimeoutMs ?? DEFAULT_API_TIMEOUT_MS,
    tls: options.tls,
    development: options.development ?? false,
    cors: options.cors ?? false,
    docs: options.docs ?? true,
    logLevel: options.logLevel ?? 'info',
    logger: options.logger,
    provider: options.provider,
    telemetry: options.telemetry,
    plugins: options.plugins ?? [],
    dependencies: options.dependencies ?? {},
    auth: options.auth ?? { tokens: new TokenSet([]) },
    tasks: options.tasks ?? {},
  };
}
