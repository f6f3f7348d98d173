// Reads Tiffin's configuration from tiffin.yaml, TIFFIN_* environment variables and command-line flags
// (flags > env > file > defaults). Each source is validated on its own, so an error names the file key,
// the variable or the flag that holds the bad value, and says what is allowed.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { ServedModelConfig } from '../repository/types.ts';
import { TokenSet, resolveAuth, type AuthConfig } from '../auth/index.ts';
import { DEFAULT_LIMITS, LIMIT_ENV_VARS, resolveLimits, type RequestLimits } from '../limits/index.ts';
import type { TelemetrySections } from '../telemetry/config.ts';
import type { TrafficSection } from './traffic-section.ts';
import type { RunnersSection } from '../remote-runners/config.ts';
import { TASKS_ENV_VARS, type TasksSection } from './tasks-section.ts';
import { REMOTE_ENV_VARS, resolveRemote, type RemoteConfig } from '../remote/config.ts';
import { REST_PROTOCOLS, configFileSchema, type ConfigFile, type LOG_LEVELS } from './schema.ts';

export const CONFIG_FILE_NAMES = ['tiffin.yaml', 'tiffin.yml'] as const;

/** Environment variables and the config keys they set. */
export const ENV_VARS = {
  TIFFIN_PORT: 'server.port',
  TIFFIN_HOST: 'server.host',
  TIFFIN_MAX_BODY_SIZE: 'server.maxBodySize',
  TIFFIN_SHUTDOWN_GRACE_MS: 'server.shutdownGraceMs',
  TIFFIN_HEADERS_TIMEOUT: 'server.headersTimeout',
  TIFFIN_REQUEST_TIMEOUT: 'server.requestTimeout',
  TIFFIN_KEEP_ALIVE_TIMEOUT: 'server.keepAliveTimeout',
  TIFFIN_MAX_CONNECTIONS: 'server.maxConnections',
  TIFFIN_API_TIMEOUT: 'server.apiTimeout',
  TIFFIN_MAX_HEADER_SIZE: 'server.maxHeaderSize',
  TIFFIN_TLS_CERT: 'server.tls.cert',
  TIFFIN_TLS_KEY: 'server.tls.key',
  TIFFIN_DEVELOPMENT: 'server.development',
  TIFFIN_DOCS: 'server.docs',
  TIFFIN_CORS_ORIGINS: 'server.cors.origins',
  TIFFIN_CORS_CREDENTIALS: 'server.cors.credentials',
  TIFFIN_LOG_LEVEL: 'logging.level',
  TIFFIN_LOG_FORMAT: 'logging.format',
  TIFFIN_MODELS: 'models',
  TIFFIN_PROTOCOLS: 'protocols.rest',
  TIFFIN_GRPC_ENABLED: 'protocols.grpc.enabled',
  TIFFIN_GRPC_PORT: 'protocols.grpc.port',
  TIFFIN_GRPC_HOST: 'protocols.grpc.host',
  TIFFIN_POLL_INTERVAL: 'repository.pollInterval',
  TIFFIN_LOAD_UNLISTED: 'repository.loadUnlisted',
  TIFFIN_ACCESS_LOG: 'logging.accessLog',
  TIFFIN_METRICS_ENABLED: 'metrics.enabled',
  TIFFIN_METRICS_PATH: 'metrics.path',
  TIFFIN_TRACING_ENABLED: 'tracing.enabled',
  TIFFIN_MAX_TRACES_PER_SECOND: 'tracing.maxTracesPerSecond',
  TIFFIN_MONITORING_DIR: 'monitoring.dir',
  TIFFIN_MONITORING_SAMPLE_RATE: 'monitoring.sampleRate',
  TIFFIN_INFERENCE_TOKEN: 'auth.inferenceToken',
  TIFFIN_MANAGEMENT_TOKEN: 'auth.managementToken',
  TIFFIN_METRICS_TOKEN: 'auth.metricsToken',
  TIFFIN_TOKENS_FILE: 'auth.tokensFile',
  TIFFIN_PROTECT_METRICS: 'auth.protectMetrics',
  TIFFIN_ALLOWED_HOSTS: 'auth.allowedHosts',
  TIFFIN_DEPENDENCIES: 'dependencies',
  TIFFIN_RUNNERS: 'runners',
  ...LIMIT_ENV_VARS,
  ...REMOTE_ENV_VARS,
  ...TASKS_ENV_VARS,
  TIFFIN_INLINE_MAX_RUN_MS: 'runner.inlineMaxRunMs',
} as const;

export interface TiffinConfig {
  /** The config file that was read, if any. */
  file: string | undefined;
  /** Absolute path of the service module named in the config file, if any. */
  service: string | undefined;
  server: {
    port: number;
    host: string;
    maxBodySize: number;
    shutdownGraceMs: number;
    headersTimeoutMs: number;
    requestTimeoutMs: number;
    keepAliveTimeoutMs: number;
    maxConnections: number;
    maxHeaderSize: number;
    apiTimeoutMs: number;
    /** Absolute paths (a config file's relative ones resolved against its folder). */
    tls: { cert: string; key: string } | undefined;
    development: boolean;
    docs: boolean;
    cors: { origins: '*' | string[]; credentials: boolean } | false;
  };
  logging: { level: (typeof LOG_LEVELS)[number]; format: 'json' | 'pretty' };
  /** Store models to serve with no code. */
  models: ServedModelConfig[];
  protocols: {
    rest: (typeof REST_PROTOCOLS)[number][];
    /** host undefined: the HTTP server's host. */
    grpc: { enabled: boolean; port: number; host: string | undefined };
  };
  repository: { pollIntervalMs: number; drainTimeoutMs: number; strictReadiness: boolean; loadUnlisted: boolean };
  /** The metrics, tracing and monitoring sections and the access-log keys, as given: Telemetry fills in its defaults. */
  telemetry: TelemetrySections;
  /** Tokens (read from their files at load) and allowed Host names. */
  auth: AuthConfig;
  /** What one request may hold beyond its body size, every key filled in. */
  limits: RequestLimits;
  /** The shared store (bucket undefined: none configured) and whether serve pulls missing models first. */
  remote: RemoteConfig;
  /** Dependency key -> where it answers; keys not listed run in this process. */
  dependencies: Record<string, { url: string; token?: string }>;
  /** The traffic section as given (src/config/traffic-section.ts); absent: no configured routes. */
  traffic?: TrafficSection | undefined;
  /** Model name -> the gRPC endpoints of its remote runner (`--role api`); empty when none is configured. */
  runners: RunnersSection;
  /** The tasks section as given (src/config/tasks-section.ts); defaults are filled where the store opens. */
  tasks?: TasksSection | undefined;
  /** Local runner pools; undefined keys take the runner's defaults. */
  runner: { inlineMaxRunMs: number | undefined };
}

export const DEFAULT_CONFIG: Omit<TiffinConfig, 'file' | 'service'> = {
  server: {
    port: 3000,
    host: '127.0.0.1',
    maxBodySize: 32 * 1024 * 1024,
    shutdownGraceMs: 30_000,
    headersTimeoutMs: 10_000,
    requestTimeoutMs: 120_000,
    keepAliveTimeoutMs: 72_000,
    maxConnections: 10_000,
    maxHeaderSize: 16 * 1024,
    apiTimeoutMs: 60_000,
    tls: undefined,
    development: false,
    docs: true,
    cors: false,
  },
  logging: { level: 'info', format: 'json' },
  models: [],
  protocols: { rest: [...REST_PROTOCOLS], grpc: { enabled: true, port: 8001, host: undefined } },
  repository: { pollIntervalMs: 2000, drainTimeoutMs: 30_000, strictReadiness: true, loadUnlisted: false },
  telemetry: {},
  auth: { tokens: new TokenSet([]), allowedHosts: [] },
  limits: DEFAULT_LIMITS,
  remote: resolveRemote({}, {}),
  dependencies: {},
  runners: {},
  runner: { inlineMaxRunMs: undefined },
};

/** A value from the command line: the config key it sets and the flag that gave it (for error messages). */
export interface ConfigOverride {
  key: string;
  value: unknown;
  source: string;
}

export interface LoadConfigOptions {
  /** A config file the user named; it must exist. Without it, tiffin.yaml in `cwd` is read when present. */
  file?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Command-line values, highest precedence. */
  overrides?: ConfigOverride[];
}

interface Issue {
  source: string;
  key: string;
  message: string;
}

type Plain = Record<string, unknown>;

function isPlain(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function setKey(target: Plain, key: string, value: unknown): void {
  const parts = key.split('.');
  let node = target;
  for (const p of parts.slice(0, -1)) {
    if (!isPlain(node[p])) node[p] = {};
    node = node[p] as Plain;
  }
  node[parts[parts.length - 1]!] = value;
}

function getKey(source: unknown, path: readonly PropertyKey[]): unknown {
  let node = source;
  for (const p of path) node = isPlain(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[p] : undefined;
  return node;
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = isPlain(v) && isPlain(out[k]) ? merge(out[k] as Plain, v) : v;
  return out;
}

/** The keys a section of the schema takes, for "unknown key" messages. */
function knownKeys(path: readonly PropertyKey[]): string[] {
  let schema: z.ZodType = configFileSchema;
  for (const p of path) {
    while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
    if (!(schema instanceof z.ZodObject)) return [];
    const next: unknown = (schema.shape as Record<string, unknown>)[String(p)];
    if (!(next instanceof z.ZodType)) return [];
    schema = next;
  }
  while (schema instanceof z.ZodOptional) schema = schema.unwrap() as z.ZodType;
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function issuesOf(error: z.core.$ZodError, raw: unknown, sourceOf: (key: string) => string): Issue[] {
  const out: Issue[] = [];
  for (const issue of error.issues) {
    const path = issue.path.map((p) => String(p));
    if (issue.code === 'unrecognized_keys') {
      for (const k of issue.keys) {
        const key = [...path, k].join('.');
        const known = knownKeys(issue.path);
        const where = path.length ? `${path.join('.')} takes` : 'known keys:';
        out.push({ source: sourceOf(key), key, message: `unknown key "${key}" (${where} ${known.join(', ')})` });
      }
      continue;
    }
    const key = path.join('.');
    const got = getKey(raw, issue.path);
    // Secrets are never echoed back, not even in an error.
    const gotText = got === undefined || /token/i.test(key) ? '' : ` (got ${JSON.stringify(got)})`;
    out.push({ source: sourceOf(key), key, message: `${key || '(top level)'}: ${issue.message}${gotText}` });
  }
  return out;
}

function fail(issues: Issue[]): never {
  const lines = issues.map((i) => `${i.source}: ${i.message}`);
  throw new TiffinError('CONFIG_INVALID', `invalid configuration: ${lines.join('; ')}`, { details: { issues } });
}

function validate(raw: unknown, sourceOf: (key: string) => string): ConfigFile {
  const result = configFileSchema.safeParse(raw);
  if (!result.success) fail(issuesOf(result.error, raw, sourceOf));
  return result.data;
}

function findConfigFile(options: LoadConfigOptions): string | undefined {
  const cwd = options.cwd ?? process.cwd();
  if (options.file !== undefined) {
    const file = resolve(cwd, options.file);
    if (!existsSync(file)) throw new TiffinError('CONFIG_INVALID', `config file ${options.file} does not exist`);
    return file;
  }
  return CONFIG_FILE_NAMES.map((n) => resolve(cwd, n)).find((f) => existsSync(f));
}

export function readConfigFile(file: string, shown: string): ConfigFile {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new TiffinError('CONFIG_INVALID', `${shown} is not valid YAML: ${messageOf(err)}`, { cause: err });
  }
  if (!isPlain(raw)) throw new TiffinError('CONFIG_INVALID', `${shown} must hold a mapping of keys (server:, logging:, ...), not ${Array.isArray(raw) ? 'a list' : typeof raw}`);
  return validate(raw, () => shown);
}

/** The variable or flag that set `key` or the value holding it (an issue may point inside a list, e.g. models.1). */
function sourceOf(sources: Record<string, string>, key: string): string | undefined {
  for (let k = key; k !== ''; k = k.includes('.') ? k.slice(0, k.lastIndexOf('.')) : '') {
    const source = sources[k];
    if (source !== undefined) return source;
  }
  return undefined;
}

function fromEnv(env: Record<string, string | undefined>): ConfigFile {
  const raw: Plain = {};
  const varOf: Record<string, string> = {};
  for (const [name, key] of Object.entries(ENV_VARS)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    setKey(raw, key, value);
    varOf[key] = name;
  }
  return validate(raw, (key) => sourceOf(varOf, key) ?? 'environment');
}

function fromOverrides(overrides: ConfigOverride[]): ConfigFile {
  const raw: Plain = {};
  const flagOf: Record<string, string> = {};
  for (const o of overrides) {
    if (o.value === undefined) continue;
    setKey(raw, o.key, o.value);
    flagOf[o.key] = o.source;
  }
  return validate(raw, (key) => sourceOf(flagOf, key) ?? 'command line');
}

/** Reads and validates the configuration; throws CONFIG_INVALID naming every bad value and where it came from. */
export function loadConfig(options: LoadConfigOptions = {}): TiffinConfig {
  const file = findConfigFile(options);
  const fileConfig = file ? readConfigFile(file, relative(options.cwd ?? process.cwd(), file) || file) : {};
  const envConfig = fromEnv(options.env ?? process.env);
  const flagConfig = fromOverrides(options.overrides ?? []);
  const merged = merge(merge(fileConfig as Plain, envConfig as Plain), flagConfig as Plain) as ConfigFile;

  const server = merged.server ?? {};
  const d = DEFAULT_CONFIG.server;
  const origins = server.cors?.origins;
  const credentials = server.cors?.credentials ?? false;
  if (origins === '*' && credentials) {
    fail([{ source: 'server.cors', key: 'server.cors.credentials', message: 'cors credentials cannot be combined with origins "*"; list the allowed origins' }]);
  }
  const tls = server.tls;
  if (tls && (tls.cert === undefined) !== (tls.key === undefined)) {
    const missing = tls.cert === undefined ? 'cert' : 'key';
    fail([{ source: 'server.tls', key: `server.tls.${missing}`, message: `TLS needs both a certificate and a key; server.tls.${missing} (TIFFIN_TLS_${missing.toUpperCase()}) is missing` }]);
  }
  // Relative to the config file when they came from it, else to the working directory.
  const tlsBase = fileConfig.server?.tls && file ? dirname(file) : (options.cwd ?? process.cwd());
  const service = flagConfig.service ?? envConfig.service ?? (fileConfig.service !== undefined && file ? resolve(dirname(file), fileConfig.service) : undefined);
  return {
    file,
    service,
    server: {
      port: server.port ?? d.port,
      host: server.host ?? d.host,
      maxBodySize: server.maxBodySize ?? d.maxBodySize,
      shutdownGraceMs: server.shutdownGraceMs ?? d.shutdownGraceMs,
      headersTimeoutMs: server.headersTimeout ?? d.headersTimeoutMs,
      requestTimeoutMs: server.requestTimeout ?? d.requestTimeoutMs,
      keepAliveTimeoutMs: server.keepAliveTimeout ?? d.keepAliveTimeoutMs,
      maxConnections: server.maxConnections ?? d.maxConnections,
      maxHeaderSize: server.maxHeaderSize ?? d.maxHeaderSize,
      apiTimeoutMs: server.apiTimeout ?? d.apiTimeoutMs,
      tls: tls?.cert && tls.key ? { cert: resolve(tlsBase, tls.cert), key: resolve(tlsBase, tls.key) } : undefined,
      development: server.development ?? d.development,
      docs: server.docs ?? d.docs,
      cors: origins !== undefined && (origins === '*' || origins.length > 0) ? { origins, credentials } : false,
    },
    logging: {
      level: merged.logging?.level ?? DEFAULT_CONFIG.logging.level,
      format: merged.logging?.format ?? DEFAULT_CONFIG.logging.format,
    },
    models: merged.models ?? [],
    protocols: {
      rest: merged.protocols?.rest ?? [...DEFAULT_CONFIG.protocols.rest],
      grpc: {
        enabled: merged.protocols?.grpc?.enabled ?? DEFAULT_CONFIG.protocols.grpc.enabled,
        port: merged.protocols?.grpc?.port ?? DEFAULT_CONFIG.protocols.grpc.port,
        host: merged.protocols?.grpc?.host,
      },
    },
    repository: {
      pollIntervalMs: merged.repository?.pollInterval ?? DEFAULT_CONFIG.repository.pollIntervalMs,
      drainTimeoutMs: merged.repository?.drainTimeout ?? DEFAULT_CONFIG.repository.drainTimeoutMs,
      strictReadiness: merged.repository?.strictReadiness ?? DEFAULT_CONFIG.repository.strictReadiness,
      loadUnlisted: merged.repository?.loadUnlisted ?? DEFAULT_CONFIG.repository.loadUnlisted,
    },
    telemetry: {
      metrics: merged.metrics,
      logging: { accessLog: merged.logging?.accessLog, quietPaths: merged.logging?.quietPaths },
      tracing: merged.tracing,
      monitoring: merged.monitoring,
    },
    auth: resolveAuth(merged.auth),
    limits: resolveLimits(merged.limits),
    remote: resolveRemote(merged.remote, options.env ?? process.env),
    dependencies: merged.dependencies ?? {},
    traffic: merged.traffic,
    runners: merged.runners ?? {},
    tasks: merged.tasks,
    runner: { inlineMaxRunMs: merged.runner?.inlineMaxRunMs },
  };
}
