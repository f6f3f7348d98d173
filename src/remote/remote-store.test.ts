import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isTiffinError, type ErrorCode } from '../errors/index.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { resolveRemote } from './config.ts';
import { modelArchiveStore } from './model-archive-store.ts';
import { pullMissingModels } from './pull-on-start.ts';
import { RemoteStore } from './remote-store.ts';
import { BUCKET, remoteOn, s3Location, saveLargeModel, saveSmallModel, startS3rver } from './test-fixtures.ts';
import type { RemoteVersion } from './types.ts';

const { endpoint } = await startS3rver();

const code = (c: ErrorCode) => (err: unknown) => {
  assert.ok(isTiffinError(err, c), `expected ${c}, got ${String((err as Error)?.stack ?? err)}`);
  return true;
};

async function freshStore(): Promise<ModelStore> {
  return new ModelStore({ root: join(await tempDir('remote-store'), 'models') });
}

/** Every file under the store root with its bytes, to prove a refused pull changed nothing. */
async function contents(store: ModelStore): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string, rel: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(join(dir, e.name), r);
      else out[r] = (await readFile(join(dir, e.name))).toString('base64');
    }
  };
  await walk(store.root, '');
  return out;
}

async function getText(remote: RemoteStore, key: string): Promise<string> {
  const answer = await remote.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return (await answer.Body?.transformToString('utf8')) ?? '';
}

async function putObject(remote: RemoteStore, key: string, body: string | Uint8Array): Promise<void> {
  await remote.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

test('push then pull into an empty store round-trips the manifest, labels and every file byte for byte', async () => {
  const remote = remoteOn(endpoint, 'roundtrip');
  const source = await freshStore();
  const saved = await saveSmallModel(source, 'iris:1', { labels: { stage: 'prod', team: 'vision' } });

  const pushed = await remote.push(modelArchiveStore(source), 'iris:1');
  assert.deepEqual({ name: pushed.name, version: pushed.version, labels: pushed.labels, size: pushed.size, createdAt: pushed.createdAt },
    { name: 'iris', version: '1', labels: { stage: 'prod', team: 'vision' }, size: saved.size, createdAt: saved.createdAt });
  assert.equal(pushed.archive.key, 'roundtrip/models/iris/1/archive.tiffinmodel');
  assert.match(pushed.archive.sha256, /^[0-9a-f]{64}$/);
  const record = JSON.parse(await getText(remote, 'roundtrip/models/iris/1/version.json')) as RemoteVersion;
  assert.deepEqual(record, pushed, 'version.json holds exactly what push returned');
  assert.equal(record.formatVersion, 1);

  const target = await freshStore();
  const pulled = await remote.pull(modelArchiveStore(target), 'iris:1');
  assert.equal(pulled.pulled, true);
  const { manifest, dir } = await target.get('iris:1');
  assert.deepEqual(manifest, saved, 'manifest (labels, metadata, signatures, every digest) unchanged');
  const original = await source.get('iris:1');
  for (const f of saved.files) assert.deepEqual(await readFile(join(dir, f.path)), await readFile(join(original.dir, f.path)), f.path);
  assert.deepEqual((await target.verify()).map((r) => r.ok), [true]);

  const again = await remote.pull(modelArchiveStore(target), 'iris:1');
  assert.equal(again.pulled, false, 'already present: nothing downloaded');
  assert.equal((await remote.pull(modelArchiveStore(target), 'iris:1', { force: true })).pulled, true);

  await assert.rejects(remote.push(modelArchiveStore(source), 'iris:1'), code('REMOTE_EXISTS'));
  const forced = await remote.push(modelArchiveStore(source), 'iris', { force: true });
  assert.equal(forced.version, '1');
  assert.notEqual(forced.pushedAt, undefined);
});

test('latest resolves to the newest remote version; list shows labels, createdAt and size, newest first', async () => {
  const remote = remoteOn(endpoint, 'latest');
  const source = await freshStore();
  await saveSmallModel(source, 'iris:1', { labels: { stage: 'old' }, seed: 1 });
  await new Promise((r) => setTimeout(r, 5));
  await saveSmallModel(source, 'iris:2', { labels: { stage: 'new' }, seed: 2 });
  await saveSmallModel(source, 'ocr:a', { seed: 3 });
  for (const tag of ['iris:2', 'iris:1', 'ocr:a']) await remote.push(modelArchiveStore(source), tag);

  const listed = await remote.list('models');
  assert.deepEqual(listed.map((r) => `${r.name}:${r.version} ${JSON.stringify(r.labels)}`), ['iris:2 {"stage":"new"}', 'iris:1 {"stage":"old"}', 'ocr:a {}']);
  assert.ok(listed.every((r) => r.size > 0 && !Number.isNaN(Date.parse(r.createdAt))));
  assert.deepEqual((await remote.list('models', 'iris')).map((r) => r.version), ['2', '1']);
  assert.deepEqual(await remote.list('bundles'), []);

  for (const tag of ['iris', 'iris:latest']) {
    const target = await freshStore();
    const pulled = await remote.pull(modelArchiveStore(target), tag);
    assert.equal(pulled.version, '2', tag);
    assert.deepEqual((await target.list()).map((m) => `${m.name}:${m.version}`), ['iris:2']);
    assert.deepEqual((await target.get('iris:2')).manifest.metadata, { seed: 2 });
  }
  await assert.rejects(remote.pull(modelArchiveStore(await freshStore()), 'iris:3'), (err) => code('REMOTE_NOT_FOUND')(err) && /Versions of iris there, newest first: 2, 1/.test((err as Error).message));
  await assert.rejects(remote.pull(modelArchiveStore(await freshStore()), 'nothing'), code('REMOTE_NOT_FOUND'));
});

test('a tampered archive or a version.json with a wrong sha256 is refused with INTEGRITY_MISMATCH; the local store is unchanged', async () => {
  const remote = remoteOn(endpoint, 'tamper');
  const source = await freshStore();
  await saveSmallModel(source, 'iris:1', { seed: 1 });
  await saveSmallModel(source, 'other:1', { seed: 5 });
  const iris = await remote.push(modelArchiveStore(source), 'iris:1');
  const other = await remote.push(modelArchiveStore(source), 'other:1');

  const target = await freshStore();
  await saveSmallModel(target, 'kept:1');
  const before = await contents(target);

  // The archive object replaced by different (valid gzip) bytes: the other model's archive.
  const otherBytes = (await remote.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: other.archive.key }))).Body!;
  await putObject(remote, iris.archive.key, await otherBytes.transformToByteArray());
  await assert.rejects(remote.pull(modelArchiveStore(target), 'iris:1'), (err) => code('INTEGRITY_MISMATCH')(err) && /sha256|bytes/.test((err as Error).message));
  assert.deepEqual(await contents(target), before);

  // A longer object is cut off as soon as it passes the recorded size.
  await putObject(remote, iris.archive.key, new Uint8Array(iris.archive.bytes + 1000));
  await assert.rejects(remote.pull(modelArchiveStore(target), 'iris:1'), code('INTEGRITY_MISMATCH'));
  assert.deepEqual(await contents(target), before);

  // version.json edited to another sha256 (the archive itself intact).
  await remote.push(modelArchiveStore(source), 'iris:1', { force: true });
  const record = JSON.parse(await getText(remote, 'tamper/models/iris/1/version.json')) as RemoteVersion;
  await putObject(remote, 'tamper/models/iris/1/version.json', JSON.stringify({ ...record, archive: { ...record.archive, sha256: 'f'.repeat(64) } }));
  await assert.rejects(remote.pull(modelArchiveStore(target), 'iris:1'), (err) => code('INTEGRITY_MISMATCH')(err) && /expected|records f{64}/.test((err as Error).message));
  assert.deepEqual(await contents(target), before);
  assert.deepEqual((await target.list()).map((m) => m.name), ['kept']);
});

test('an interrupted push leaves the version invisible; a retried push overwrites; a large model goes up in parts', async () => {
  const calls: string[] = [];
  const remote = remoteOn(endpoint, 'interrupted');
  remote.client.middlewareStack.add((next, context) => async (args) => {
    calls.push(String(context.commandName));
    return next(args);
  }, { step: 'initialize', name: 'countCalls' });
  const source = await freshStore();

  // Archive uploaded but no version.json (the process died in between).
  await saveSmallModel(source, 'half:1');
  await source.exportTo('half:1', join(await tempDir('remote-export'), 'a.tiffinmodel'));
  await putObject(remote, 'interrupted/models/half/1/archive.tiffinmodel', new Uint8Array(100));
  assert.deepEqual(await remote.list('models'), []);
  await assert.rejects(remote.pull(modelArchiveStore(await freshStore()), 'half'), code('REMOTE_NOT_FOUND'));
  await assert.rejects(remote.pull(modelArchiveStore(await freshStore()), 'half:1'), code('REMOTE_NOT_FOUND'));
  await remote.push(modelArchiveStore(source), 'half:1'); // retried: no "exists" refusal, the stray archive is overwritten
  assert.deepEqual((await remote.list('models')).map((r) => r.name), ['half']);

  // A ~20 MiB model, aborted during its multipart upload: nothing visible.
  const big = await saveLargeModel(source, 'big:1', 20);
  assert.ok(big.size > 16 * 1024 * 1024, `model is ${big.size} bytes`);
  const controller = new AbortController();
  await assert.rejects(remote.push(modelArchiveStore(source), 'big:1', { signal: controller.signal, onProgress: () => controller.abort() }), code('ABORTED'));
  assert.deepEqual((await remote.list('models', 'big')), []);
  assert.ok(calls.includes('CreateMultipartUploadCommand'));
  // The SDK aborts the multipart upload on the server once its parts in flight settle.
  for (let i = 0; i < 100 && !calls.includes('AbortMultipartUploadCommand'); i++) await new Promise((r) => setTimeout(r, 50));
  assert.ok(calls.includes('AbortMultipartUploadCommand'), calls.join(' '));
  assert.ok(!calls.includes('CompleteMultipartUploadCommand'));

  calls.length = 0;
  const progress: number[] = [];
  const pushed = await remote.push(modelArchiveStore(source), 'big:1', { onProgress: (done) => progress.push(done) });
  const parts = calls.filter((c) => c === 'UploadPartCommand').length;
  assert.equal(parts, Math.ceil(pushed.archive.bytes / (8 * 1024 * 1024)), `${parts} parts for ${pushed.archive.bytes} bytes`);
  assert.ok(parts >= 3);
  assert.ok(calls.includes('CompleteMultipartUploadCommand'));
  assert.ok(!calls.includes('PutObjectCommand') || calls.indexOf('PutObjectCommand') > calls.indexOf('CompleteMultipartUploadCommand'), 'version.json written last');
  assert.equal(progress.at(-1), pushed.archive.bytes);

  const target = await freshStore();
  await remote.pull(modelArchiveStore(target), 'big:1');
  const entry = big.entry;
  assert.deepEqual(await readFile(join((await target.get('big:1')).dir, entry)), await readFile(join((await source.get('big:1')).dir, entry)));
});

test('pull on start fetches the configured models the local store lacks, and leaves present ones alone', async () => {
  const remote = remoteOn(endpoint, 'onstart');
  const source = await freshStore();
  await saveSmallModel(source, 'iris:1');
  await saveSmallModel(source, 'iris:2', { seed: 2 });
  await saveSmallModel(source, 'ocr:3');
  for (const tag of ['iris:1', 'iris:2', 'ocr:3']) await remote.push(modelArchiveStore(source), tag);

  const target = await freshStore();
  const lines: string[] = [];
  const log = { info: (m: string) => lines.push(`info ${m}`), error: (m: string) => lines.push(`error ${m}`) };
  const config = { models: [{ name: 'iris' }, { name: 'ocr', versions: { specific: ['3'] } }, { name: 'missing' }], remote: resolveRemote({ s3: { bucket: BUCKET }, pullOnStart: true }, {}) };
  const report = await pullMissingModels(config, target, log, { remote, tags: ['iris:1'] });
  assert.deepEqual(report.pulled, ['iris:2', 'ocr:3', 'iris:1']);
  assert.deepEqual(report.failed.map((f) => f.tag), ['missing']);
  assert.match(lines.join('\n'), /error could not pull missing .*REMOTE_NOT_FOUND/);
  assert.deepEqual((await target.list()).map((m) => `${m.name}:${m.version}`), ['iris:2', 'iris:1', 'ocr:3']);

  const second = await pullMissingModels(config, target, log, { remote, tags: ['iris:1'] });
  assert.deepEqual(second.pulled, []);
  assert.deepEqual(second.present, ['iris', 'ocr:3', 'iris:1']);
});

test('no bucket is REMOTE_NOT_CONFIGURED naming TIFFIN_S3_BUCKET; an unreachable endpoint is REMOTE_FAILED at once', async () => {
  assert.throws(() => new RemoteStore(resolveRemote({}, {}).s3), (err) => code('REMOTE_NOT_CONFIGURED')(err) && /TIFFIN_S3_BUCKET/.test((err as Error).message));
  const store = await freshStore();
  await assert.rejects(pullMissingModels({ models: [{ name: 'iris' }], remote: resolveRemote({ pullOnStart: true }, {}) }, store, { info: () => undefined, error: () => undefined }), code('REMOTE_NOT_CONFIGURED'));

  const closed = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
  const unreachable = `http://127.0.0.1:${closed}`;
  const remote = remoteOn(unreachable, 'x', { connectionTimeoutMs: 1000 });
  await saveSmallModel(store, 'iris:1');
  const started = Date.now();
  for (const attempt of [() => remote.list('models'), () => remote.push(modelArchiveStore(store), 'iris:1'), () => remote.pull(modelArchiveStore(store), 'iris:1', { force: true })]) {
    await assert.rejects(attempt(), (err) => {
      code('REMOTE_FAILED')(err);
      const message = (err as Error).message;
      assert.ok(message.includes(unreachable) && message.includes(`s3://${BUCKET}/`), message);
      assert.match(message, /ECONNREFUSED/);
      assert.equal((err as { status?: number }).status, 502);
      return true;
    });
  }
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  assert.deepEqual(s3Location(unreachable).bucket, BUCKET);
});
