// Owns: `bundle.yaml`, the manifest of one built bundle: what service it serves, the models it pins, its runtime
// dependencies and container options, and every file's size and sha256. Validated strictly (zod) when read.
import YAML from 'yaml';
import { z } from 'zod';
import { TiffinError, messageOf } from '../errors/index.ts';
import { isValidName, isValidVersion, relativePathProblem, type FileEntry } from '../store/index.ts';

export const BUNDLE_FILE = 'bundle.yaml';
export const BUNDLE_EXTENSION = '.tiffinbundle';
export const BUNDLE_SCHEMA_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'expected 64 lowercase hexadecimal characters' });
const name = z.string().refine(isValidName, { error: 'breaks the naming rule (lowercase letters, digits, ".", "_", "-")' });
const version = z.string().refine(isValidVersion, { error: 'is not a valid version' });
const relativePath = z.string().superRefine((p, ctx) => {
  const problem = relativePathProblem(p);
  if (problem) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(p)} ${problem}` });
  if (p === BUNDLE_FILE) ctx.addIssue({ code: 'custom', message: `${BUNDLE_FILE} is the manifest itself` });
});

const pinnedModelSchema = z.strictObject({
  /** The tag as the service or tiffin.yaml wrote it, e.g. iris:latest. */
  ref: z.string().min(1),
  name,
  version,
  /** sha256 of the version's model.yaml, which lists every model file's sha256: one digest pins all of it. */
  digest: sha256,
});

export const bundleManifestSchema = z.strictObject({
  schemaVersion: z.literal(BUNDLE_SCHEMA_VERSION, { error: `expected ${BUNDLE_SCHEMA_VERSION} (written by another Tiffin? upgrade it)` }),
  name,
  version,
  createdAt: z.iso.datetime({ error: 'expected an ISO 8601 time' }),
  description: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  service: z.strictObject({
    /** The service's own name (its routes and metrics carry it). */
    name: z.string().min(1),
    /** The bundled module, relative to the bundle folder. */
    entry: relativePath,
    apis: z.array(z.string()),
  }),
  models: z.array(pinnedModelSchema),
  /** Versions of what built it: the bundle runs on this Tiffin (vendored) and needs a Node that satisfies `node`. */
  tiffin: z.strictObject({ version: z.string().min(1), node: z.string().min(1) }),
  /** Runtime npm dependencies of the bundled code (exact versions; package-lock.json pins the rest). */
  dependencies: z.record(z.string(), z.string()),
  env: z.record(z.string(), z.string()),
  container: z.strictObject({
    baseImage: z.string().optional(),
    systemPackages: z.array(z.string()),
    setup: z.array(z.string()),
  }),
  size: z.number().int().min(0),
  files: z.array(z.strictObject({ path: relativePath, size: z.number().int().min(0), sha256 })),
});

export type BundleManifest = z.output<typeof bundleManifestSchema>;
export type PinnedModel = z.output<typeof pinnedModelSchema>;

function invalid(message: string, source?: string): TiffinError {
  return new TiffinError('MANIFEST_INVALID', `Invalid ${BUNDLE_FILE}${source ? ` (${source})` : ''}: ${message}.`, { details: { source } });
}

/** Checks what zod cannot say alone: the size adds up, no path is listed twice. */
function checkFiles(files: FileEntry[], size: number, source?: string): void {
  const seen = new Set<string>();
  for (const f of files) {
    if (seen.has(f.path)) throw invalid(`files lists ${JSON.stringify(f.path)} twice`, source);
    seen.add(f.path);
  }
  const total = files.reduce((sum, f) => sum + f.size, 0);
  if (total !== size) throw invalid(`size is ${size} but the listed files add up to ${total} bytes`, source);
}

export function validateBundleManifest(value: unknown, source?: string): BundleManifest {
  const parsed = bundleManifestSchema.safeParse(value);
  if (!parsed.success) {
    const shown = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'the manifest'} ${i.message}`).join('; ');
    throw invalid(shown, source);
  }
  checkFiles(parsed.data.files, parsed.data.size, source);
  return parsed.data;
}

export function parseBundleManifest(text: string, source?: string): BundleManifest {
  let value: unknown;
  try {
    value = YAML.parse(text, { uniqueKeys: true, strict: true, maxAliasCount: 0 });
  } catch (err) {
    throw invalid(`not valid YAML: ${messageOf(err)}`, source);
  }
  return validateBundleManifest(value, source);
}

export function stringifyBundleManifest(manifest: BundleManifest): string {
  return YAML.stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false });
}
