import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadConfig } from '../config/index.ts';
import { isTiffinError } from '../errors/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { RemoteStore } from './remote-store.ts';

test('remote: defaults to no bucket, AWS S3 in us-east-1, virtual-host style, no pull on start', async () => {
  const config = loadConfig({ cwd: await tempDir('remote-config'), env: {} });
  assert.deepEqual(config.remote, { s3: { bucket: undefined, prefix: '', endpoint: undefined, region: 'us-east-1', forcePathStyle: false }, pullOnStart: false });
});

test('remote: tiffin.yaml keys, TIFFIN_S3_* over them, AWS variables as fallbacks; an endpoint turns on path style', async () => {
  const cwd = await tempDir('remote-config');
  await writeFile(join(cwd, 'tiffin.yaml'), 'remote:\n  s3:\n    bucket: from-file\n    prefix: /teams/vision/\n  pullOnStart: true\n');
  const fromFile = loadConfig({ cwd, env: { AWS_REGION: 'eu-west-1', AWS_ENDPOINT_URL: 'http://minio:9000' } }).remote;
  assert.deepEqual(fromFile, { s3: { bucket: 'from-file', prefix: 'teams/vision', endpoint: 'http://minio:9000', region: 'eu-west-1', forcePathStyle: true }, pullOnStart: true });

  const env = { TIFFIN_S3_BUCKET: 'from-env', TIFFIN_S3_ENDPOINT: 'https://s3.example.com', TIFFIN_S3_REGION: 'ap-south-1', TIFFIN_S3_FORCE_PATH_STYLE: 'false', TIFFIN_REMOTE_PULL_ON_START: 'no', AWS_DEFAULT_REGION: 'xx' };
  assert.deepEqual(loadConfig({ cwd, env }).remote, { s3: { bucket: 'from-env', prefix: 'teams/vision', endpoint: 'https://s3.example.com', region: 'ap-south-1', forcePathStyle: false }, pullOnStart: false });
  assert.equal(loadConfig({ cwd, env: { AWS_DEFAULT_REGION: 'us-west-2' } }).remote.s3.region, 'us-west-2');
});

test('remote: bad values are CONFIG_INVALID naming the key or variable', async () => {
  const cwd = await tempDir('remote-config');
  const invalid = (env: Record<string, string>, pattern: RegExp) =>
    assert.throws(() => loadConfig({ cwd, env }), (err) => isTiffinError(err, 'CONFIG_INVALID') && pattern.test(err.message));
  invalid({ TIFFIN_S3_ENDPOINT: 'minio:9000' }, /TIFFIN_S3_ENDPOINT: remote\.s3\.endpoint: expected the S3 server's URL/);
  invalid({ TIFFIN_S3_BUCKET: 'a/b' }, /TIFFIN_S3_BUCKET: .*put folders in prefix/);
  invalid({ TIFFIN_S3_PREFIX: 'a//b' }, /TIFFIN_S3_PREFIX: .*single slashes/);
  invalid({ TIFFIN_REMOTE_PULL_ON_START: 'maybe' }, /TIFFIN_REMOTE_PULL_ON_START: .*true or false/);
  await writeFile(join(cwd, 'tiffin.yaml'), 'remote:\n  s3:\n    bukket: x\n');
  invalid({}, /unknown key "remote\.s3\.bukket"/);
  // A bad AWS_ENDPOINT_URL does not break loading (serve never needs it); making a RemoteStore refuses it.
  await writeFile(join(cwd, 'tiffin.yaml'), 'remote:\n  s3:\n    bucket: b\n');
  const remote = loadConfig({ cwd, env: { AWS_ENDPOINT_URL: 'ftp://x' } }).remote;
  assert.throws(() => RemoteStore.fromConfig(remote), (err) => isTiffinError(err, 'CONFIG_INVALID') && /AWS_ENDPOINT_URL/.test(err.message));
});
