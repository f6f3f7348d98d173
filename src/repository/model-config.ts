// The served-models configuration: `--models iris,ocr_det:3` on the command line, and the `models:`
// section of tiffin.yaml (a list of tags or entries, or a mapping of name to entry).
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { parseTag } from '../store/tag.ts';
import type { ServedModelConfig } from './types.ts';
import { parseVersionPolicy, type VersionPolicy } from './version-policy.ts';

const versionName = z.union([z.string().min(1), z.number().int().nonnegative().transform(String)]);

const versionPolicySchema = z.union([
  z.literal('all'),
  z.string().transform((text, ctx): VersionPolicy => {
    try {
      return parseVersionPolicy(text);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  }),
  z.strictObject({ latest: z.number().int().min(1) }),
  z.strictObject({ specific: z.array(versionName).min(1) }),
]);

const batchingSchema = z.strictObject({
  enabled: z.boolean().optional(),
  maxBatchSize: z.number().int().min(1).optional(),
  maxLatencyMs: z.number().min(0).optional(),
  maxSplits: z.number().int().min(1).optional(),
});

/** Prediction logging of every call (src/telemetry): true, or the stream name and a sample rate of its own. */
const monitorSchema = z.union([
  z.boolean(),
  z.strictObject({ stream: z.string().min(1).optional(), sampleRate: z.number().min(0).max(1).optional() }),
]);

const entryFields = {
  versions: versionPolicySchema.optional(),
  labels: z.record(z.string(), versionName).optional(),
  batching: batchingSchema.optional(),
  timeoutMs: z.number().int().min(1).optional(),
  monitor: monitorSchema.optional(),
};

/** One entry of `models:`: a tag (`iris`, `ocr_det:3`) or an object with a name. */
export const servedModelSchema = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1), ...entryFields }),
]);

const sectionShape = z.union([
  z.array(servedModelSchema),
  z.record(z.string(), z.union([z.strictObject(entryFields), z.null()])),
]);

/** `iris,ocr_det:3` (from an environment variable or a flag) reads as a list of tags. */
function commaList(value: unknown): unknown {
  return typeof value === 'string' ? value.split(',').map((t) => t.trim()).filter(Boolean) : value;
}

/**
 * The `models:` section: a list of tags and entries, a mapping of model name to its settings, or a
 * comma-separated string of tags. Parses to one ServedModelConfig per model.
 */
export const modelsSectionSchema = z.preprocess(commaList, sectionShape).transform((data, ctx): ServedModelConfig[] => {
  try {
    return toConfigs(data);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** `iris` serves the newest version, `ocr_det:3` serves version 3 only. */
export function modelConfigFromTag(tag: string): ServedModelConfig {
  const { name, version } = parseTag(tag.trim());
  return version === undefined ? { name } : { name, versions: { specific: [version] } };
}

/** `iris,ocr_det:3` → one config per tag. A name given twice with versions merges into one specific list. */
export function parseModelList(text: string): ServedModelConfig[] {
  return mergeByName(text.split(',').map((t) => t.trim()).filter(Boolean).map(modelConfigFromTag));
}

function mergeByName(configs: ServedModelConfig[]): ServedModelConfig[] {
  const byName = new Map<string, ServedModelConfig>();
  for (const c of configs) {
    const prev = byName.get(c.name);
    if (!prev) {
      byName.set(c.name, c);
      continue;
    }
    const a = prev.versions;
    const b = c.versions;
    if (a && b && typeof a === 'object' && typeof b === 'object' && 'specific' in a && 'specific' in b) {
      byName.set(c.name, { ...prev, versions: { specific: [...new Set([...a.specific, ...b.specific])] } });
    } else {
      throw new TiffinError('CONFIG_INVALID', `model ${c.name} is listed twice; list it once (use versions: to serve several)`);
    }
  }
  return [...byName.values()];
}

function toConfigs(data: z.output<typeof sectionShape>): ServedModelConfig[] {
  const configs: ServedModelConfig[] = Array.isArray(data)
    ? data.map((item) => (typeof item === 'string' ? modelConfigFromTag(item) : { ...item }))
    : Object.entries(data).map(([name, entry]) => ({ name, ...(entry ?? {}) }));
  for (const c of configs) parseTag(c.name); // the naming rule, with the store's message
  return mergeByName(configs.map(dropUndefined));
}

/** Validates a `models:` section and returns one config per model; CONFIG_INVALID lists what is wrong. */
export function parseModelsSection(value: unknown): ServedModelConfig[] {
  const parsed = modelsSectionSchema.safeParse(value);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `models${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${i.message}`);
    throw new TiffinError('CONFIG_INVALID', `invalid models section: ${problems.slice(0, 5).join('; ')}`, { details: { problems } });
  }
  return parsed.data;
}

function dropUndefined(c: ServedModelConfig): ServedModelConfig {
  const out: ServedModelConfig = { name: c.name };
  if (c.versions !== undefined) out.versions = c.versions;
  if (c.labels !== undefined) out.labels = c.labels;
  if (c.batching !== undefined) out.batching = c.batching;
  if (c.timeoutMs !== undefined) out.timeoutMs = c.timeoutMs;
  if (c.monitor !== undefined) out.monitor = c.monitor;
  return out;
}
