// Owns: the store's archives (`.tiffinmodel`, `.tiffinbundle`: a gzip-compressed tar, the manifest first, then the
// files it lists): writing one, and reading one defensively into a folder. Every entry is inspected and a bad one
// refuses the whole archive; tar never writes to disk itself (its Parser only reads, this module creates each file),
// so no entry can land outside `destDir`.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import type { TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Pack, Parser } from 'tar';
import type { ReadEntry } from 'tar';
import { TiffinError, isTiffinError, messageOf } from '../errors/index.ts';
import { writeHashed } from './digest.ts';
import type { FileEntry } from './manifest.ts';
import type { StoreKind, VersionManifest } from './store-kind.ts';
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
async function checkGzip(archiveFile: string, extension: string): Promise<void> {
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
      throw invalid(`${archiveFile} is not a ${extension} archive (a ${extension} file is a gzip-compressed tar, as written by export).`, { archive: archiveFile });
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
  let onAbort = (): void => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = (): void => reject(new Error('extraction stopped'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), aborted]);
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // One listener per file would pile up on the shared signal (and warn past ten files).
    signal.removeEventListener('abort', onAbort);
  }
}

type Classified = { kind: 'file'; path: string } | { kind: 'skip' };

/** Decides what to do with one entry: a regular file to extract, a folder to skip (folders are made as needed), or refuse. */
function classify(entry: ReadEntry, archive: string): Classified {
  const raw = entry.path;
  const details = { archive, entry: raw, type: entry.type };
  if (isEscapingPath(raw)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is absolute or climbs out with '..'; an archive only holds paths inside its own folder.`, details);
  }
  if (LINK_TYPES.has(entry.type)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is a ${entry.type === 'Link' ? 'hard' : 'symbolic'} link (to ${JSON.stringify(entry.linkpath ?? '')}); archives may hold only regular files and folders, so every link is refused.`, { ...details, linkpath: entry.linkpath });
  }
  if (DEVICE_TYPES.has(entry.type)) {
    throw unsafe(`Refusing ${archive}: entry ${JSON.stringify(raw)} is a ${entry.type}; archives may hold only regular files and folders.`, details);
  }
  // Tar tools commonly write a leading './' and a trailing '/' on folders: those two are harmless spellings.
  let path = raw;
  while (path.startsWith('./')) path = path.slice(2);
  if (entry.type === 'Directory') {
    path = path.replace(/\/+$/, '');
    if (path === '' || path === '.') return { kind: 'skip' };
  } else if (!FILE_TYPES.has(entry.type)) {
    throw invalid(`Refusing ${archive}: entry ${JSON.stringify(raw)} has the unsupported type ${entry.type}; archives hold only regular files and folders.`, details);
  }
  const problem = relativePathProblem(path);
  if (problem) throw invalid(`Refusing ${archive}: the path of entry ${JSON.stringify(raw)} ${problem}.`, details);
  return entry.type === 'Directory' ? { kind: 'skip' } : { kind: 'file', path };
}

/** Largest manifest accepted from an archive (it is read into memory). */
export const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;

/**
 * Default for the most bytes one import may unpack (model.yaml and the files it lists). A manifest can declare any
 * size and gzip shrinks zeros a thousandfold, so without a cap a few MB of archive could fill the disk. 64 GiB is
 * above today's largest single-host models and below the disks they are served from.
 */
export const DEFAULT_MAX_IMPORT_BYTES = 64 * 1024 ** 3;

/** Default for the most entries (files and folders) one archive may hold: each costs an inode and a line of model.yaml. */
export const DEFAULT_MAX_IMPORT_ENTRIES = 100_000;

/**
 * Tar bytes that are not file content: per entry a header, a pax header (long paths) and padding to 512 bytes; once
 * per archive the end blocks, a writer's record padding, and what the streams hold ahead of the parser. Without a
 * bound on these, a stream could decompress forever into headers, folder bodies or junk after the end.
 */
const FRAMING_PER_ENTRY = 4096;
const FRAMING_BYTES = 1024 * 1024;

export interface ExtractOptions<M extends VersionManifest = VersionManifest> {
  /** Called once the manifest is parsed, before any file is written; throw to refuse early (for example MODEL_EXISTS). */
  onManifest?: (manifest: M) => Promise<void> | void;
  /** Most bytes the manifest and its files may add up to; default {@link DEFAULT_MAX_IMPORT_BYTES}. */
  maxImportBytes?: number;
  /** Most entries (files and folders) the archive may hold; default {@link DEFAULT_MAX_IMPORT_ENTRIES}. */
  maxImportEntries?: number;
}

/** `n` bytes as a person reads it: "1048576 bytes (1.0 MiB)". */
export function formatBytes(n: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = '';
  for (let i = 0; value >= 1024 && i < units.length; i++) {
    value /= 1024;
    unit = units[i] as string;
  }
  return unit === '' ? `${n} bytes` : `${n} bytes (${value.toFixed(1)} ${unit})`;
}

function tooLarge(message: string, details: Record<string, unknown>): TiffinError {
  return new TiffinError('ARCHIVE_TOO_LARGE', message, { details });
}

/**
 * Passes the decompressed tar through, refusing it once it grows past `allowed()` bytes (the gzip-bomb guard for
 * everything the per-file size checks cannot see: folder bodies, pax headers, junk after the end, which tar's parser
 * would otherwise buffer whole), and refusing gzip nested inside (tar's parser would decompress it, out of sight).
 * Fewer than 512 bytes cannot be a tar.
 */
class TarMeter extends Transform {
  bytes = 0;
  private head: Buffer | undefined = Buffer.alloc(0);

  constructor(private readonly allowed: () => number, private readonly onOver: (bytes: number) => Error, private readonly notTar: () => Error) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.allowed()) return done(this.onOver(this.bytes));
    if (this.head === undefined) return done(null, chunk);
    // Hold the first 512 bytes (one tar header) back until they can be checked whole.
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 512) return done();
    const head = this.head;
    this.head = undefined;
    if (head[0] === 0x1f && head[1] === 0x8b) return done(this.notTar());
    done(null, head);
  }

  override _flush(done: TransformCallback): void {
    done(this.head === undefined ? null : this.notTar());
  }
}

function mismatch(message: string, details: Record<string, unknown>): TiffinError {
  return new TiffinError('INTEGRITY_MISMATCH', message, { details });
}

/**
 * Reads an archive of `kind`: its first file must be the manifest (model.yaml, bundle.yaml, as export writes it), which
 * is parsed and validated in memory; then each file is written into the existing, empty folder `destDir` only if the manifest lists it with
 * that exact size, and its sha256 is checked as it is written. So nothing unlisted, and no more bytes than the manifest
 * declares, ever reaches the disk; the manifest's total must be within `maxImportBytes`, and the decompressed stream
 * may not outgrow it (plus tar's framing), so a gzip bomb is stopped after reading about what was declared. The manifest
 * itself is not written: the caller writes the (possibly re-tagged) manifest. Returns the archive's manifest.
 *
 * Refuses with ARCHIVE_INVALID (not gzip, corrupt, truncated, manifest missing or not first, duplicate paths),
 * ARCHIVE_UNSAFE (absolute or '..' paths, any link, devices, more data than declared), ARCHIVE_TOO_LARGE (over
 * maxImportBytes or maxImportEntries), MANIFEST_INVALID, or INTEGRITY_MISMATCH (a file missing, unlisted, or with
 * another size or sha256). An error writing into `destDir` (ENOSPC, EROFS...) is thrown as it is. The caller owns
 * `destDir` and removes it on failure.
 */
export async function extractArchive<M extends VersionManifest>(kind: StoreKind<M>, archiveFile: string, destDir: string, options: ExtractOptions<M> = {}): Promise<M> {
  const { manifestFile, archiveExtension, noun } = kind;
  await checkGzip(archiveFile, archiveExtension);
  const details = { archive: archiveFile };
  const maxBytes = options.maxImportBytes ?? DEFAULT_MAX_IMPORT_BYTES;
  const maxEntries = options.maxImportEntries ?? DEFAULT_MAX_IMPORT_ENTRIES;
  const raise = `Raise maxImportBytes (an option of the store and of each import) if this ${noun} really is that large.`;
  let manifest: M | undefined;
  let manifestBytes = 0;
  let listed = new Map<string, FileEntry>();
  let sawFile = false;
  let entries = 0;
  const written = new Set<string>();
  // Errors of writing into destDir (ENOSPC, EROFS...): passed on as they are, for the caller to name its folder.
  const writeFaults = new Set<unknown>();
  const pending: Promise<void>[] = [];
  // Settles once onManifest has accepted the manifest; no file is written before.
  let accepted: Promise<void> | undefined;
  const stop = new AbortController();
  let failure: unknown;
  // Bytes are bounded by the manifest and the meter, so tar's ratio heuristic (which also trips on honest all-zero
  // files) is off; the stream is decompressed here, where it is metered, so tar must not try brotli or zstd on it.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Number.POSITIVE_INFINITY, brotli: false, zstd: false });
  const input = createReadStream(archiveFile);
  const gunzip = createGunzip();
  // Until the manifest is read only it may follow; then exactly what it declares, plus tar's framing.
  const meter = new TarMeter(
    () => (manifest ? manifestBytes + manifest.size : Math.min(MAX_MANIFEST_BYTES, maxBytes)) + FRAMING_BYTES + entries * FRAMING_PER_ENTRY,
    (bytes) => new TiffinError('ARCHIVE_UNSAFE', manifest
      ? `Refusing ${archiveFile}: it decompresses to more than its ${manifestFile} declares (${formatBytes(manifest.size)} of files), so it was stopped after ${formatBytes(bytes)}: a decompression bomb, or junk hidden in the archive.`
      : `Refusing ${archiveFile}: it decompresses to ${formatBytes(bytes)} before any ${manifestFile}: a decompression bomb, or not a ${noun} exported by Tiffin.`,
    { details: { ...details, unpackedBytes: bytes, declaredBytes: manifest?.size } }),
    () => invalid(`${archiveFile} is gzip but does not hold a tar (a ${archiveExtension} archive is a gzip-compressed tar of ${manifestFile} and the ${noun}'s files, as written by export).`, details),
  );

  const fail = (err: unknown): void => {
    if (failure === undefined) failure = err;
    stop.abort();
    input.destroy();
    gunzip.destroy();
    meter.destroy();
    parser.abort(err instanceof Error ? err : new Error(String(err)));
  };
  const track = (work: Promise<void>): void => {
    pending.push(work.catch((err: unknown) => {
      if (failure === undefined) fail(err);
    }));
  };

  const recordFault = (err: unknown): unknown => {
    writeFaults.add(err);
    return err;
  };

  const readManifestEntry = (entry: ReadEntry): void => {
    if (entry.size > MAX_MANIFEST_BYTES) {
      throw invalid(`${archiveFile} has a ${manifestFile} of ${entry.size} bytes, more than the ${MAX_MANIFEST_BYTES} a manifest may have.`, { ...details, size: entry.size });
    }
    if (entry.size > maxBytes) {
      throw tooLarge(`Refusing ${archiveFile}: its ${manifestFile} alone is ${formatBytes(entry.size)}, more than the import limit of ${formatBytes(maxBytes)}. ${raise}`, { ...details, limit: maxBytes, size: entry.size });
    }
    manifestBytes = entry.size;
    const chunks: Buffer[] = [];
    entry.on('data', (c: Buffer) => chunks.push(c));
    // Runs before the parser moves to the next entry, so files are only ever checked against a parsed manifest.
    entry.on('end', () => {
      if (failure !== undefined) return;
      try {
        const m = kind.parse(Buffer.concat(chunks).toString('utf8'), `${basename(archiveFile)}:${manifestFile}`);
        // Checked against what the manifest declares, before a single file is written.
        if (m.files.length + 1 > maxEntries) {
          throw tooLarge(`Refusing ${archiveFile}: its ${manifestFile} lists ${m.files.length} files, more than the ${maxEntries} entries an import may hold. Raise maxImportEntries (an option of the store and of each import) if this ${noun} really has that many files.`, { ...details, limit: maxEntries, files: m.files.length });
        }
        if (manifestBytes + m.size > maxBytes) {
          throw tooLarge(`Refusing ${archiveFile}: its ${manifestFile} declares ${formatBytes(m.size)} of files, more than the import limit of ${formatBytes(maxBytes)}. ${raise}`, { ...details, limit: maxBytes, declaredBytes: m.size });
        }
        manifest = m;
        listed = new Map(m.files.map((f) => [f.path, f]));
        accepted = Promise.resolve().then(() => options.onManifest?.(m));
        track(accepted);
      } catch (err) {
        fail(err);
      }
    });
  };

  const extractFile = (entry: ReadEntry, path: string): void => {
    const expected = listed.get(path);
    if (written.has(path)) throw invalid(`Refusing ${archiveFile}: it holds ${JSON.stringify(path)} twice.`, { ...details, entry: path });
    if (!expected) throw mismatch(`Refusing ${archiveFile}: it holds ${JSON.stringify(path)}, which its ${manifestFile} does not list.`, { ...details, unexpected: [path] });
    if (entry.size !== expected.size) {
      throw mismatch(`Refusing ${archiveFile}: ${JSON.stringify(path)} is ${entry.size} bytes in the archive but ${expected.size} in its ${manifestFile}.`, { ...details, mismatched: [path] });
    }
    written.add(path);
    track((async () => {
      await accepted;
      const dest = join(destDir, ...path.split('/'));
      try {
        await mkdir(dirname(dest), { recursive: true });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST' && code !== 'ENOTDIR') throw recordFault(err);
        throw invalid(`Cannot extract ${JSON.stringify(path)} from ${archiveFile}: ${messageOf(err)} (a file and a folder with the same name?).`, { ...details, entry: path }, err);
      }
      const digest = await writeHashed(untilAborted(entry, stop.signal), dest).catch((err: unknown) => {
        throw stop.signal.aborted ? err : recordFault(err);
      });
      if (digest.size !== expected.size) throw invalid(`${archiveFile} is truncated: ${JSON.stringify(path)} has ${digest.size} of ${expected.size} bytes.`, { ...details, entry: path });
      if (digest.sha256 !== expected.sha256) {
        throw mismatch(`Refusing ${archiveFile}: the content of ${JSON.stringify(path)} does not match the sha256 in its ${manifestFile} (damaged or altered).`, { ...details, mismatched: [path] });
      }
    })());
  };

  parser.on('entry', (entry: ReadEntry) => {
    try {
      if (failure !== undefined) {
        entry.resume();
        return;
      }
      if (++entries > maxEntries) {
        throw tooLarge(`Refusing ${archiveFile}: it holds more than ${maxEntries} entries (files and folders), the most an import may hold. Raise maxImportEntries (an option of the store and of each import) if this ${noun} really has that many files.`, { ...details, limit: maxEntries });
      }
      const classified = classify(entry, archiveFile);
      if (classified.kind === 'skip') {
        entry.resume();
        return;
      }
      const first = !sawFile;
      sawFile = true;
      if (first) {
        if (classified.path !== manifestFile) {
          throw invalid(`${archiveFile} does not start with ${manifestFile} (its first file is ${JSON.stringify(classified.path)}); a ${archiveExtension} archive holds ${manifestFile} first, then the files it lists, as export writes them.`, { ...details, entry: classified.path });
        }
        readManifestEntry(entry);
        return;
      }
      if (classified.path === manifestFile) throw invalid(`Refusing ${archiveFile}: it holds ${manifestFile} twice.`, { ...details, entry: manifestFile });
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
    gunzip.on('error', reject);
    meter.on('error', reject);
  });
  input.pipe(gunzip).pipe(meter).pipe(parser as unknown as NodeJS.WritableStream);
  try {
    await parsed;
  } catch (err) {
    if (failure === undefined) fail(err);
  }
  await Promise.allSettled(pending);
  if (failure === undefined && !manifest) {
    failure = invalid(`${archiveFile} holds no ${manifestFile}, so it is not a ${noun} exported by Tiffin.`, details);
  }
  if (failure === undefined && manifest) {
    const missing = manifest.files.map((f) => f.path).filter((p) => !written.has(p));
    if (missing.length > 0) {
      failure = mismatch(`Refusing ${archiveFile}: files listed in its ${manifestFile} are missing: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', ...' : ''}.`, { ...details, missing });
    }
  }
  if (failure !== undefined) {
    if (isTiffinError(failure) || writeFaults.has(failure)) throw failure;
    throw invalid(`${archiveFile} is damaged or not a ${archiveExtension} archive: ${messageOf(failure)}.`, details, failure);
  }
  return manifest as M;
}
