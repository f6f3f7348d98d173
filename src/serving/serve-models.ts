// serveModels: one call that serves store models over HTTP (KServe V2, TF Serving and TorchServe routes,
// beside a service's own APIs when one is given) and over gRPC, from a ModelRepository whose versions
// run in runner pools (or in process, on request). With no service it is zero-code serving (`tiffin serve --models iris,ocr_det:3`).
import type { Logger } from 'pino';
import { TokenSet, type AuthConfig } from '../auth/index.ts';
import { TiffinError } from '../errors/index.ts';
import { resolveLimits } from '../limits/index.ts';
import { Models } from '../models/index.ts';
import {
  ModelRepository, inProcessLoader, runnerPoolLoader, type ModelLoader, type RunnerDefaults, type ServedModelConfig,
} from '../repository/index.ts';
import { startGrpcServer, type RunningGrpcServer } from '../protocols/grpc-server.ts';
import { protocolRouteScope, protocolRoutes, type ProtocolName } from '../protocols/protocol-routes.ts';
import { DEFAULT_HOST, DEFAULT_SHUTDOWN_GRACE_MS, isLoopbackHost, type RunningServer, type ServerOptions } from '../server/index.ts';
import { startServer } from './start-server.ts';
import type { ModelTags } from '../service/context.ts';
import { service as defineService, type ApiMap, type Service } from '../service/service.ts';
import { ModelStore } from '../store/index.ts';
import { Telemetry, type LogLevel } from '../telemetry/index.ts';
import { RepositoryModelProvider } from './repository-provider.ts';
import { trafficManagerFor, type TrafficServingOptions } from './traffic-serving.ts';
import { withTrafficRoutes } from './traffic-handle.ts';
import type { TrafficManager } from '../traffic/index.ts';
import type { RemoteRunners } from '../remote-runners/index.ts';
import { parseTag } from '../store/tag.ts';

export interface GrpcServingOptions {
  /** Default 8001; 0 picks a free port. */
  port?: number;
  /** Default: the HTTP server's host. */
  host?: string;
}

export interface ServeModelsOptions {
  /** The HTTP server: port, host, body limit (also the protocols' and gRPC's), logger... */
  http?: Omit<ServerOptions, 'provider' | 'plugins' | 'auth'>;
  /** Tokens and their scopes (src/auth), for HTTP and gRPC. Default none: every scope open, which only a server on
   * loopback may have (one beyond loopback refuses to start without a management token). */
  auth?: AuthConfig;
  /** Store models to serve (the `models:` config section or `--models`). */
  models?: ServedModelConfig[];
  /** A service whose APIs are served beside the protocol routes; its models join the repository. */
  service?: Service<ModelTags, ApiMap>;
  /** Default: the default store ($TIFFIN_HOME/models). */
  store?: ModelStore;
  /** Default: a runner pool per version, with `runner` settings (see also `inProcess`). */
  loader?: ModelLoader;
  /**
   * Load versions into this thread instead of runner pools (what services get from the server's default
   * provider today). Inference then blocks the event loop: for tools, tests and tiny models.
   */
  inProcess?: boolean;
  runner?: RunnerDefaults;
  /** Hot reload interval; 0 turns it off. Default 2000 ms. */
  pollIntervalMs?: number;
  drainTimeoutMs?: number;
  strictReadiness?: boolean;
  /** The management API may load stored models that were not configured. Default false: only configured ones. */
  loadUnlisted?: boolean;
  /** HTTP protocols to mount; default all (kserve-v2, tfserving, torchserve). */
  protocols?: readonly ProtocolName[];
  /** The gRPC server; false turns it off. */
  grpc?: GrpcServingOptions | false;
  /** Metrics (the runners' inference metrics included), access log, tracing, prediction logs. Default: Telemetry's
   * defaults, closed with the server; one passed in is the caller's to close. */
  telemetry?: Telemetry;
  /** Traffic routes between versions (src/traffic, docs/traffic.md); false turns routing and /v2/traffic off. */
  traffic?: TrafficServingOptions | false;
  /** `--role api`: every version's calls go to its model's remote runner over gRPC instead of a local runner pool
   * (src/remote-runners); their readiness joins /readyz. Closed with the server. */
  remoteRunners?: RemoteRunners;
}

export interface ModelServer {
  readonly http: RunningServer;
  /** Undefined when gRPC is off. */
  readonly grpc: RunningGrpcServer | undefined;
  readonly repository: ModelRepository;
  /** Undefined when traffic routing is off. */
  readonly traffic: TrafficManager | undefined;
  readonly url: string;
  /** Settles once every model had its first load attempt (and the service, if any, started). */
  readonly ready: Promise<void>;
  close(): Promise<void>;
}

/** The service zero-code serving runs: no APIs, only the protocol routes, probes and docs. */
function modelsOnlyService(): Service<ModelTags, ApiMap> {
  return defineService('tiffin-models', { description: 'Store models served over the KServe V2, TF Serving and TorchServe protocols.' });
}

/** Anyone who can reach a port beyond loopback could load and unload models, unless a token guards them. */
function checkExposure(hosts: string[], auth: AuthConfig): void {
  const exposed = [...new Set(hosts.filter((h) => !isLoopbackHost(h)))];
  if (exposed.length === 0 || auth.tokens.has('management')) return;
  throw new TiffinError(
    'CONFIG_INVALID',
    `listening on ${exposed.join(' and ')} (beyond loopback) needs a management token, or anyone who can reach the port could load and unload models: ` +
      'make one with `tiffin tokens create --scope management` and set TIFFIN_MANAGEMENT_TOKEN (or auth.tokens in tiffin.yaml); see docs/security.md',
  );
}

export async function serveModels(options: ServeModelsOptions): Promise<ModelServer> {
  const auth = options.auth ?? { tokens: new TokenSet([]), allowedHosts: [] };
  const host = options.http?.host ?? DEFAULT_HOST;
  checkExposure(options.grpc === false ? [host] : [host, options.grpc?.host ?? host], auth);
  const store = options.store ?? new ModelStore();
  const httpOptions = options.http ?? {};
  const svc = options.service ?? modelsOnlyService();
  const telemetry =
    options.telemetry ??
    new Telemetry({
      service: svc.name,
      ...(httpOptions.logger ? { logger: httpOptions.logger } : { config: { logging: { level: (httpOptions.logLevel ?? 'info') as LogLevel } } }),
    });
  const logger: Logger = httpOptions.logger ?? telemetry.logger;
  const { remoteRunners } = options;
  remoteRunners?.requireAll([...(options.models ?? []).map((m) => m.name), ...Object.values(svc.models).map((tag) => parseTag(tag).name)]);
  const loader = remoteRunners?.loader() ?? options.loader ?? (options.inProcess ? inProcessLoader(new Models(store)) : runnerPoolLoader(store, options.runner));
  const repository = new ModelRepository({
    store,
    // Every version loaded reports inference metrics until it is retired, and logs its calls when its config says `monitor:`.
    loader: telemetry.observeLoads(telemetry.monitorLoads(loader)),
    models: options.models ?? [],
    ...(options.pollIntervalMs !== undefined ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.drainTimeoutMs !== undefined ? { drainTimeoutMs: options.drainTimeoutMs } : {}),
    ...(options.strictReadiness !== undefined ? { strictReadiness: options.strictReadiness } : {}),
    loadUnlisted: options.loadUnlisted ?? false,
    logger,
  });
  const traffic = options.traffic === false ? undefined : await trafficManagerFor(repository, store, options.traffic ?? {}, logger, telemetry.metrics?.registry);
  const { protocols, grpc } = options;
  const bodyLimit = httpOptions.maxBodySize;
  const limits = resolveLimits(httpOptions.limits);
  const http = await startServer(svc, {
    ...httpOptions,
    storeRoot: store.root,
    logger,
    telemetry,
    provider: withTrafficRoutes(new RepositoryModelProvider(repository, remoteRunners), repository, traffic),
    auth: { tokens: auth.tokens, allowedHosts: auth.allowedHosts, routeScope: protocolRouteScope },
    plugins: [
      (app) =>
        protocolRoutes(app, {
          repository,
          // Traced inference requests get tiffin.inference, queue and batch spans, as a service's model calls do.
          tracing: telemetry.tracing,
          ...(traffic ? { traffic } : {}),
          ...(protocols ? { protocols } : {}),
          ...(bodyLimit ? { bodyLimit } : {}),
          limits,
        }),
    ],
  });
  let grpcServer: RunningGrpcServer | undefined;
  if (grpc !== false) {
    try {
      grpcServer = await startGrpcServer({
        repository,
        port: grpc?.port ?? 8001,
        host: grpc?.host ?? http.host,
        tracing: telemetry.tracing,
        tokens: auth.tokens,
        // One grace for both transports: they drain together on shutdown.
        shutdownGraceMs: httpOptions.shutdownGraceMs ?? DEFAULT_SHUTDOWN_GRACE_MS,
        ...(bodyLimit ? { maxMessageBytes: bodyLimit } : {}),
        limits,
        ...(traffic ? { traffic } : {}),
        // The HTTP server's certificate serves gRPC too (one name, one secret to rotate).
        ...(httpOptions.tls ? { tls: httpOptions.tls } : {}),
      });
    } catch (err) {
      await http.close();
      if (!options.telemetry) await telemetry.close();
      throw err;
    }
  }
  let closing: Promise<void> | undefined;
  return {
    http,
    grpc: grpcServer,
    repository,
    traffic,
    url: http.url,
    ready: http.ready,
    close: () => {
      closing ??= (async () => {
        // Both at once: HTTP readiness turns 503 as gRPC stops taking calls, and each waits for its own in-flight
        // requests (HTTP also for every model call, gRPC's included, before it closes its listener).
        await Promise.all([grpcServer?.close(), http.close()]);
        await traffic?.close();
        await repository.close();
        remoteRunners?.close();
        if (!options.telemetry) await telemetry.close();
      })();
      return closing;
    },
  };
}
