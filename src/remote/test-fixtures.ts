// Test support for the remote layer: a real s3rver (an S3 server on loopback, a devDependency) per test file,
// and small ONNX models saved through the real runtime. Never imported by library code.
import type { Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after } from 'node:test';
import { Models } from '../models/index.ts';
import { logisticRegression, mlp } from '../onnx/index.ts';
import type { ModelManifest, ModelStore } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import type { S3Location } from './config.ts';
import { RemoteStore, type RemoteStoreOptions } from './remote-store.ts';

export const BUCKET = 'tiffin';
/** s3rver's fixed credentials. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;

/** Starts s3rver on 127.0.0.1 with an empty `tiffin` bucket; stopped when the test file ends. */
export async function startS3rver(): Promise<{ endpoint: string; dir: string }> {
  const dir = await tempDir('s3rver');
  // s3rver ships no types; a string-typed specifier keeps tsc from looking for them.
  const { default: S3rver } = (await import('s3rver' as string)) as { default: S3rverClass };
  const server = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: dir, configureBuckets: [{ name: BUCKET }] });
  const { port } = await server.run();
  after(async () => {
    server.httpServer?.closeAllConnections();
    await server.close();
  });
  return { endpoint: `http://127.0.0.1:${port}`, dir };
}

export function s3Location(endpoint: string, prefix = 'team'): S3Location {
  return { bucket: BUCKET, prefix, endpoint, region: 'us-east-1', forcePathStyle: true };
}

const opened: RemoteStore[] = [];
after(() => opened.forEach((r) => r.close()));

/** A RemoteStore on s3rver with its credentials, one attempt per call (failures show at once), closed at the end. */
export function remoteOn(endpoint: string, prefix = 'team', options: RemoteStoreOptions = {}): RemoteStore {
  const remote = new RemoteStore(s3Location(endpoint, prefix), { maxAttempts: 1, ...options, clientConfig: { credentials: S3RVER_CREDENTIALS, ...options.clientConfig } });
  opened.push(remote);
  return remote;
}

/** Saves a small logistic regression (different weights per `seed`) as `tag`. */
export async function saveSmallModel(store: ModelStore, tag: string, options: { labels?: Record<string, string>; seed?: number } = {}): Promise<ModelManifest> {
  const dir = await tempDir('remote-src');
  const file = join(dir, 'model.onnx');
  const s = options.seed ?? 1;
  await writeFile(file, logisticRegression({ weights: [[s, 0, 1], [0, s, 2]], bias: [s, 0, 0] }));
  return new Models(store).save(tag, file, { framework: 'onnx', labels: options.labels, batchable: true, metadata: { seed: s } });
}

/** Saves an MLP whose random float32 weights take about `megabytes` MiB (gzip cannot shrink them much). */
export async function saveLargeModel(store: ModelStore, tag: string, megabytes: number): Promise<ModelManifest> {
  const dir = await tempDir('remote-src');
  const file = join(dir, 'model.onnx');
  const width = Math.ceil(Math.sqrt((megabytes * 1024 * 1024) / 4));
  await writeFile(file, mlp({ layers: [width, width, 4], seed: 7 }));
  return new Models(store).save(tag, file, { framework: 'onnx' });
}
