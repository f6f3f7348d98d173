// Owns: the `.tiffinmodel` archive (a gzip-compressed tar: model.yaml first, then the files it lists): writing one,
// and reading one defensively into a folder. Every entry is inspected and a bad one refuses the whole archive; tar never
// writes to disk itself (its Parser only reads, this module creates each file), so no entry can land outside `destDir`.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Pack, Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { TiffinError, isTiffinError, messageOf } from '../errors/index.ts';
import { writeHashed } from './digest.ts';
import type { FileEntry, ModelManifest } from './manifest.ts';
import { MANIFEST_FILE, parseManifest } from './manifest.ts';
import { isEscapingPath, relativePathProblem } from './relative-path.ts';

/** File extension of exported models. */
export const ARCHIVE_EXTENSION = '.tiffinmodel';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const LINK_TYPES = new Set(['Link', 'SymbolicLink']);
const DEVICE_TYPES = new Set(['CharacterDevice', 'BlockDevice', 'FIFO']);

/** A link cache that never remembers, so files with several hard links are archived as plain copies. */
class NoLinkCache extends Map<`${number}:${number}`, string> {
  override set(): this {
    return this;
  }
}

/**
 * Writes `paths` (relative to `dir`, regular files) into a new gzip tar at `outFile`, atomically:
 * a temporary file next to it is filled, fsynced and renamed over `outFile`.
 */
export async function writeArchive(dir: string, paths: readonly string[], outFile: string, mtime?: Date): Promise<void> {
  const tmp = `${outFile}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
  try {
    await new Promise<void>((resolve, reject) => {
      const pack = new Pack({ cwd: dir, gzip: true, portable: true, strict: true, linkCache: new NoLinkCache(), ...(mtime ? { mtime } : {}) });
      const out = createWriteStream(tmp, { flags: 'wx' });
      pack.on('error', reject);
      out.on('error', reject);
      out.on('close', resolve);
      pack.pipe(out);
      // Pack.add, unlike tar.c, gives no special meaning to names starting with '@'.
      for (const p of paths) pack.add(p);
      pack.end();
    });
    const handle = await open(tmp, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, outFile);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function unsafe(message: string, details: Record<string, unknown>): TiffinError {
  return new TiffinError('ARCHIVE_UNSAFE', message, { details });
}

function invalid(message: string, details: Record<string, unknown>, cause?: unknown): TiffinError {
  return new TiffinError('ARCHIVE_INVALID', message, { details, cause });
}

/** Checks that the file starts like gzip, so a wrong file gets a clear error instead of a tar parsing one. */
async function checkGzip(archiveFile: string): Promise<void> {
  let handle;
  try {
    handle = await open(archiveFile, 'r');
  } catch (err) {
    throw invalid(`Cannot read the archive ${archiveFile}: ${(err as NodeJS.ErrnoException).code ?? messageOf(err)}.`, { archive: archiveFile }, err);
  }
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    if (bytesRead < 2 || head[0] !== 0x1f || head[1] !== 0x8b) {
      throw invalid(`${archiveFile} is not a ${ARCHIVE_EXTENSION} archive (a .tiffinmodel file is a gzip-compressed tar, as written by export).`, { archive: archiveFile });
    }
  } finally {
    await handle.close();
  }
}

/**
 * The chunks of `stream` until it ends or `signal` aborts. A tar entry left behind by an aborted parser may never
 * end, so every wait races the abort; otherwise a damaged archive could leave a write pending forever.
 */
async function* untilAborted(stream: AsyncIterable<Buffer>, signal: AbortSignal): AsyncGenerator<Buffer> {
  const iterator = stream[Symbol.asyncIterator]();
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(new Error('extraction stopped'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  for (;;) {
    const next = await Promise.race([iterator.next(), aborted]);
    if (next.done) return;
    yield next.value;
  }
}

type Classified = { kind: 'file'; path: string } | { kind: 'skip' };

/** Decides what to do with one entry: a regular file to extract, a folder to skip (folders are made as needed), or refuse. */
function classify(entry: ReadEntry, archive: string): Classified {
  const raw = entry.path;
  const details = { archive, entry: raw, type: entry.type };
  if (isEscapingPath(raw)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is absolute or climbs out with '..'; a model archive only holds paths inside its own folder.`, details);
  }
  if (LINK_TYPES.has(entry.type)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is a ${entry.type === 'Link' ? 'hard' : 'symbolic'} link (to ${JSON.stringify(entry.linkpath ?? '')}); model archives may hold only regular files and folders, so every link is refused.`, { ...details, linkpath: entry.linkpath });
  }
  if (DEVICE_TYPES.has(entry.type)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is a ${entry.type}; model archives may hold only regular files and folders.`, details);
  }
  // Tar tools commonly write a leading './' and a trailing '/' on folders: those two are harmless spellings.
  let path = raw;
  while (path.startsWith('./')) path = path.slice(2);
  if (entry.type === 'Directory') {
    path = path.replace(/\/+$/, '');
    if (path === '' || path === '.') return { kind: 'skip' };
  } else if (!FILE_TYPES.has(entry.type)) {
    throw invalid(`Refusing ${archive}: entry ${JSON.stringify(raw)} has the unsupported type ${entry.type}; model archives hold only regular files and folders.`, details);
  }
  const problem = relativePathProblem(path);
  if (problem) throw invalid(`Refusing ${archive}: the path of entry ${JSON.stringify(raw)} ${problem}.`, details);
  return entry.type === 'Directory' ? { kind: 'skip' } : { kind: 'file', path };
}

/** Largest model.yaml accepted from an archive (it is read into memory). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

export interface ExtractOptions {
  /** Called once model.yaml is parsed, before any model file is written; throw to refuse early (for example MODEL_EXISTS). */
  onManifest?: (manifest: ModelManifest) => Promise<void> | void;
}

function mismatch(message: string, details: Record<string, unknown>): TiffinError {
  return new TiffinError('INTEGRITY_MISMATCH', message, { details });
}

/**
 * Reads a `.tiffinmodel` archive: its first file must be model.yaml (as export writes it), which is parsed and validated
 * in memory; then each model file is written into the existing, empty folder `destDir` only if the manifest lists it with
 * that exact size, and its sha256 is checked as it is written. So nothing unlisted, and no more bytes than the manifest
 * declares, ever reaches the disk (this is also the decompression-bomb guard). model.yaml itself is not written: the
 * caller writes the (possibly re-tagged) manifest. Returns the archive's manifest.
 *
 * Refuses with ARCHIVE_INVALID (not gzip, corrupt, truncated, model.yaml missing or not first, duplicate paths),
 * ARCHIVE_UNSAFE (absolute or '..' paths, any link, devices), MANIFEST_INVALID, or INTEGRITY_MISMATCH (a file missing,
 * unlisted, or with another size or sha256). The caller owns `destDir` and removes it on failure.
 */
export async function extractModelArchive(archiveFile: string, destDir: string, options: ExtractOptions = {}): Promise<ModelManifest> {
  await checkGzip(archiveFile);
  const details = { archive: archiveFile };
  let manifest: ModelManifest | undefined;
  let listed = new Map<string, FileEntry>();
  let sawFile = false;
  const written = new Set<string>();
  const pending: Promise<void>[] = [];
  const stop = new AbortController();
  let failure: unknown;
  // Bytes are bounded by the manifest, so tar's ratio heuristic (which also trips on honest all-zero files) is off.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Number.POSITIVE_INFINITY });
  const input = createReadStream(archiveFile);

  const fail = (err: unknown): void => {
    if (failure === undefined) failure = err;
    stop.abort();
    input.unpipe(parser as unknown as NodeJS.WritableStream);
    input.destroy();
    parser.abort(err instanceof Error ? err : new Error(String(err)));
  };
  const track = (work: Promise<void>): void => {
    pending.push(work.catch((err: unknown) => {
      if (failure === undefined) fail(err);
    }));
  };

  const readManifestEntry = (entry: ReadEntry): void => {
    if (entry.size > MAX_MANIFEST_BYTES) {
      throw invalid(`${archiveFile} has a ${MANIFEST_FILE} of ${entry.size} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have.`, { ...details, size: entry.size });
    }
    const chunks: Buffer[] = [];
    entry.on('data', (c: Buffer) => chunks.push(c));
    // Runs before the parser moves to the next entry, so files are only ever checked against a parsed manifest.
    entry.on('end', () => {
      if (failure !== undefined) return;
      try {
        manifest = parseManifest(Buffer.concat(chunks).toString('utf8'), `${basename(archiveFile)}:${MANIFEST_FILE}`);
        listed = new Map(manifest.files.map((f) => [f.path, f]));
        const m = manifest;
        if (options.onManifest) track(Promise.resolve().then(() => options.onManifest?.(m)));
      } catch (err) {
        fail(err);
      }
    });
  };

  const extractFile = (entry: ReadEntry, path: string): void => {
    const expected = listed.get(path);
    if (written.has(path)) throw invalid(`Refusing ${archiveFile}: it holds ${JSON.stringify(path)} twice.`, { ...details, entry: path });
    if (!expected) throw mismatch(`Refusing ${archiveFile}: it holds ${JSON.stringify(path)}, which its ${MANIFEST_FILE} does not list.`, { ...details, unexpected: [path] });
    if (entry.size !== expected.size) {
      throw mismatch(`Refusing ${archiveFile}: ${JSON.stringify(path)} is ${entry.size} bytes in the archive but ${expected.size} in its ${MANIFEST_FILE}.`, { ...details, mismatched: [path] });
    }
    written.add(path);
    track((async () => {
      const dest = join(destDir, ...path.split('/'));
      try {
        await mkdir(dirname(dest), { recursive: true });
      } catch (err) {
        throw invalid(`Cannot extract ${JSON.stringify(path)} from ${archiveFile}: ${messageOf(err)} (a file and a folder with the same name?).`, { ...details, entry: path }, err);
      }
      const digest = await writeHashed(untilAborted(entry, stop.signal), dest);
      if (digest.size !== expected.size) throw invalid(`${archiveFile} is truncated: ${JSON.stringify(path)} has ${digest.size} of ${expected.size} bytes.`, { ...details, entry: path });
      if (digest.sha256 !== expected.sha256) {
        throw mismatch(`Refusing ${archiveFile}: the content of ${JSON.stringify(path)} does not match the sha256 in its ${MANIFEST_FILE} (damaged or altered).`, { ...details, mismatched: [path] });
      }
    })());
  };

  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (failure !== undefined) {
        entry.resume();
        return;
      }
      const classified = classify(entry, archiveFile);
      if (classified.kind === 'skip') {
        entry.resume();
        return;
      }
      const first = !sawFile;
      sawFile = true;
      if (first) {
        if (classified.path !== MANIFEST_FILE) {
          throw invalid(`${archiveFile} does not start with ${MANIFEST_FILE} (its first file is ${JSON.stringify(classified.path)}); a ${ARCHIVE_EXTENSION} archive holds ${MANIFEST_FILE} first, then the files it lists, as export writes them.`, { ...details, entry: classified.path });
        }
        readManifestEntry(entry);
        return;
      }
      if (classified.path === MANIFEST_FILE) throw invalid(`Refusing ${archiveFile}: it holds ${MANIFEST_FILE} twice.`, { ...details, entry: MANIFEST_FILE });
      extractFile(entry, classified.path);
    } catch (err) {
      entry.resume();
      fail(err);
    }
  });

  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('error', reject);
    parser.on('end', resolve);
    input.on('error', reject);
  });
  input.pipe(parser as unknown as NodeJS.WritableStream);
  try {
    await parsed;
  } catch (err) {
    if (failure === undefined) fail(err);
  }
  await Promise.allSettled(pending);
  if (failure === undefined && !manifest) {
    failure = invalid(`${archiveFile} holds no ${MANIFEST_FILE}, so it is not a model exported by Tiffin.`, details);
  }
  if (failure === undefined && manifest) {
    const missing = manifest.files.map((f) => f.path).filter((p) => !written.has(p));
    if (missing.length > 0) {
      failure = mismatch(`Refusing ${archiveFile}: files listed in its ${MANIFEST_FILE} are missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}.`, { ...details, missing });
    }
  }
  if (failure !== undefined) {
    if (isTiffinError(failure)) throw failure;
    throw invalid(`${archiveFile} is damaged or not a ${ARCHIVE_EXTENSION} archive: ${messageOf(failure)}.`, details, failure);
  }
  return manifest as ModelManifest;
}
