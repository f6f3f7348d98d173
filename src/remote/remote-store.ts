// Owns: `RemoteStore`, a shared store on an S3-compatible bucket. Layout per version:
//   <prefix>/<kind>/<name>/<version>/archive<extension>   the store's archive, uploaded first (multipart when large)
//   <prefix>/<kind>/<name>/<version>/version.json         written last: the version exists remotely iff this exists
// Pull checks the archive's sha256 and byte count against version.json before the store's own import verifies
// every file digest again, so a tampered or truncated object never changes the local store.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { TiffinError, isTiffinError } from '../errors/index.ts';
import { digestFile, formatTag, isValidName, isValidVersion, parseTag } from '../store/index.ts';
import { assertEndpoint, type RemoteConfig, type S3Location } from './config.ts';
import { endpointText, isMissingObject, notConfigured, objectUrl, remoteFailed } from './s3-errors.ts';
import type { ArchiveStore, ProgressCallback, RemoteVersion } from './types.ts';
import { REMOTE_FORMAT_VERSION, VERSION_RECORD_FILE, newestFirst, parseVersionRecord, stringifyVersionRecord } from './version-record.ts';

/** Part size of multipart uploads: S3's minimum is 5 MiB; 8 MiB keeps 10 000 parts above 78 GiB. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
/** version.json objects fetched at once while listing. */
const LIST_CONCURRENCY = 8;
/** Largest version.json read (it is a few hundred bytes; labels make it grow a little). */
const MAX_RECORD_BYTES = 1024 * 1024;

export interface RemoteStoreOptions {
  /** A ready client (tests add middleware); otherwise one is made from the location. */
  client?: S3Client;
  /** Extra S3Client settings (credentials, a custom requestHandler ...) for the client made here. */
  clientConfig?: S3ClientConfig;
  /** Attempts per S3 call, retries included; default the SDK's (3, or AWS_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** Longest wait for a TCP connection; default 5 s. */
  connectionTimeoutMs?: number;
  /** Longest a socket may sit idle mid-request; default 60 s. */
  socketTimeoutMs?: number;
  /** Multipart part size in bytes; default {@link DEFAULT_PART_SIZE}, at least 5 MiB. */
  partSize?: number;
  /** Parts uploaded at once; default 4. */
  queueSize?: number;
  /** Folder for the temporary archive of a push or pull; default the OS's (TMPDIR). */
  tmpDir?: string;
}

export interface TransferOptions {
  /** Push: replace a version already in the bucket. Pull: replace a version already in the local store. */
  force?: boolean;
  onProgress?: ProgressCallback;
  /** Stops the transfer; an aborted multipart upload is aborted on the server too. */
  signal?: AbortSignal;
}

export interface PullResult extends RemoteVersion {
  /** False when the version was already in the local store and nothing was downloaded. */
  pulled: boolean;
}

function aborted(action: string, url: string): TiffinError {
  return new TiffinError('ABORTED', `The ${action} of ${url} was stopped; a multipart upload is aborted on the server, and nothing became visible.`, { details: { object: url } });
}

function singular(kind: RemoteVersion['kind']): string {
  return kind === 'models' ? 'model' : 'bundle';
}

export class RemoteStore {
  readonly client: S3Client;
  readonly location: S3Location & { bucket: string };
  private readonly ownsClient: boolean;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly tmpDir: string | undefined;

  /** Throws REMOTE_NOT_CONFIGURED (naming TIFFIN_S3_BUCKET) when the location has no bucket. */
  constructor(location: S3Location, options: RemoteStoreOptions = {}) {
    if (location.bucket === undefined || location.bucket === '') throw notConfigured('use the shared store');
    assertEndpoint(location);
    this.location = { ...location, bucket: location.bucket };
    this.partSize = Math.max(MIN_PART_SIZE, options.partSize ?? DEFAULT_PART_SIZE);
    this.queueSize = options.queueSize ?? 4;
    this.tmpDir = options.tmpDir;
    this.ownsClient = options.client === undefined;
    this.client = options.client ?? new S3Client({
      region: location.region,
      ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
      forcePathStyle: location.forcePathStyle,
      ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
      requestHandler: { connectionTimeout: options.connectionTimeoutMs ?? 5000, requestTimeout: options.socketTimeoutMs ?? 60_000 },
      // Our own sha256 guards the bytes; the SDK's default CRC trailers (aws-chunked bodies) break many S3-compatible servers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...options.clientConfig,
    });
  }

  /** The remote of a resolved config (`TiffinConfig.remote`); REMOTE_NOT_CONFIGURED without a bucket. */
  static fromConfig(remote: RemoteConfig, options: RemoteStoreOptions = {}): RemoteStore {
    return new RemoteStore(remote.s3, options);
  }

  /** Closes the client's sockets (only a client this store made). */
  close(): void {
    if (this.ownsClient) this.client.destroy();
  }

  /** `<prefix>/<kind>/` or `<prefix>/<kind>/<name>/<version>/<file>`. */
  key(kind: RemoteVersion['kind'], name?: string, version?: string, file?: string): string {
    return [this.location.prefix, kind, name, version, file].filter((p) => p !== undefined && p !== '').join('/') + (file === undefined ? '/' : '');
  }

  /**
   * Exports a local version to a temporary archive, uploads it, then writes version.json. Refuses a version
   * already in the bucket (REMOTE_EXISTS) unless force; a retried push after a failure simply overwrites.
   */
  async push(store: ArchiveStore, tag: string, options: TransferOptions = {}): Promise<RemoteVersion> {
    const local = await store.describe(tag);
    const fullTag = formatTag(local.name, local.version);
    const recordKey = this.key(store.kind, local.name, local.version, VERSION_RECORD_FILE);
    if (!options.force && (await this.exists(recordKey, options.signal))) {
      throw new TiffinError('REMOTE_EXISTS', `${fullTag} is already in ${objectUrl(this.location, this.key(store.kind))} at ${endpointText(this.location)}; pass --force (force) to replace it.`, {
        details: { tag: fullTag, bucket: this.location.bucket, key: recordKey },
      });
    }
    return this.withTempDir('push', async (dir) => {
      const file = join(dir, `archive${store.extension}`);
      const exported = await store.exportTo(fullTag, file);
      const { sha256, size: bytes } = await digestFile(file);
      const archiveKey = this.key(store.kind, exported.name, exported.version, `archive${store.extension}`);
      await this.upload(archiveKey, file, bytes, sha256, options);
      const record: RemoteVersion = {
        formatVersion: REMOTE_FORMAT_VERSION,
        kind: store.kind,
        name: exported.name,
        version: exported.version,
        createdAt: exported.createdAt,
        pushedAt: new Date().toISOString(),
        labels: { ...exported.labels },
        size: exported.size,
        archive: { key: archiveKey, sha256, bytes },
      };
      await this.putRecord(this.key(store.kind, exported.name, exported.version, VERSION_RECORD_FILE), record, options.signal);
      return record;
    });
  }

  /**
   * Downloads `name`, `name:latest` (the newest remote version) or `name:version` and imports it. The archive's
   * sha256 and byte count must match version.json (INTEGRITY_MISMATCH otherwise, the local store untouched);
   * the store's import then verifies every file. A version already present locally is left alone unless force.
   */
  async pull(store: ArchiveStore, tag: string, options: TransferOptions = {}): Promise<PullResult> {
    const record = await this.resolve(store.kind, tag, options.signal);
    if (!options.force && (await store.has(record.name, record.version))) return { ...record, pulled: false };
    return this.withTempDir('pull', async (dir) => {
      const file = join(dir, `archive${store.extension}`);
      await this.download(record, file, options);
      // A version.json naming another version than its archive holds is refused before the import publishes anything.
      await store.importFrom(file, { force: options.force === true, expect: { name: record.name, version: record.version } });
      return { ...record, pulled: true };
    });
  }

  /** The remote version a tag names: `name:version`, or for `name` / `name:latest` the newest by createdAt. */
  async resolve(kind: RemoteVersion['kind'], tag: string, signal?: AbortSignal): Promise<RemoteVersion> {
    const { name, version } = parseTag(tag);
    if (version === undefined) {
      const newest = (await this.list(kind, name, signal))[0];
      if (!newest) throw await this.notFound(kind, name);
      return newest;
    }
    const record = await this.getRecord(this.key(kind, name, version, VERSION_RECORD_FILE), signal);
    if (!record) throw await this.notFound(kind, name, version);
    return record;
  }

  /** Versions in the bucket (only those with a version.json), sorted by name, then newest first. */
  async list(kind: RemoteVersion['kind'], name?: string, signal?: AbortSignal): Promise<RemoteVersion[]> {
    const base = this.key(kind);
    const recordKeys: string[] = [];
    for await (const key of this.keysUnder(name === undefined ? base : `${base}${name}/`, signal)) {
      const parts = key.slice(base.length).split('/');
      if (parts.length === 3 && parts[2] === VERSION_RECORD_FILE && isValidName(parts[0]!) && isValidVersion(parts[1]!)) recordKeys.push(key);
    }
    const records: RemoteVersion[] = [];
    for (let i = 0; i < recordKeys.length; i += LIST_CONCURRENCY) {
      const batch = await Promise.all(recordKeys.slice(i, i + LIST_CONCURRENCY).map((k) => this.getRecord(k, signal).catch((err: unknown) => {
        // A damaged record hides its version from listings, as a folder without model.yaml does locally.
        if (isTiffinError(err, 'ARCHIVE_INVALID')) return undefined;
        throw err;
      })));
      for (const r of batch) if (r && r.kind === kind) records.push(r);
    }
    return records.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : newestFirst(a, b)));
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async *keysUnder(prefix: string, signal?: AbortSignal): AsyncGenerator<string> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(new ListObjectsV2Command({ Bucket: this.location.bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: signal });
      } catch (err) {
        throw remoteFailed('list', this.location, prefix, err);
      }
      for (const o of page.Contents ?? []) if (o.Key) yield o.Key;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private async exists(key: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.location.bucket, Key: key }), { abortSignal: signal });
      return true;
    } catch (err) {
      if (isMissingObject(err)) return false;
      throw remoteFailed('check', this.location, key, err);
    }
  }

  /** The record at `key`, or undefined when there is none. ARCHIVE_INVALID for a record that cannot be read. */
  private async getRecord(key: string, signal?: AbortSignal): Promise<RemoteVersion | undefined> {
    let text: string;
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), { abortSignal: signal });
      if ((answer.ContentLength ?? 0) > MAX_RECORD_BYTES) throw new TiffinError('ARCHIVE_INVALID', `${objectUrl(this.location, key)} is ${answer.ContentLength} bytes, too large for a version record.`);
      text = (await answer.Body?.transformToString('utf8')) ?? '';
    } catch (err) {
      if (isTiffinError(err)) throw err;
      if (isMissingObject(err)) return undefined;
      throw remoteFailed('read', this.location, key, err);
    }
    const record = parseVersionRecord(text, objectUrl(this.location, key));
    const expected = key.split('/').slice(-3, -1).join(':');
    if (`${record.name}:${record.version}` !== expected) {
      throw new TiffinError('ARCHIVE_INVALID', `${objectUrl(this.location, key)} describes ${record.name}:${record.version}, not ${expected}; it was copied or edited by hand.`, { details: { key } });
    }
    return record;
  }

  private async putRecord(key: string, record: RemoteVersion, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({ Bucket: this.location.bucket, Key: key, Body: stringifyVersionRecord(record), ContentType: 'application/json' }), { abortSignal: signal });
    } catch (err) {
      throw remoteFailed('write', this.location, key, err);
    }
  }

  /** One PutObject for small files, a multipart upload above the part size; a failed multipart upload is aborted. */
  private async upload(key: string, file: string, bytes: number, sha256: string, options: TransferOptions): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.location.bucket, Key: key, Body: createReadStream(file), ContentLength: bytes, ContentType: 'application/gzip', Metadata: { sha256 } },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    if (options.onProgress) upload.on('httpUploadProgress', (p) => options.onProgress?.(p.loaded ?? 0, bytes));
    const onAbort = (): void => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
      await upload.done();
    } catch (err) {
      if (options.signal?.aborted) throw aborted('upload', objectUrl(this.location, key));
      throw remoteFailed('upload', this.location, key, err);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Streams the archive to `file`, hashing as it goes; stops as soon as it grows past the recorded byte count. */
  private async download(record: RemoteVersion, file: string, options: TransferOptions): Promise<void> {
    const key = record.archive.key;
    const expected = record.archive.bytes;
    let body: Readable;
    try {
      const answer = await this.client.send(new GetObjectCommand({ Bucket: this.location.bucket, Key: key }), { abortSignal: options.signal });
      body = answer.Body as Readable;
    } catch (err) {
      if (isMissingObject(err)) {
        throw new TiffinError('REMOTE_NOT_FOUND', `${objectUrl(this.location, key)} is missing although its version.json exists; push ${record.name}:${record.version} again with --force.`, {
          details: { key },
        });
      }
      throw remoteFailed('download', this.location, key, err);
    }
    const hash = createHash('sha256');
    let done = 0;
    const tooLong = (): TiffinError => this.mismatch(record, `it has more than the ${expected} bytes version.json records`);
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        done += chunk.length;
        if (done > expected) return callback(tooLong());
        hash.update(chunk);
        options.onProgress?.(done, expected);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(body, meter, createWriteStream(file, { flags: 'wx' }), { signal: options.signal });
    } catch (err) {
      if (isTiffinError(err)) throw err;
      if (options.signal?.aborted) throw aborted('download', objectUrl(this.location, key));
      throw remoteFailed('download', this.location, key, err);
    }
    if (done !== expected) throw this.mismatch(record, `it has ${done} bytes, version.json records ${expected}`);
    const sha256 = hash.digest('hex');
    if (sha256 !== record.archive.sha256) throw this.mismatch(record, `its sha256 is ${sha256}, version.json records ${record.archive.sha256}`);
  }

  private mismatch(record: RemoteVersion, problem: string): TiffinError {
    const tag = `${record.name}:${record.version}`;
    return new TiffinError('INTEGRITY_MISMATCH', `Refusing ${tag} from ${objectUrl(this.location, record.archive.key)}: ${problem}. The object was changed or damaged after it was pushed; nothing was imported. Push ${tag} again with --force from a good copy.`, {
      details: { tag, key: record.archive.key, expectedSha256: record.archive.sha256, expectedBytes: record.archive.bytes },
    });
  }

  private async notFound(kind: RemoteVersion['kind'], name: string, version?: string): Promise<TiffinError> {
    const where = `${objectUrl(this.location, this.key(kind))} at ${endpointText(this.location)}`;
    const versions = (await this.list(kind, name)).map((r) => r.version);
    const wanted = formatTag(name, version);
    const hint = versions.length > 0
      ? `Versions of ${name} there, newest first: ${versions.slice(0, 10).join(', ')}${versions.length > 10 ? `, ... (${versions.length} in all)` : ''}.`
      : `Nothing named ${name} is there; push it first (tiffin ${kind} push ${name}).`;
    return new TiffinError('REMOTE_NOT_FOUND', `No ${singular(kind)} ${wanted} in ${where}. ${hint}`, { details: { tag: wanted, bucket: this.location.bucket, versions } });
  }

  private async withTempDir<T>(what: string, work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(this.tmpDir ?? tmpdir(), `tiffin-${what}-`));
    try {
      return await work(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
