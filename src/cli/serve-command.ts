// `tiffin serve <service>`: loads a service module, reads configuration (flags > TIFFIN_* env > tiffin.yaml),
// serves it, and shuts down gracefully on SIGTERM/SIGINT (exit 0). `--reload` supervises a child instead.
import { networkInterfaces } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig, type ConfigOverride, type TiffinConfig } from '../config/index.ts';
import { SCOPES } from '../auth/index.ts';
import { TiffinError } from '../errors/index.ts';
import { isLoopbackHost } from '../server/index.ts';
import { startServer, type RunningServer } from '../serving/index.ts';
import { serveModels, serveModelsOptions, serverOptions, wantsModelServer, type ModelServer } from '../serving/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiMap, Service } from '../service/service.ts';
import { Telemetry } from '../telemetry/index.ts';
import { pullMissingModels } from '../remote/index.ts';
import { ModelStore } from '../store/index.ts';
import { SERVE_DEPENDENCY_ENV, dependencyAt, startSplitDependencies, type SplitChildren } from './split-dependencies.ts';
import { BUNDLE_FILE, BUNDLE_LAYOUT, checkBundle, findBundle, linkDependencies, type OpenedBundle } from '../bundle/index.ts';
import { loadServiceModule } from '../service/load-module.ts';
import { reportError } from './output.ts';
import { RELOAD_CHILD_ENV, superviseWithReload } from './reload.ts';
import { RUNNER_TOKEN_ENV, RemoteRunners } from '../remote-runners/index.ts';
import { checkRole, runnerModels, type ServeRole } from './serve-role.ts';

interface ServeFlags {
  port?: string;
  split?: boolean;
  host?: string;
  reload?: boolean;
  config?: string;
  development?: boolean;
  logLevel?: string;
  logFormat?: string;
  models?: string;
  grpcPort?: string;
  grpc?: boolean;
  role?: string;
  model?: string;
}

function say(line: string): void {
  process.stdout.write(`tiffin: ${line}\n`);
}

function overridesFrom(flags: ServeFlags): ConfigOverride[] {
  return [
    { key: 'server.port', value: flags.port, source: '--port' },
    { key: 'server.host', value: flags.host, source: '--host' },
    { key: 'server.development', value: flags.development, source: '--development' },
    { key: 'logging.level', value: flags.logLevel, source: '--log-level' },
    { key: 'logging.format', value: flags.logFormat, source: '--log-format' },
    { key: 'models', value: flags.models, source: '--models' },
    { key: 'protocols.grpc.port', value: flags.grpcPort, source: '--grpc-port' },
    { key: 'protocols.grpc.enabled', value: flags.grpc === false ? false : undefined, source: '--no-grpc' },
  ];
}

/** Logger, metrics, tracing and prediction logs from the logging, metrics, tracing and monitoring sections. */
function makeTelemetry(config: TiffinConfig, service: string, version?: string): Telemetry {
  const pretty = config.logging.format === 'pretty' || (config.server.development && Boolean(process.stdout.isTTY));
  return new Telemetry({
    service,
    ...(version !== undefined ? { version } : {}),
    config: { ...config.telemetry, logging: { ...config.telemetry.logging, level: config.logging.level, format: pretty ? 'pretty' : 'json' } },
  });
}

/** The server, then telemetry (spans and prediction logs are flushed last). */
function closing(server: { close(): Promise<void> }, telemetry: Telemetry, children?: SplitChildren): { close(): Promise<void> } {
  return {
    close: async () => {
      await server.close();
      // --split dependencies drain after this service, which may call them until it has drained.
      await children?.stop();
      await telemetry.close();
    },
  };
}

function printBanner(svc: Service<ModelTags, ApiMap>, server: RunningServer, file: string, config: TiffinConfig): void {
  say(`serving "${svc.name}" ${svc.version} from ${relative(process.cwd(), file) || file} at ${server.url}`);
  const width = Math.max(0, ...svc.apis.map((a) => a.route.length));
  for (const api of svc.apis) process.stdout.write(`  POST ${api.route.padEnd(width)}  ${api.summary ?? api.description?.split('\n')[0] ?? ''}`.trimEnd() + '\n');
  if (config.server.docs) process.stdout.write(`  docs ${server.url}/docs  (OpenAPI: ${server.url}/docs.json)\n`);
  if (Object.keys(svc.models).length) process.stdout.write(`  models ${Object.entries(svc.models).map(([k, t]) => `${k}=${t}`).join(', ')}\n`);
  printExposure(server, config);
}

/** Where other machines can reach the server, and which scopes need a token. */
function printExposure(server: RunningServer, config: TiffinConfig): void {
  const { host, port } = server;
  if (isLoopbackHost(host)) {
    process.stdout.write('  (listening on loopback only; --host 0.0.0.0 to accept other machines)\n');
  } else {
    const all = host === '0.0.0.0' || host === '::';
    const addresses = all
      ? Object.values(networkInterfaces()).flatMap((list) => (list ?? []).filter((a) => !a.internal && (host === '::' || a.family === 'IPv4')).map((a) => (a.family === 'IPv6' ? `[${a.address}]` : a.address)))
      : [host];
    process.stdout.write(`  listening on ${all ? `every interface (${host})` : host}: ${addresses.map((a) => `${config.server.tls ? 'https' : 'http'}://${a}:${port}`).join(', ') || '(no external address found)'}\n`);
  }
  const tokens = config.auth.tokens;
  const scopes = SCOPES.map((scope) => `${scope} ${tokens.protectedScopes.has(scope) ? 'needs a token' : 'open'}`);
  process.stdout.write(`  access: ${scopes.join(', ')}; probes open (docs/security.md)\n`);
  process.stdout.write(config.server.tls ? `  TLS: ${config.server.tls.cert} (reloaded when it changes and on SIGHUP)\n` : isLoopbackHost(host) ? '' : '  TLS: off; tokens travel in clear text (server.tls, docs/security.md)\n');
}

/** What `tiffin serve` prints for store models served with no code, and for the protocols beside a service. */
function printModelServing(server: ModelServer, config: TiffinConfig): void {
  const models = config.models.map((m) => m.name);
  if (models.length) say(`serving store models ${models.join(', ')} at ${server.url}`);
  const rest = config.protocols.rest;
  if (rest.includes('kserve-v2')) process.stdout.write(`  KServe V2   ${server.url}/v2/models/{model}/infer\n`);
  if (rest.includes('tfserving')) process.stdout.write(`  TF Serving  ${server.url}/v1/models/{model}:predict\n`);
  if (rest.includes('torchserve')) process.stdout.write(`  TorchServe  ${server.url}/predictions/{model}\n`);
  if (server.grpc) process.stdout.write(`  gRPC        ${server.http.host}:${server.grpc.port} (inference.GRPCInferenceService, grpc.health.v1${config.server.tls ? ', TLS' : ''})\n`);
}

/** Closes the server on SIGTERM/SIGINT and exits 0; a second signal exits at once (except under --reload). */
function exitOnSignals(server: { close(): Promise<void> }, log: Logger): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      if (process.env[RELOAD_CHILD_ENV]) return;
      say(`${signal} again; exiting without waiting`);
      process.exit(1);
    }
    closing = true;
    say(`${signal}: shutting down (finishing in-flight requests)`);
    server.close().then(
      () => {
        log.flush?.();
        process.exit(0);
      },
      (err: unknown) => {
        reportError(err, false);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

async function serve(file: string | undefined, flags: ServeFlags): Promise<void> {
  const bundle = file !== undefined ? await findBundle(file) : undefined;
  if (bundle) return serveBundle(bundle, flags);
  const config = loadConfig({ file: flags.config, overrides: overridesFrom(flags) });
  const serviceFile = file !== undefined ? resolve(file) : config.service;
  if (serviceFile === undefined) {
    if (config.models.length > 0) return serveStoreModels(config, checkRole(flags));
    throw new TiffinError('BAD_REQUEST', 'name the service module to serve: `tiffin serve ./service.ts` (or set `service:` in tiffin.yaml), or serve store models with `tiffin serve --models iris,ocr_det:3` (or `models:` in tiffin.yaml), or a built bundle with `tiffin serve name:version`');
  }
  return serveService(config, serviceFile, flags, new ModelStore(), [file ?? serviceFile]);
}

/**
 * Serves a built bundle as its image does: its own tiffin.yaml, code and models only (nothing from the developer's
 * store or source tree), after checking every file against bundle.yaml. TIFFIN_* variables and flags still override
 * its config, and a platform's PORT sets the port unless TIFFIN_PORT or --port does.
 */
async function serveBundle(bundle: OpenedBundle, flags: ServeFlags): Promise<void> {
  const tag = `${bundle.manifest.name}:${bundle.manifest.version}`;
  if (flags.config !== undefined) throw new TiffinError('BAD_REQUEST', `--config does not apply to the bundle ${tag}: it serves with the tiffin.yaml built into it; override its keys with TIFFIN_* variables or flags`);
  if (flags.reload) throw new TiffinError('BAD_REQUEST', `--reload does not apply to the bundle ${tag}: a bundle never changes; serve the project's service module to develop with reloads`);
  await checkBundle(bundle, { forServing: true });
  for (const warning of linkDependencies(bundle)) say(`warning: ${warning}`);
  for (const [key, value] of Object.entries(bundle.manifest.env)) process.env[key] ??= value;
  const port = flags.port ?? (process.env.TIFFIN_PORT === undefined ? process.env.PORT : undefined);
  const config = loadConfig({ file: join(bundle.dir, BUNDLE_LAYOUT.config), overrides: overridesFrom({ ...flags, ...(port !== undefined ? { port } : {}) }) });
  say(`bundle ${tag} (${bundle.dir}), files checked against ${BUNDLE_FILE}`);
  // Its models are inside it: remote.pullOnStart does not apply (and the bundle folder is never written).
  await serveService(config, join(bundle.dir, bundle.manifest.service.entry), flags, new ModelStore(join(bundle.dir, BUNDLE_LAYOUT.models)), [bundle.dir], false);
}

/** `target`: the arguments that name what is served (for --split children, which serve a dependency of it). */
async function serveService(config: TiffinConfig, serviceFile: string, flags: ServeFlags, store: ModelStore, target: string[], pull = config.remote.pullOnStart): Promise<void> {
  if (flags.reload && !process.env[RELOAD_CHILD_ENV]) {
    const args = process.argv.slice(1).filter((a) => a !== '--reload');
    await superviseWithReload(dirname(serviceFile), args);
    process.exit(0);
  }
  const root = await loadServiceModule(serviceFile);
  const dependencyPath = process.env[SERVE_DEPENDENCY_ENV];
  const svc = dependencyPath ? dependencyAt(root, dependencyPath) : root;
  const role = checkRole(flags);
  if (role.kind === 'runner') return serveRunner(config, runnerModels(config, svc, role.model), store, pull, svc.name);
  let children: SplitChildren | undefined;
  if (flags.split && Object.keys(svc.depends).length > 0) {
    children = await startSplitDependencies(svc, [...target, ...(flags.config ? ['-c', flags.config] : [])], config.dependencies, say);
    config = { ...config, dependencies: { ...config.dependencies, ...children.endpoints } };
  }
  const telemetry = makeTelemetry(config, svc.name, svc.version);
  const log = telemetry.logger;
  // remote.pullOnStart: the configured models and the service's own, fetched from the bucket when missing locally.
  if (pull) await pullMissingModels(config, store, log, { tags: Object.values(svc.models) });
  if (wantsModelServer(config, svc)) {
    // The service's models join the model repository (runner pools), so the protocol routes serve them too.
    // --role api: the models run in remote runners (runners: / TIFFIN_RUNNERS), reached over gRPC.
    const remoteRunners = role.kind === 'api' ? new RemoteRunners(config.runners, { logger: log, defaultToken: process.env[RUNNER_TOKEN_ENV] }) : undefined;
    const served = await serveModels({ ...serveModelsOptions(config, { telemetry, service: svc, store }), ...(remoteRunners ? { remoteRunners } : {}) });
    exitOnSignals(closing(served, telemetry, children), log);
    printBanner(svc, served.http, serviceFile, config);
    printModelServing(served, config);
    await awaitReady(served.http, closing(served, telemetry, children));
    return;
  }
  const server = await startServer(svc, {
    ...serverOptions(config),
    logger: log,
    telemetry,
    auth: { tokens: config.auth.tokens, allowedHosts: config.auth.allowedHosts },
  });
  exitOnSignals(closing(server, telemetry, children), log);
  printBanner(svc, server, serviceFile, config);
  await awaitReady(server, closing(server, telemetry, children));
}

/** Waits for startup; on failure reports it, shuts down and exits 1. */
async function awaitReady(server: RunningServer, closer: { close(): Promise<void> }): Promise<void> {
  const t0 = performance.now();
  try {
    await server.ready;
  } catch (err) {
    reportError(err, false);
    say('startup failed; shutting down');
    await closer.close();
    process.exit(1);
  }
  say(`ready at ${server.url} (startup took ${Math.round(performance.now() - t0)} ms)`);
}

/** `--role runner --model x`: only that model (with its configured batching) over gRPC ModelInfer, for API servers
 * started with `--role api`; HTTP stays up for probes, metrics and the REST protocols. */
async function serveRunner(config: TiffinConfig, models: TiffinConfig['models'], store: ModelStore, pull: boolean, service: string): Promise<void> {
  if (!config.protocols.grpc.enabled) throw new TiffinError('BAD_REQUEST', '--role runner serves its model over gRPC: drop --no-grpc (or protocols.grpc.enabled: false)');
  const runnerConfig: TiffinConfig = { ...config, models, dependencies: {} };
  const telemetry = makeTelemetry(runnerConfig, `${service}-runner-${models[0]!.name}`);
  const log = telemetry.logger;
  if (pull) await pullMissingModels(runnerConfig, store, log);
  const served = await serveModels(serveModelsOptions(runnerConfig, { telemetry, store }));
  exitOnSignals(closing(served, telemetry), log);
  say(`runner of model ${models[0]!.name} for "${service}"`);
  printModelServing(served, runnerConfig);
  printExposure(served.http, runnerConfig);
  await awaitReady(served.http, closing(served, telemetry));
}

/** Zero-code serving: the configured store models over the standard protocols, no service module. */
async function serveStoreModels(config: TiffinConfig, role: ServeRole): Promise<void> {
  if (role.kind === 'runner') return serveRunner(config, runnerModels(config, undefined, role.model), new ModelStore(), config.remote.pullOnStart, 'tiffin-models');
  const telemetry = makeTelemetry(config, 'tiffin-models');
  const log = telemetry.logger;
  if (config.remote.pullOnStart) await pullMissingModels(config, new ModelStore(), log);
  const remoteRunners = role.kind === 'api' ? new RemoteRunners(config.runners, { logger: log, defaultToken: process.env[RUNNER_TOKEN_ENV] }) : undefined;
  const served = await serveModels({ ...serveModelsOptions(config, { telemetry }), ...(remoteRunners ? { remoteRunners } : {}) });
  exitOnSignals(closing(served, telemetry), log);
  printModelServing(served, config);
  printExposure(served.http, config);
  await awaitReady(served.http, closing(served, telemetry));
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve a service module over HTTP (TypeScript runs directly, no build step), or store models with no code (--models)')
    .argument('[service]', 'the service module, e.g. ./service.ts (default: `service` in tiffin.yaml; none with --models)')
    .option('-p, --port <port>', 'port to listen on; 0 picks a free one (default 3000)')
    .option('--host <host>', 'interface to listen on; 0.0.0.0 for every interface (default 127.0.0.1)')
    .option('--reload', 'restart when a file in the service folder changes (development)')
    .option('-c, --config <file>', 'config file (default ./tiffin.yaml when present)')
    .option('--development', 'development mode: handler errors and stacks in 500 responses, pretty logs')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (default info)')
    .option('--log-format <format>', 'json (default: one object per line) or pretty (readable lines, for development)')
    .option('--models <tags>', 'serve store models with no code, e.g. iris,ocr_det:3 (name: newest version; name:version: that one)')
    .option('--grpc-port <port>', 'port of the KServe V2 gRPC server (default 8001)')
    .option('--no-grpc', 'do not start the gRPC server')
    .option('--split', "run each of the service's dependencies (`depends`) in its own process, reached over HTTP on loopback")
    .option('--role <role>', 'all (default: APIs and models in this process), api (models called on remote runners: runners: / TIFFIN_RUNNERS) or runner (one model over gRPC, with --model)')
    .option('--model <name>', 'with --role runner: the model to serve (a model name or a key of the service\'s models)')
    .addHelpText('after', '\nEnvironment: TIFFIN_PORT, TIFFIN_HOST, TIFFIN_MAX_BODY_SIZE, TIFFIN_SHUTDOWN_GRACE_MS, TIFFIN_DEVELOPMENT,\nTIFFIN_DOCS, TIFFIN_CORS_ORIGINS, TIFFIN_CORS_CREDENTIALS, TIFFIN_LOG_LEVEL, TIFFIN_LOG_FORMAT, TIFFIN_MODELS,\nTIFFIN_PROTOCOLS, TIFFIN_GRPC_ENABLED, TIFFIN_GRPC_PORT, TIFFIN_GRPC_HOST, TIFFIN_POLL_INTERVAL, TIFFIN_ACCESS_LOG,\nTIFFIN_METRICS_ENABLED, TIFFIN_METRICS_PATH, TIFFIN_TRACING_ENABLED, TIFFIN_MONITORING_DIR, TIFFIN_MONITORING_SAMPLE_RATE\n(flags win over env, env over tiffin.yaml). Tracing follows OTEL_* (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...).')
    .action(async (file: string | undefined, flags: ServeFlags) => {
      try {
        await serve(file, flags);
      } catch (err) {
        reportError(err, false);
        process.exit(process.exitCode ?? 1);
      }
    });
}
