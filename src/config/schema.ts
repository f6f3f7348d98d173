// The shape of tiffin.yaml, as zod schemas. Each section is optional and strict (typos are errors).
// Later sections (models:, runners:, batching:) are added to `configFileSchema` beside `server` and `logging`.
import { z } from 'zod';
import { authSectionSchema } from '../auth/index.ts';
import { bundleSectionSchema } from './bundle-section.ts';
import { dependenciesSectionSchema } from './dependencies-section.ts';
import { trafficSectionSchema } from './traffic-section.ts';
import { tasksSectionSchema } from './tasks-section.ts';
import { limitsSectionSchema } from '../limits/index.ts';
import { modelsSectionSchema } from '../repository/model-config.ts';
import { remoteSectionSchema } from '../remote/config.ts';
import { runnersSectionSchema } from '../remote-runners/config.ts';
import { accessLogKeys, metricsSectionSchema, monitoringSectionSchema, tracingSectionSchema } from '../telemetry/config.ts';
import { booleanText, numeric, parseDuration, parseSize } from '../units/index.ts';



function integer(min: number, max: number) {
  const error = `expected an integer from ${min} to ${max}`;
  return z.preprocess(numeric, z.number({ error }).int({ error }).min(min, { error }).max(max, { error }));
}

const size = z.preprocess(
  (v) => (typeof v === 'string' ? (parseSize(v) ?? v) : v),
  z.number({ error: 'expected a size in bytes, or with a unit such as 512KiB, 32MiB, 1GiB' }).int().positive({ error: 'expected a size above 0' }),
);

const duration = z.preprocess(
  (v) => (typeof v === 'string' ? (parseDuration(v) ?? v) : v),
  z.number({ error: 'expected milliseconds, or a duration such as 500ms, 30s, 2m' }).int().min(0, { error: 'expected a duration of 0 or more' }),
);

const flag = z.preprocess(booleanText, z.boolean({ error: 'expected true or false' }));

const origins = z.preprocess(
  (v) => (typeof v === 'string' && v.trim() !== '*' ? v.split(',').map((s) => s.trim()).filter(Boolean) : typeof v === 'string' ? '*' : v),
  z.union([z.literal('*'), z.array(z.string().min(1))], { error: 'expected "*" or a list of origins such as https://app.example.com' }),
);

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const serverSectionSchema = z.strictObject({
  port: integer(0, 65535).optional(),
  host: z.string({ error: 'expected a host name or IP address such as 127.0.0.1 or 0.0.0.0' }).min(1).optional(),
  maxBodySize: size.optional(),
  shutdownGraceMs: duration.optional(),
  headersTimeout: duration.optional(),
  requestTimeout: duration.optional(),
  keepAliveTimeout: duration.optional(),
  apiTimeout: duration.optional(),
  maxConnections: integer(1, 1_000_000).optional(),
  maxHeaderSize: size.optional(),
  tls: z
    .strictObject({
      // Both or neither, checked once the file, environment and flags are merged (each may give one).
      cert: z.string({ error: 'expected the path of a PEM certificate file' }).min(1).optional(),
      key: z.string({ error: 'expected the path of a PEM private key file' }).min(1).optional(),
    })
    .optional(),
  development: flag.optional(),
  docs: flag.optional(),
  cors: z
    .strictObject({
      origins: origins.optional(),
      credentials: flag.optional(),
    })
    .optional(),
});

export const loggingSectionSchema = z.strictObject({
  level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).optional(),
  format: z.enum(['json', 'pretty'], { error: 'expected json or pretty' }).optional(),
  /** accessLog, quietPaths: owned by telemetry. */
  ...accessLogKeys,
});

/** The HTTP inference protocols the server can mount (KServe V2 under /v2, TF Serving under /v1, TorchServe). */
export const REST_PROTOCOLS = ['kserve-v2', 'tfserving', 'torchserve'] as const;

const protocolList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.enum(REST_PROTOCOLS, { error: `expected a list of ${REST_PROTOCOLS.join(', ')}` })),
);

/** Standard inference protocols: which REST ones to mount, and the gRPC server (KServe V2 + grpc.health.v1). */
export const protocolsSectionSchema = z.strictObject({
  rest: protocolList.optional(),
  grpc: z
    .strictObject({
      enabled: flag.optional(),
      port: integer(0, 65535).optional(),
      host: z.string({ error: 'expected a host name or IP address' }).min(1).optional(),
    })
    .optional(),
});

/** The live model repository: hot reload and readiness. */
export const repositorySectionSchema = z.strictObject({
  /** How often the store is checked for new versions; 0 turns hot reload off. */
  pollInterval: duration.optional(),
  /** Longest a retired version waits for its in-flight requests. */
  drainTimeout: duration.optional(),
  /** Ready only when every served model has a ready version. */
  strictReadiness: flag.optional(),
  /** The management API may load a stored model the server was not configured to serve. Default false. */
  loadUnlisted: flag.optional(),
});

/** How the local runner pools run models (src/runner). */
export const runnerSectionSchema = z.strictObject({
  /** A lone call of a model predicted to take at most this many ms runs on the event loop instead of a replica
   * thread, when no other request overlaps it (src/runner/inline-runs.ts, docs/runners-and-batching.md). Default
   * 0.5; 0 turns it off. */
  inlineMaxRunMs: z.preprocess(numeric, z.number({ error: 'expected milliseconds from 0 to 10, such as 0.5' }).min(0).max(10, { error: 'expected at most 10 ms: longer runs would stall the event loop' })).optional(),
});

/** Every key tiffin.yaml may hold. All optional: defaults fill the rest. */
export const configFileSchema = z.strictObject({
  /** The service module `tiffin serve` runs when none is named on the command line. */
  service: z.string({ error: 'expected the path of a service module, such as ./service.ts' }).min(1).optional(),
  server: serverSectionSchema.optional(),
  logging: loggingSectionSchema.optional(),
  /** Store models served with no code (tags, or entries with version policy, labels and batching). */
  models: modelsSectionSchema.optional(),
  protocols: protocolsSectionSchema.optional(),
  repository: repositorySectionSchema.optional(),
  /** Prometheus metrics, tracing and prediction logs (src/telemetry/config.ts). */
  metrics: metricsSectionSchema.optional(),
  tracing: tracingSectionSchema.optional(),
  monitoring: monitoringSectionSchema.optional(),
  /** What one request may hold beyond its body size (src/limits). */
  limits: limitsSectionSchema.optional(),
  /** Tokens and their scopes, protected /metrics, allowed Host names (src/auth/config.ts). */
  auth: authSectionSchema.optional(),
  /** What `tiffin build` packs beside the service and its models: name, labels, files, env, container (src/config/bundle-section.ts). */
  bundle: bundleSectionSchema.optional(),
  /** The shared store on an S3-compatible bucket, and pull on start (src/remote/config.ts). */
  remote: remoteSectionSchema.optional(),
  /** Where the services this one depends on answer, when not in this process (src/config/dependencies-section.ts). */
  dependencies: dependenciesSectionSchema.optional(),
  /** Traffic routes between model versions: splits, sticky A/B, shadows (src/config/traffic-section.ts, docs/traffic.md). */
  traffic: trafficSectionSchema.optional(),
  /** Where `tiffin serve --role api` finds each model's remote runner: model name -> gRPC endpoints (src/remote-runners/config.ts). */
  runners: runnersSectionSchema.optional(),
  /** Local runner pools: inline runs of cheap models (src/runner/inline-runs.ts). TIFFIN_INLINE_MAX_RUN_MS. */
  runner: runnerSectionSchema.optional(),
  /** Durable async tasks: store folder, retention (src/config/tasks-section.ts, docs/tasks.md). */
  tasks: tasksSectionSchema.optional(),
});

export type ConfigFile = z.output<typeof configFileSchema>;
