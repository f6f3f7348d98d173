// serveService: listen first (so /livez and /readyz answer during startup), then load the models and run the
// startup hooks in the background; `ready` settles when that is done. close() drains gracefully.
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ModelProvider } from '../service/model-provider.ts';
import type { ApiMap, Service } from '../service/service.ts';
import type { AppContext } from './app-context.ts';
import { buildApp } from './app.ts';
import { Dependencies, type DependencyEndpoint } from './dependencies.ts';
import { ServiceLifecycle } from './lifecycle.ts';
import { ServiceTasks } from './tasks.ts';
import { resolveServerOptions, type ServerOptions } from './options.ts';
import { Telemetry, type LogLevel } from '../telemetry/index.ts';
import { watchTls, type SecureContextTarget } from '../tls/index.ts';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:3000 */
  readonly url: string;
  readonly port: number;
  readonly host: string;
  /** Settles once models are loaded and startup hooks ran; rejects if startup failed (the server keeps answering 503). */
  readonly ready: Promise<void>;
  /**
   * Graceful shutdown: stop accepting, let in-flight requests finish (cancelled after the grace period),
   * run shutdown hooks, release the models. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** How long shutdown lets connections without an API request in flight close by themselves. */
const LINGER_MS = 250;

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Where each dependency of `svc` answers: the URL configured for it (a remote, a --split child), or else a server
 * for it started here on a loopback port, with its own runners, batching and lifecycle (and, recursively, its own
 * dependencies: `dependencies` keys such as `ocr.det` reach those).
 */
async function dependencyEndpoints(
  svc: Service<ModelTags, ApiMap>,
  options: ServerOptions,
  log: Logger,
  defaultProvider: (telemetry: Telemetry) => ModelProvider,
): Promise<Record<string, DependencyEndpoint>> {
  const endpoints: Record<string, DependencyEndpoint> = {};
  const configured = options.dependencies ?? {};
  try {
    for (const [key, dep] of Object.entries(svc.depends)) {
      const remote = configured[key];
      if (remote) {
        endpoints[key] = { url: remote.url, ...(remote.token ? { token: remote.token } : {}) };
        continue;
      }
      const nested = Object.fromEntries(Object.entries(configured).filter(([k]) => k.startsWith(`${key}.`)).map(([k, v]) => [k.slice(key.length + 1), v]));
      const child = await serveService(dep as Service<ModelTags, ApiMap>, {
        port: 0,
        host: '127.0.0.1',
        docs: false,
        logger: log.child({ dependency: key }),
        ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
        ...(options.apiTimeoutMs !== undefined ? { apiTimeoutMs: options.apiTimeoutMs } : {}),
        ...(options.limits ? { limits: options.limits } : {}),
        dependencies: nested,
      }, defaultProvider);
      endpoints[key] = { url: child.url, ready: child.ready, close: child.close };
    }
  } catch (err) {
    await Promise.all(Object.values(endpoints).map((e) => e.close?.()));
    throw err;
  }
  return endpoints;
}

/**
 * The dependencies of `svc`, started (in-process servers on loopback ports, unless `options.dependencies` names a
 * URL) and ready, for code that runs a service's handlers without serving it (`tiffin run`). Close them after.
 */
export async function openDependencies(
  svc: Service<ModelTags, ApiMap>,
  options: ServerOptions,
  log: Logger,
  defaultProvider: (telemetry: Telemetry) => ModelProvider,
): Promise<Dependencies> {
  const dependencies = new Dependencies(svc.depends, await dependencyEndpoints(svc, options, log, defaultProvider), log);
  try {
    await dependencies.start();
  } catch (err) {
    await dependencies.close();
    throw err;
  }
  return dependencies;
}

/**
 * Serves `svc`. Its models come from `options.provider`, or else from `defaultProvider`, which the serving layer
 * supplies (this layer does not know how models are loaded); it receives the server's telemetry.
 */
export async function serveService<M extends ModelTags, A extends ApiMap>(
  svc: Service<M, A>,
  options: ServerOptions,
  defaultProvider: (telemetry: Telemetry) => ModelProvider,
): Promise<RunningServer> {
  const resolved = resolveServerOptions(options);
  const ownsTelemetry = resolved.telemetry === undefined;
  const telemetry =
    resolved.telemetry ??
    new Telemetry({
      service: svc.name,
      version: svc.version,
      ...(resolved.logger ? { logger: resolved.logger } : { config: { logging: { level: resolved.logLevel as LogLevel } } }),
    });
  const log: Logger = resolved.logger ?? telemetry.logger;
  const general: Service<ModelTags, ApiMap> = svc;
  const dependencies = new Dependencies(general.depends, await dependencyEndpoints(general, options, log, defaultProvider), log);
  const lifecycle = new ServiceLifecycle(general, resolved.provider ?? defaultProvider(telemetry), log, dependencies);
  let tasks: ServiceTasks;
  try {
    tasks = new ServiceTasks(general, resolved.tasks, lifecycle, dependencies, log);
  } catch (err) {
    await dependencies.close();
    throw err;
  }
  const app: AppContext = { svc: general, options: resolved, lifecycle, dependencies, tasks, log, telemetry, startedAt: Date.now() };
  const fastify = await buildApp(app);
  try {
    await fastify.listen({ port: resolved.port, host: resolved.host });
  } catch (err) {
    await fastify.close().catch(() => {});
    tasks.close();
    await dependencies.close();
    const code = (err as { code?: unknown }).code;
    const hint = code === 'EADDRINUSE' ? 'the port is taken; pick another (--port, TIFFIN_PORT or server.port)' : messageOf(err);
    throw new TiffinError('CONFIG_INVALID', `could not listen on ${resolved.host}:${resolved.port}: ${hint}`, { cause: err });
  }
  fastify.server.maxConnections = resolved.maxConnections;
  const tls = resolved.tls;
  const stopTlsWatch = tls
    ? // Listening with TLS, fastify's server is an https.Server, which takes new certificates.
      watchTls(fastify.server as unknown as SecureContextTarget, tls, (err) => {
        if (err) log.error({ err }, `TLS certificate ${tls.cert} did not reload; the previous one stays in use: ${messageOf(err)}`);
        else log.info(`TLS certificate reloaded from ${tls.cert}`);
      })
    : () => {};
  const address = fastify.server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://${urlHost(resolved.host)}:${address.port}`;

  const ready = lifecycle.start().then(() => tasks.start());
  // Callers that never await `ready` must not crash the process with an unhandled rejection; the failure is logged.
  ready.catch(() => {});

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      const grace = resolved.shutdownGraceMs;
      stopTlsWatch();
      // Readiness turns 503 and new requests are refused, but the listener stays open until the requests and model
      // calls (protocol requests, gRPC) accepted before finish: load balancers see the drain in the probe.
      lifecycle.beginDrain();
      // Running tasks get the same grace as requests; those still running then go back to their queue's
      // onRestart policy at the next start.
      const [forced] = await Promise.all([lifecycle.waitForInFlight(grace), tasks.drain(grace)]);
      const stopped = fastify.close();
      fastify.server.closeIdleConnections();
      // With no API request left, what still holds a connection is a socket that never sent a request (clients
      // open spares) or a quick probe: Node would keep the former until its header timeout. A moment, then cut.
      if (!forced) await Promise.race([stopped, delay(LINGER_MS)]);
      fastify.server.closeAllConnections();
      await stopped;
      await lifecycle.stop(grace);
      tasks.close();
      log.info(`service ${svc.name} stopped`);
      if (ownsTelemetry) await telemetry.close();
    })();
    return closing;
  };

  return { url, port: address.port, host: resolved.host, ready, close };
}
