import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isTiffinError } from '../errors/index.ts';
import { ModelStore } from './local-store.ts';
import { STAGING_DIR } from './staging.ts';
import type { RawEntry } from '../testing/store/helpers.ts';
import { buildTarGz, manifestText, randomFile, sampleSignatures, sha256, snapshot, tempDir } from '../testing/store/helpers.ts';

async function setup(t: Parameters<typeof tempDir>[0]) {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  await mkdir(join(tmp, 'src', 'model', 'sub'), { recursive: true });
  await randomFile(join(tmp, 'src', 'model', 'model.onnx'), 70_000);
  await randomFile(join(tmp, 'src', 'model', 'sub', 'vocab.txt'), 1_000);
  await randomFile(join(tmp, 'src', 'model', '@weights.bin'), 10);
  const manifest = await store.write({
    name: 'iris', version: 'v1', framework: 'onnx', frameworkVersion: '1.20.0', entry: 'model.onnx',
    sourcePath: join(tmp, 'src', 'model'), signatures: sampleSignatures(), labels: { stage: 'prod' }, metadata: { note: 'hi' },
  });
  return { tmp, store, manifest };
}

test('export then import into another store: same manifest, same digests, verify passes', async (t) => {
  const { tmp, store, manifest } = await setup(t);
  const out = join(tmp, 'iris.tiffinmodel');
  assert.deepEqual(await store.exportModel('iris', out), manifest);
  const head = await readFile(out);
  assert.deepEqual([head[0], head[1]], [0x1f, 0x8b], 'gzip');
  assert.ok(!(await readdir(tmp)).some((f) => f.endsWith('.tmp')), 'no temporary export file left');

  const other = new ModelStore(join(tmp, 'other'));
  const imported = await other.importModel(out);
  assert.deepEqual(imported, manifest);
  assert.deepEqual((await other.get('iris:v1')).manifest, manifest);
  assert.deepEqual(await other.verify(), [{ tag: 'iris:v1', ok: true, problems: [] }]);
  for (const f of manifest.files) {
    assert.deepEqual(await readFile(join(other.root, 'iris', 'v1', f.path)), await readFile(join(store.root, 'iris', 'v1', f.path)));
  }
  assert.deepEqual(await readdir(join(other.root, STAGING_DIR)), []);
});

test('import under another tag, and import with force over an existing tag', async (t) => {
  const { tmp, store, manifest } = await setup(t);
  const out = join(tmp, 'iris.tiffinmodel');
  await store.exportModel('iris:v1', out);

  const renamed = await store.importModel(out, { tag: 'iris-copy' });
  assert.equal(renamed.name, 'iris-copy');
  assert.equal(renamed.version, 'v1');
  const retagged = await store.importModel(out, { tag: 'iris:v2' });
  assert.deepEqual({ ...retagged, version: 'v1' }, manifest);
  assert.deepEqual((await store.verify()).map((r) => [r.tag, r.ok]), [['iris:v1', true], ['iris:v2', true], ['iris-copy:v1', true]]);

  // Another store holds different content under iris:v1: import refuses, then force replaces it.
  const other = new ModelStore(join(tmp, 'other'));
  await randomFile(join(tmp, 'different.bin'), 64);
  const old = await other.write({ name: 'iris', version: 'v1', framework: 'custom', frameworkVersion: '1', sourcePath: join(tmp, 'different.bin'), signatures: {} });
  await assert.rejects(other.importModel(out), (err: unknown) => isTiffinError(err, 'MODEL_EXISTS'));
  assert.deepEqual((await other.get('iris:v1')).manifest, old);
  assert.deepEqual(await other.importModel(out, { force: true }), manifest);
  assert.deepEqual((await other.get('iris:v1')).manifest, manifest);
  assert.deepEqual(await other.verify(), [{ tag: 'iris:v1', ok: true, problems: [] }]);
  assert.ok(!existsSync(join(other.root, 'iris', 'v1', 'different.bin')), 'old files are gone, not merged');
  assert.deepEqual(await readdir(join(other.root, STAGING_DIR)), []);
});

test('hand-made archives with ./ prefixes and folder entries import; honest all-zero files are not taken for bombs', async (t) => {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  const zeros = Buffer.alloc(8 * 1024 * 1024);
  const vocab = Buffer.from('a b c');
  const text = manifestText('handmade', 'v1', [{ path: 'zeros.bin', data: zeros }, { path: 'sub/vocab.txt', data: vocab }]);
  await writeFile(join(tmp, 'h.tiffinmodel'), buildTarGz([
    { path: './', type: 'Directory' }, { path: './model.yaml', data: text }, { path: './zeros.bin', data: zeros },
    { path: './sub/', type: 'Directory' }, { path: './sub/vocab.txt', data: vocab },
  ]));
  const m = await store.importModel(join(tmp, 'h.tiffinmodel'));
  assert.deepEqual(m.files.map((f) => [f.path, f.sha256]), [['zeros.bin', sha256(zeros)], ['sub/vocab.txt', sha256(vocab)]]);
  assert.deepEqual(await store.verify(), [{ tag: 'handmade:v1', ok: true, problems: [] }]);
});

const weights = Buffer.from('weights!');
const good = (name = 'evil', version = 'v1'): RawEntry => ({ path: 'model.yaml', data: manifestText(name, version, [{ path: 'model.bin', data: weights }]) });

/** Each refused archive: how to build it, and the error code expected. */
const refusals: { name: string; code: string; build: (tmp: string) => Buffer | string; outside?: (tmp: string) => string }[] = [
  { name: 'a ../ entry', code: 'ARCHIVE_UNSAFE', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: '../../evil.txt', data: 'pwned' }]), outside: (tmp) => join(tmp, 'evil.txt') },
  { name: 'a nested ../ entry', code: 'ARCHIVE_UNSAFE', build: () => buildTarGz([{ path: 'sub/../../../evil.txt', data: 'pwned' }, good(), { path: 'model.bin', data: weights }]), outside: (tmp) => join(tmp, 'evil.txt') },
  { name: 'an absolute path', code: 'ARCHIVE_UNSAFE', build: (tmp) => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: join(tmp, 'abs.txt'), data: 'pwned' }]), outside: (tmp) => join(tmp, 'abs.txt') },
  { name: 'a symlink', code: 'ARCHIVE_UNSAFE', build: (tmp) => buildTarGz([good(), { path: 'model.bin', type: 'SymbolicLink', linkpath: join(tmp, 'target.txt') }]) },
  { name: 'a relative symlink', code: 'ARCHIVE_UNSAFE', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: 'link', type: 'SymbolicLink', linkpath: 'model.bin' }]) },
  { name: 'a hard link', code: 'ARCHIVE_UNSAFE', build: () => buildTarGz([good(), { path: 'model.bin', type: 'Link', linkpath: '/etc/passwd' }]) },
  { name: 'a FIFO', code: 'ARCHIVE_UNSAFE', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: 'pipe', type: 'FIFO' }]) },
  { name: 'a file not in the manifest', code: 'INTEGRITY_MISMATCH', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: 'extra.bin', data: 'x' }]) },
  { name: 'a file missing', code: 'INTEGRITY_MISMATCH', build: () => buildTarGz([good()]) },
  { name: 'a digest mismatch', code: 'INTEGRITY_MISMATCH', build: () => buildTarGz([good(), { path: 'model.bin', data: 'weights?' }]) },
  { name: 'a manifest that is not YAML', code: 'MANIFEST_INVALID', build: () => buildTarGz([{ path: 'model.yaml', data: 'name: [oops' }, { path: 'model.bin', data: weights }]) },
  { name: 'a manifest that breaks the schema', code: 'MANIFEST_INVALID', build: () => buildTarGz([{ path: 'model.yaml', data: 'name: evil\n' }, { path: 'model.bin', data: weights }]) },
  { name: 'no manifest', code: 'ARCHIVE_INVALID', build: () => buildTarGz([{ path: 'model.bin', data: weights }]) },
  { name: 'the same path twice', code: 'ARCHIVE_INVALID', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, { path: './model.bin', data: weights }]) },
  { name: 'an existing tag', code: 'MODEL_EXISTS', build: () => buildTarGz([good('iris', 'v1'), { path: 'model.bin', data: weights }]) },
  { name: 'garbage that is not gzip', code: 'ARCHIVE_INVALID', build: () => Buffer.from('this is not an archive at all, just text. '.repeat(50)) },
  { name: 'gzip that is not tar', code: 'ARCHIVE_INVALID', build: () => gzipSync(Buffer.from('still not a tar file '.repeat(100))) },
  { name: 'a corrupt gzip stream', code: 'ARCHIVE_INVALID', build: () => {
    const buf = buildTarGz([good(), { path: 'model.bin', data: weights }]);
    buf.fill(0x55, 20, buf.length - 8);
    return buf;
  } },
  { name: 'model.yaml not first', code: 'ARCHIVE_INVALID', build: () => buildTarGz([{ path: 'model.bin', data: weights }, good()]) },
  { name: 'model.yaml twice', code: 'ARCHIVE_INVALID', build: () => buildTarGz([good(), { path: 'model.bin', data: weights }, good()]) },
  // A decompression bomb: 8 MiB of zeros where the manifest declares 8 bytes; refused from the header, before writing.
  { name: 'an entry bigger than its manifest says', code: 'INTEGRITY_MISMATCH', build: () => buildTarGz([good(), { path: 'model.bin', data: Buffer.alloc(8 * 1024 * 1024) }]) },
  { name: 'an empty file', code: 'ARCHIVE_INVALID', build: () => Buffer.alloc(0) },
  { name: 'a missing archive file', code: 'ARCHIVE_INVALID', build: (tmp) => join(tmp, 'does-not-exist.tiffinmodel') },
];

for (const r of refusals) {
  test(`import refuses ${r.name} with ${r.code} and leaves the store unchanged`, async (t) => {
    const { tmp, store } = await setup(t);
    const built = r.build(tmp);
    const file = typeof built === 'string' ? built : join(tmp, 'bad.tiffinmodel');
    if (typeof built !== 'string') await writeFile(file, built);
    const storeBefore = await snapshot(store.root);
    const listBefore = await store.list();
    const tmpBefore = (await readdir(tmp)).sort();
    await assert.rejects(store.importModel(file), (err: unknown) => {
      assert.ok(isTiffinError(err), `a TiffinError, got ${String(err)}`);
      assert.equal(err.code, r.code, err.message);
      assert.ok(err.message.length > 20);
      return true;
    });
    assert.deepEqual(await store.list(), listBefore);
    assert.deepEqual(await snapshot(store.root), storeBefore, 'store tree (staging included) unchanged');
    assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), [], 'no staging leftovers');
    assert.deepEqual((await readdir(tmp)).sort(), tmpBefore, 'nothing written next to the store');
    if (r.outside) assert.ok(!existsSync(r.outside(tmp)), 'no file escaped');
  });
}

test('truncated archives are refused', async (t) => {
  const { tmp, store } = await setup(t);
  const out = join(tmp, 'iris.tiffinmodel');
  await store.exportModel('iris:v1', out);
  const bytes = await readFile(out);
  const other = new ModelStore(join(tmp, 'other'));
  for (const cut of [Math.floor(bytes.length / 2), bytes.length - 30, 100]) {
    await writeFile(join(tmp, 'cut.tiffinmodel'), bytes.subarray(0, cut));
    await assert.rejects(other.importModel(join(tmp, 'cut.tiffinmodel')), (err: unknown) => isTiffinError(err) && ['ARCHIVE_INVALID', 'INTEGRITY_MISMATCH'].includes(err.code), `cut at ${cut}`);
    assert.deepEqual(await other.list(), []);
    assert.deepEqual(await readdir(join(other.root, STAGING_DIR)), []);
  }
});
