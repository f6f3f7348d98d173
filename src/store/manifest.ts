// Owns: the `model.yaml` manifest of one stored model version: its shape, parsing and validation.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import YAML from 'yaml';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { Signature, TensorSpec } from '../runtime/tensor.ts';
import type { ModelDescriptor } from '../runtime/types.ts';
import { DTYPES, isDType } from '../runtime/tensor.ts';
import { relativePathProblem } from './relative-path.ts';
import { LATEST, NAME_RULE, isValidName } from './tag.ts';

export const MANIFEST_FILE = 'model.yaml';
export const MANIFEST_SCHEMA_VERSION = 1;

export interface FileEntry {
  /** Path relative to the version folder, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

/** model.yaml: what a runtime is told when it loads the version (ModelDescriptor), plus the store's own records. */
export interface ModelManifest extends ModelDescriptor {
  schemaVersion: number;
  /** Total bytes of all files. */
  size: number;
  files: FileEntry[];
}

/** One thing wrong with a manifest: where (a dotted path such as `files[2].sha256`) and what. */
export interface ManifestProblem {
  path: string;
  message: string;
}

const TOP_LEVEL_KEYS = [
  'schemaVersion', 'name', 'version', 'framework', 'frameworkVersion', 'entry', 'createdAt', 'size',
  'labels', 'metadata', 'signatures', 'files',
] as const;
const SIGNATURE_KEYS = ['batchable', 'batchDim', 'inputs', 'outputs'] as const;
const TENSOR_KEYS = ['name', 'dtype', 'shape'] as const;
const FILE_KEYS = ['path', 'size', 'sha256'] as const;
const SHA256_PATTERN = /^[0-9a-f]{64}$/;
const METHOD_PATTERN = /^[A-Za-z_$][A-Za-z0-9_$.-]{0,127}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const MAX_METADATA_DEPTH = 32;

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Collects problems instead of stopping at the first, so one error tells the whole story. */
class Checker {
  readonly problems: ManifestProblem[] = [];

  add(path: string, message: string): void {
    this.problems.push({ path, message });
  }

  object(value: unknown, path: string, allowed: readonly string[]): Plain | undefined {
    if (!isPlainObject(value)) {
      this.add(path, `must be a mapping, got ${describe(value)}`);
      return undefined;
    }
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.add(join2(path, key), `is not a known field (known: ${allowed.join(', ')})`);
    }
    for (const key of allowed) {
      if (!(key in value)) this.add(join2(path, key), 'is required');
    }
    return value;
  }

  string(value: unknown, path: string, { nonEmpty = false } = {}): value is string {
    if (typeof value !== 'string') {
      if (value !== undefined) this.add(path, `must be a string, got ${describe(value)}${typeof value === 'number' ? ' (quote it)' : ''}`);
      return false;
    }
    if (nonEmpty && value.length === 0) {
      this.add(path, 'must not be empty');
      return false;
    }
    return true;
  }

  integer(value: unknown, path: string, min: number): value is number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      if (value !== undefined) this.add(path, `must be an integer >= ${min}, got ${describe(value)}`);
      return false;
    }
    return true;
  }

  boolean(value: unknown, path: string): value is boolean {
    if (typeof value !== 'boolean') {
      if (value !== undefined) this.add(path, `must be true or false, got ${describe(value)}`);
      return false;
    }
    return true;
  }

  list(value: unknown, path: string): value is unknown[] {
    if (!Array.isArray(value)) {
      if (value !== undefined) this.add(path, `must be a list, got ${describe(value)}`);
      return false;
    }
    return true;
  }
}

function join2(path: string, key: string): string {
  const part = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : JSON.stringify(key);
  return path === '' ? part : `${path}.${part}`;
}

function checkJsonValue(c: Checker, value: unknown, path: string, depth: number): void {
  if (depth > MAX_METADATA_DEPTH) {
    c.add(path, `nests deeper than ${MAX_METADATA_DEPTH} levels`);
    return;
  }
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) c.add(path, 'must be a finite number');
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJsonValue(c, v, `${path}[${i}]`, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) checkJsonValue(c, v, join2(path, k), depth + 1);
    return;
  }
  c.add(path, `must be plain data (string, number, boolean, null, list or mapping), got ${typeof value}`);
}

function checkTensorSpecs(c: Checker, value: unknown, path: string): TensorSpec[] {
  if (!c.list(value, path)) return [];
  const seen = new Set<string>();
  const specs: TensorSpec[] = [];
  value.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const o = c.object(item, p, TENSOR_KEYS);
    if (!o) return;
    let ok = true;
    if (c.string(o.name, `${p}.name`, { nonEmpty: true })) {
      if (seen.has(o.name)) {
        c.add(`${p}.name`, `repeats ${JSON.stringify(o.name)}; names must be unique`);
        ok = false;
      }
      seen.add(o.name);
    } else ok = false;
    if (!isDType(o.dtype)) {
      if (o.dtype !== undefined) c.add(`${p}.dtype`, `must be one of ${DTYPES.join(', ')}, got ${describe(o.dtype)}`);
      ok = false;
    }
    if (c.list(o.shape, `${p}.shape`)) {
      o.shape.forEach((d, j) => {
        if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < -1) {
          c.add(`${p}.shape[${j}]`, `must be an integer >= 0, or -1 for a dynamic dimension, got ${describe(d)}`);
          ok = false;
        }
      });
    } else ok = false;
    if (ok) specs.push({ name: o.name as string, dtype: o.dtype as TensorSpec['dtype'], shape: [...(o.shape as number[])] });
  });
  return specs;
}

function checkSignature(c: Checker, value: unknown, path: string): void {
  const o = c.object(value, path, SIGNATURE_KEYS);
  if (!o) return;
  c.boolean(o.batchable, `${path}.batchable`);
  const dimOk = c.integer(o.batchDim, `${path}.batchDim`, 0);
  const inputs = checkTensorSpecs(c, o.inputs, `${path}.inputs`);
  const outputs = checkTensorSpecs(c, o.outputs, `${path}.outputs`);
  if (o.batchable === true && dimOk) {
    const dim = o.batchDim as number;
    for (const [kind, specs] of [['inputs', inputs], ['outputs', outputs]] as const) {
      for (const spec of specs) {
        if (spec.shape.length <= dim) {
          c.add(`${path}.${kind}`, `${JSON.stringify(spec.name)} has rank ${spec.shape.length}, too low to batch along dimension ${dim}`);
        }
      }
    }
  }
}

function checkFiles(c: Checker, value: unknown, path: string): FileEntry[] {
  if (!c.list(value, path)) return [];
  const files: FileEntry[] = [];
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const p = `${path}[${i}]`;
    const o = c.object(item, p, FILE_KEYS);
    if (!o) return;
    let ok = c.integer(o.size, `${p}.size`, 0);
    if (c.string(o.sha256, `${p}.sha256`) && !SHA256_PATTERN.test(o.sha256)) {
      c.add(`${p}.sha256`, 'must be 64 lowercase hexadecimal characters');
      ok = false;
    }
    if (c.string(o.path, `${p}.path`)) {
      const problem = relativePathProblem(o.path);
      if (problem) {
        c.add(`${p}.path`, `${JSON.stringify(o.path)} ${problem}`);
        ok = false;
      } else if (o.path === MANIFEST_FILE) {
        c.add(`${p}.path`, `${MANIFEST_FILE} is the manifest itself and cannot be listed as a model file`);
        ok = false;
      } else if (seen.has(o.path)) {
        c.add(`${p}.path`, `${JSON.stringify(o.path)} is listed twice`);
        ok = false;
      }
      seen.add(o.path);
    } else ok = false;
    if (ok) files.push({ path: o.path as string, size: o.size as number, sha256: o.sha256 as string });
  });
  // A path cannot be both a file and a folder holding other files.
  for (const f of files) {
    const segments = f.path.split('/');
    for (let k = 1; k < segments.length; k++) {
      const parent = segments.slice(0, k).join('/');
      if (seen.has(parent)) c.add(path, `${JSON.stringify(parent)} is listed as a file but also holds ${JSON.stringify(f.path)}`);
    }
  }
  return files;
}

/**
 * Checks a parsed manifest field by field and returns it typed, or throws MANIFEST_INVALID listing every problem.
 * `source` (a file path or tag) only decorates the message.
 */
export function validateManifest(value: unknown, source?: string): ModelManifest {
  const c = new Checker();
  const o = c.object(value, '', TOP_LEVEL_KEYS);
  if (o) {
    if (o.schemaVersion !== undefined && o.schemaVersion !== MANIFEST_SCHEMA_VERSION) {
      const newer = typeof o.schemaVersion === 'number' && o.schemaVersion > MANIFEST_SCHEMA_VERSION;
      c.add('schemaVersion', newer
        ? `is ${o.schemaVersion}, written by a newer Tiffin (this one reads ${MANIFEST_SCHEMA_VERSION}); upgrade Tiffin`
        : `must be ${MANIFEST_SCHEMA_VERSION}, got ${describe(o.schemaVersion)}`);
    }
    if (c.string(o.name, 'name') && !isValidName(o.name)) c.add('name', `${JSON.stringify(o.name)} breaks the naming rule: ${NAME_RULE}`);
    if (c.string(o.version, 'version')) {
      if (o.version === LATEST) c.add('version', `"${LATEST}" is reserved and cannot name a version`);
      else if (!isValidName(o.version)) c.add('version', `${JSON.stringify(o.version)} breaks the naming rule: ${NAME_RULE}`);
    }
    c.string(o.framework, 'framework', { nonEmpty: true });
    c.string(o.frameworkVersion, 'frameworkVersion');
    if (c.string(o.createdAt, 'createdAt') && (!ISO_8601.test(o.createdAt) || Number.isNaN(Date.parse(o.createdAt)))) {
      c.add('createdAt', `must be an ISO 8601 time such as 2024-05-01T12:00:00.000Z, got ${JSON.stringify(o.createdAt)}`);
    }
    if (o.labels !== undefined) {
      if (!isPlainObject(o.labels)) c.add('labels', `must be a mapping of strings to strings, got ${describe(o.labels)}`);
      else {
        for (const [k, v] of Object.entries(o.labels)) {
          if (k.length === 0) c.add('labels', 'has an empty key');
          if (typeof v !== 'string') c.add(join2('labels', k), `must be a string, got ${describe(v)} (quote it)`);
        }
      }
    }
    if (o.metadata !== undefined) {
      if (!isPlainObject(o.metadata)) c.add('metadata', `must be a mapping, got ${describe(o.metadata)}`);
      else checkJsonValue(c, o.metadata, 'metadata', 0);
    }
    if (o.signatures !== undefined) {
      if (!isPlainObject(o.signatures)) c.add('signatures', `must be a mapping of method name to signature, got ${describe(o.signatures)}`);
      else {
        for (const [method, sig] of Object.entries(o.signatures)) {
          if (!METHOD_PATTERN.test(method)) c.add(join2('signatures', method), 'is not a valid method name (a letter, _ or $, then up to 127 letters, digits, _, $, . or -)');
          checkSignature(c, sig, join2('signatures', method));
        }
      }
    }
    const files = checkFiles(c, o.files, 'files');
    if (c.string(o.entry, 'entry', { nonEmpty: true })) {
      const problem = relativePathProblem(o.entry);
      if (problem) c.add('entry', `${JSON.stringify(o.entry)} ${problem}`);
      else if (Array.isArray(o.files) && !files.some((f) => f.path === o.entry)) {
        c.add('entry', `${JSON.stringify(o.entry)} is not one of the listed files`);
      }
    }
    if (c.integer(o.size, 'size', 0) && Array.isArray(o.files) && files.length === o.files.length) {
      const total = files.reduce((sum, f) => sum + f.size, 0);
      if (total !== o.size) c.add('size', `is ${o.size} but the listed files add up to ${total} bytes`);
    }
  }
  if (c.problems.length > 0) throw manifestError(c.problems, source);
  return value as ModelManifest;
}

function manifestError(problems: ManifestProblem[], source?: string): TiffinError {
  const shown = problems.slice(0, 5).map((p) => `${p.path || 'the manifest'} ${p.message}`).join('; ');
  const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
  const where = source ? ` (${source})` : '';
  return new TiffinError('MANIFEST_INVALID', `Invalid ${MANIFEST_FILE}${where}: ${shown}${more}.`, { details: { source, problems } });
}

/** Parses and validates the text of a model.yaml; throws MANIFEST_INVALID on bad YAML or bad content. */
export function parseManifest(text: string, source?: string): ModelManifest {
  let doc: YAML.Document.Parsed;
  try {
    doc = YAML.parseDocument(text, { uniqueKeys: true, prettyErrors: true, schema: 'core', strict: true });
  } catch (err) {
    throw manifestError([{ path: '', message: `is not valid YAML: ${messageOf(err)}` }], source);
  }
  if (doc.errors.length > 0) {
    throw manifestError(doc.errors.map((e) => ({ path: '', message: `is not valid YAML: ${(e.message.split('\n')[0] ?? e.code).replace(/:$/, '')}` })), source);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw manifestError([{ path: '', message: `cannot be read: ${messageOf(err)}` }], source);
  }
  return validateManifest(value, source);
}

/** The manifest as model.yaml text, fields in a fixed order, with the optional maps always present. */
export function stringifyManifest(manifest: ModelManifest): string {
  const ordered = {
    schemaVersion: manifest.schemaVersion,
    name: manifest.name,
    version: manifest.version,
    framework: manifest.framework,
    frameworkVersion: manifest.frameworkVersion,
    entry: manifest.entry,
    createdAt: manifest.createdAt,
    size: manifest.size,
    labels: manifest.labels,
    metadata: manifest.metadata,
    signatures: manifest.signatures,
    files: manifest.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
  };
  return YAML.stringify(ordered, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Reads and validates `<dir>/model.yaml`. Missing file: the fs error (ENOENT) propagates; bad content: MANIFEST_INVALID. */
export async function readManifest(dir: string): Promise<ModelManifest> {
  const file = join(dir, MANIFEST_FILE);
  return parseManifest(await readFile(file, 'utf8'), file);
}
