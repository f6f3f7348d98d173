// The telemetry keys of tiffin.yaml: the `metrics:`, `tracing:` and `monitoring:` sections and the access-log
// keys of `logging:`, as zod schemas the config loader embeds (every key optional, strings from TIFFIN_*
// variables accepted), and the defaults that resolve them. With no configuration, metrics and the access
// log are on, tracing follows OTEL_*, and prediction logging is off until a folder is given.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { booleanText, numeric, parseSize } from '../units/index.ts';
import { resolveBuckets, type MetricBuckets } from './metrics/buckets.ts';

// Constants the config, the logger and the HTTP hooks share. This file imports no logging or tracing library, so
// loading a config stays cheap.
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const DEFAULT_METRICS_PATH = '/metrics';
/** Exact paths, or prefixes ending in '*': probes and scrapes, counted in metrics but neither logged nor traced. */
export const DEFAULT_QUIET_PATHS: readonly string[] = ['/livez', '/readyz', '/healthz', DEFAULT_METRICS_PATH, '/v2/health/*'];



function list(value: unknown): unknown {
  return typeof value === 'string' ? value.split(',').map((s) => s.trim()).filter(Boolean) : value;
}

const flag = z.preprocess(booleanText, z.boolean({ error: 'expected true or false' }));
const urlPath = z.string({ error: 'expected a path such as /metrics' }).startsWith('/', { error: 'expected a path starting with /' });
const bucketList = z.preprocess(
  (v) => (Array.isArray(v) || typeof v === 'string' ? (list(v) as unknown[]).map(numeric) : v),
  z
    .array(z.number().positive(), { error: 'expected a list of positive numbers' })
    .min(1, { error: 'expected at least one bucket bound' })
    .refine((b) => b.every((x, i) => i === 0 || x > b[i - 1]!), { error: 'expected bucket bounds in increasing order' }),
);

export const metricsSectionSchema = z.strictObject({
  /** false: nothing is recorded and /metrics is not served. */
  enabled: flag.optional(),
  path: urlPath.optional(),
  /** CPU, memory, heap, GC and event-loop metrics. */
  process: flag.optional(),
  /** 'auto' exports GPU metrics when nvidia-smi finds a GPU. */
  gpu: z.preprocess((v) => (v === 'auto' ? v : booleanText(v)), z.union([z.boolean(), z.literal('auto')], { error: 'expected true, false or auto' })).optional(),
  buckets: z
    .strictObject({
      httpDurationSeconds: bucketList.optional(),
      queueDurationSeconds: bucketList.optional(),
      computeDurationSeconds: bucketList.optional(),
      batchSize: bucketList.optional(),
      eventLoopDelaySeconds: bucketList.optional(),
    })
    .optional(),
});

/** The keys telemetry adds to the `logging:` section (beside level and format). */
export const accessLogKeys = {
  /** One line per request (default true). */
  accessLog: flag.optional(),
  /** Paths without access-log lines or spans: exact, or a prefix ending in '*'. Replaces the default list. */
  quietPaths: z.preprocess(list, z.array(urlPath)).optional(),
};

export const tracingSectionSchema = z.strictObject({
  /** false turns tracing off whatever OTEL_* say; otherwise OTEL_* decide. */
  enabled: flag.optional(),
  /** Make the request's span the active one for @opentelemetry/api users (costs throughput on Node 20). */
  activeContext: flag.optional(),
  /** New traces started per second at most (default 100), unless OTEL_TRACES_SAMPLER is set; callers' sampled traces always continue. */
  maxTracesPerSecond: z.preprocess(numeric, z.number({ error: 'expected a number of traces per second, 0 or more' }).min(0)).optional(),
});

export const monitoringSectionSchema = z.strictObject({
  /** Folder for prediction logs; unset: ctx.monitor() records nothing. */
  dir: z.string({ error: 'expected a folder path' }).min(1).optional(),
  sampleRate: z.preprocess(numeric, z.number({ error: 'expected a number from 0 to 1' }).min(0).max(1)).optional(),
  maxFileBytes: z
    .preprocess((v) => (typeof v === 'string' ? (parseSize(v) ?? v) : v), z.number({ error: 'expected a size such as 64MiB' }).int().positive())
    .optional(),
  maxFiles: z.preprocess(numeric, z.number({ error: 'expected a whole number above 0' }).int().positive()).optional(),
});

/** The telemetry sections, for programmatic use (the config loader embeds the parts instead). */
export const telemetrySectionsSchema = z.strictObject({
  metrics: metricsSectionSchema.optional(),
  logging: z
    .strictObject({
      level: z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` }).optional(),
      format: z.enum(LOG_FORMATS, { error: 'expected json or pretty' }).optional(),
      ...accessLogKeys,
    })
    .optional(),
  tracing: tracingSectionSchema.optional(),
  monitoring: monitoringSectionSchema.optional(),
});

export type TelemetrySections = z.input<typeof telemetrySectionsSchema>;

export interface TelemetryConfig {
  metrics: { enabled: boolean; path: string; process: boolean; gpu: boolean | 'auto'; buckets: MetricBuckets };
  logging: { level: LogLevel; format: LogFormat; accessLog: boolean; quietPaths: string[] };
  tracing: { enabled: boolean | undefined; activeContext: boolean; maxTracesPerSecond: number };
  monitoring: { dir: string | undefined; sampleRate: number; maxFileBytes: number; maxFiles: number };
}

export const DEFAULT_TELEMETRY_CONFIG: TelemetryConfig = {
  metrics: { enabled: true, path: DEFAULT_METRICS_PATH, process: true, gpu: 'auto', buckets: resolveBuckets() },
  logging: { level: 'info', format: 'json', accessLog: true, quietPaths: [...DEFAULT_QUIET_PATHS] },
  tracing: { enabled: undefined, activeContext: false, maxTracesPerSecond: 100 },
  monitoring: { dir: undefined, sampleRate: 1, maxFileBytes: 64 * 2 ** 20, maxFiles: 10 },
};

/** Validates the sections (CONFIG_INVALID naming each bad key) and fills in the defaults. */
export function resolveTelemetryConfig(sections: TelemetrySections = {}): TelemetryConfig {
  const parsed = telemetrySectionsSchema.safeParse(sections);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`);
    throw new TiffinError('CONFIG_INVALID', `invalid telemetry configuration: ${issues.join('; ')}`, { details: { issues } });
  }
  const { metrics = {}, logging = {}, tracing = {}, monitoring = {} } = parsed.data;
  const d = DEFAULT_TELEMETRY_CONFIG;
  return {
    metrics: {
      enabled: metrics.enabled ?? d.metrics.enabled,
      path: metrics.path ?? d.metrics.path,
      process: metrics.process ?? d.metrics.process,
      gpu: metrics.gpu ?? d.metrics.gpu,
      buckets: resolveBuckets(metrics.buckets),
    },
    logging: {
      level: logging.level ?? d.logging.level,
      format: logging.format ?? d.logging.format,
      accessLog: logging.accessLog ?? d.logging.accessLog,
      quietPaths: logging.quietPaths ?? [...d.logging.quietPaths],
    },
    tracing: {
      enabled: tracing.enabled,
      activeContext: tracing.activeContext ?? d.tracing.activeContext,
      maxTracesPerSecond: tracing.maxTracesPerSecond ?? d.tracing.maxTracesPerSecond,
    },
    monitoring: {
      dir: monitoring.dir,
      sampleRate: monitoring.sampleRate ?? d.monitoring.sampleRate,
      maxFileBytes: monitoring.maxFileBytes ?? d.monitoring.maxFileBytes,
      maxFiles: monitoring.maxFiles ?? d.monitoring.maxFiles,
    },
  };
}
