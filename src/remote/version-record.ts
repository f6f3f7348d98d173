// version.json: the record that makes a remote version exist. Written last by push, read first by pull and list.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { isValidName, isValidVersion } from '../store/index.ts';
import type { RemoteVersion } from './types.ts';

/** Layout version of version.json this Tiffin writes and reads. */
export const REMOTE_FORMAT_VERSION = 1;

export const VERSION_RECORD_FILE = 'version.json';

const SHA256 = /^[0-9a-f]{64}$/;

const recordSchema = z.object({
  formatVersion: z.number().int().min(1),
  kind: z.enum(['models', 'bundles']),
  name: z.string().refine(isValidName, 'breaks the naming rule'),
  version: z.string().refine(isValidVersion, 'breaks the naming rule'),
  createdAt: z.string().refine((v) => !Number.isNaN(Date.parse(v)), 'is not an ISO 8601 time'),
  pushedAt: z.string(),
  labels: z.record(z.string(), z.string()),
  size: z.number().int().min(0),
  archive: z.object({ key: z.string().min(1), sha256: z.string().regex(SHA256, 'is not a lowercase hex sha256'), bytes: z.number().int().min(0) }),
});

/** Parses version.json text; ARCHIVE_INVALID names the object and what is wrong (a newer layout: upgrade Tiffin). */
export function parseVersionRecord(text: string, where: string): RemoteVersion {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new TiffinError('ARCHIVE_INVALID', `${where} is not valid JSON; push that version again (with --force) to rewrite it.`, { details: { object: where } });
  }
  const format = (raw as { formatVersion?: unknown } | null)?.formatVersion;
  if (typeof format === 'number' && format > REMOTE_FORMAT_VERSION) {
    throw new TiffinError('ARCHIVE_INVALID', `${where} has format version ${format}, written by a newer Tiffin (this one reads ${REMOTE_FORMAT_VERSION}); upgrade Tiffin to pull it.`, {
      details: { object: where, formatVersion: format },
    });
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'} ${i.message}`);
    throw new TiffinError('ARCHIVE_INVALID', `${where} is not a valid version record: ${problems.slice(0, 5).join('; ')}. Push that version again (with --force) to rewrite it.`, {
      details: { object: where, problems },
    });
  }
  return parsed.data;
}

export function stringifyVersionRecord(record: RemoteVersion): string {
  return `${JSON.stringify(record, null, 2)}\n`;
}

/** Newest first: createdAt descending, then version descending (generated versions sort by time). */
export function newestFirst(a: RemoteVersion, b: RemoteVersion): number {
  const byTime = Date.parse(b.createdAt) - Date.parse(a.createdAt);
  return byTime !== 0 ? byTime : a.version < b.version ? 1 : a.version > b.version ? -1 : 0;
}
