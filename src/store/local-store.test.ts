import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, writeFile, appendFile, truncate } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { ModelStore, defaultStoreRoot } from './local-store.ts';
import type { WriteModelInput } from './local-store.ts';
import { readManifest, stringifyManifest } from './manifest.ts';
import { STAGING_DIR } from './staging.ts';
import { randomFile, sampleSignatures, sha256, snapshot, tempDir } from '../testing/store/helpers.ts';

const code = (c: string) => (err: unknown) => isTiffinError(err) && err.code === c;

async function setup(t: Parameters<typeof tempDir>[0]) {
  const tmp = await tempDir(t);
  const store = new ModelStore({ root: join(tmp, 'store') });
  const src = join(tmp, 'src');
  await mkdir(src);
  const input = async (name: string, extra: Partial<WriteModelInput> = {}): Promise<WriteModelInput> => {
    const file = join(src, `${name}-${Math.random().toString(36).slice(2)}.bin`);
    await randomFile(file, 2048);
    return { name, framework: 'custom', frameworkVersion: '1.0.0', sourcePath: file, signatures: sampleSignatures(), ...extra };
  };
  return { tmp, store, src, input };
}

test('the default root is $TIFFIN_HOME/models, else ~/.tiffin/models; an explicit root wins', () => {
  assert.equal(defaultStoreRoot({ TIFFIN_HOME: '/srv/tiffin' }), '/srv/tiffin/models');
  assert.equal(defaultStoreRoot({}), join(homedir(), '.tiffin', 'models'));
  assert.equal(new ModelStore('/x/y').root, '/x/y');
  assert.equal(new ModelStore({ root: '/x/z' }).root, '/x/z');
});

test('write a single file: stored under its basename, entry defaults to it, digests recorded', async (t) => {
  const { store, src } = await setup(t);
  const data = await randomFile(join(src, 'model.onnx'), 5000);
  const m = await store.write({ name: 'iris', version: 'v1', framework: 'onnx', frameworkVersion: '1.20.0', sourcePath: join(src, 'model.onnx'),
    signatures: sampleSignatures(), labels: { stage: 'prod' }, metadata: { accuracy: 0.97 } });
  assert.equal(m.entry, 'model.onnx');
  assert.deepEqual(m.files, [{ path: 'model.onnx', size: 5000, sha256: sha256(data) }]);
  assert.equal(m.size, 5000);
  assert.equal(m.schemaVersion, 1);
  const { manifest, dir } = await store.get('iris:v1');
  assert.deepEqual(manifest, m);
  assert.equal(dir, join(store.root, 'iris', 'v1'));
  assert.deepEqual(await readFile(join(dir, 'model.onnx')), data);
  assert.deepEqual(await readManifest(dir), m);
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), [], 'no staging leftovers');
});

test('write a folder: nested files kept, entry required and must be one of the files', async (t) => {
  const { store, src } = await setup(t);
  await randomFile(join(src, 'm', 'model.onnx'), 100);
  await randomFile(join(src, 'm', 'tokenizer', 'vocab.txt'), 50);
  const base = { name: 'bert', framework: 'onnx', frameworkVersion: '1', sourcePath: join(src, 'm'), signatures: sampleSignatures() };
  await assert.rejects(store.write(base), code('MODEL_INVALID'));
  await assert.rejects(store.write({ ...base, entry: 'nope.onnx' }), code('MODEL_INVALID'));
  const m = await store.write({ ...base, entry: 'model.onnx' });
  assert.deepEqual(m.files.map((f) => f.path), ['model.onnx', 'tokenizer/vocab.txt']);
  assert.equal(m.size, 150);
  assert.match(m.version, /^[0-9a-z]{26}$/, 'a generated version');
  assert.deepEqual((await store.verify(`bert:${m.version}`))[0]?.ok, true);
});

test('bad sources and bad manifests are refused before anything is visible', async (t) => {
  const { store, src, input } = await setup(t);
  await assert.rejects(store.write({ ...(await input('a')), sourcePath: join(src, 'missing') }), code('MODEL_INVALID'));
  await mkdir(join(src, 'empty'));
  await assert.rejects(store.write({ ...(await input('a')), sourcePath: join(src, 'empty'), entry: 'x' }), code('MODEL_INVALID'));
  await randomFile(join(src, 'withyaml', 'model.yaml'), 10);
  await assert.rejects(store.write({ ...(await input('a')), sourcePath: join(src, 'withyaml'), entry: 'model.yaml' }), code('MODEL_INVALID'));
  const badSig = sampleSignatures();
  badSig.run!.batchDim = -1;
  await assert.rejects(store.write({ ...(await input('a')), signatures: badSig }), code('MANIFEST_INVALID'));
  await assert.rejects(store.write({ ...(await input('a')), sourcePath: store.root, entry: 'x' }), code('MODEL_INVALID'));
  await assert.rejects(store.write({ ...(await input('a')), sourcePath: join(store.root, '..'), entry: 'x' }), code('MODEL_INVALID'));
  await assert.rejects(store.write(await input('Bad')), code('INVALID_NAME'));
  await assert.rejects(store.write(await input('a', { version: 'latest' })), code('INVALID_NAME'));
  assert.deepEqual(await store.list(), []);
  assert.deepEqual(await snapshot(store.root), [`${STAGING_DIR}/`], 'nothing but an empty staging folder');
});

test('an existing tag is MODEL_EXISTS; force replaces it', async (t) => {
  const { store, input } = await setup(t);
  const first = await store.write(await input('iris', { version: 'v1' }));
  await assert.rejects(store.write(await input('iris', { version: 'v1' })), (err: unknown) => isTiffinError(err, 'MODEL_EXISTS') && /force/.test(err.message));
  assert.deepEqual((await store.get('iris:v1')).manifest, first);
  const second = await store.write(await input('iris', { version: 'v1', force: true }));
  assert.notEqual(second.files[0]?.sha256, first.files[0]?.sha256);
  assert.deepEqual((await store.get('iris:v1')).manifest, second);
  assert.equal((await store.verify('iris:v1'))[0]?.ok, true);
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), [], 'the replaced version was removed');
});

test('name and name:latest resolve to the newest version (createdAt, ties broken by version)', async (t) => {
  const { store, input } = await setup(t);
  const generated = [];
  for (let i = 0; i < 3; i++) generated.push(await store.write(await input('iris')));
  const newest = generated[2]!;
  assert.deepEqual((await store.get('iris')).manifest, newest);
  assert.deepEqual((await store.get('iris:latest')).manifest, newest);
  assert.equal(await store.resolve('iris'), `iris:${newest.version}`);
  assert.equal(await store.resolve(`iris:${generated[0]!.version}`), `iris:${generated[0]!.version}`);
  // Equal createdAt: the greater version string wins.
  const a = await store.write(await input('tie', { version: 'a' }));
  const b = await store.write(await input('tie', { version: 'b' }));
  for (const m of [a, b]) {
    const file = join(store.root, 'tie', m.version, 'model.yaml');
    await rm(file);
    await writeFile(file, stringifyManifest({ ...m, createdAt: '2020-01-01T00:00:00.000Z' }));
  }
  assert.equal(await store.resolve('tie'), 'tie:b');
});

test('list sorts by name then newest first, filters by name and labels, and ignores anything that is not a valid version', async (t) => {
  const { store, input } = await setup(t);
  const z1 = await store.write(await input('zebra', { labels: { stage: 'prod' } }));
  const a1 = await store.write(await input('alpha', { version: 'one', labels: { stage: 'dev', team: 'x' } }));
  const a2 = await store.write(await input('alpha', { version: 'two', labels: { stage: 'prod', team: 'x' } }));
  const tags = (ms: { name: string; version: string }[]) => ms.map((m) => `${m.name}:${m.version}`);
  // Junk that must stay invisible: staging, a folder without manifest, a broken manifest, a manifest for another tag, stray files.
  await mkdir(join(store.root, STAGING_DIR, '999999-abc'), { recursive: true });
  await writeFile(join(store.root, STAGING_DIR, '999999-abc', 'model.yaml'), stringifyManifest(a1));
  await mkdir(join(store.root, 'alpha', 'empty'));
  await mkdir(join(store.root, 'alpha', 'broken'));
  await writeFile(join(store.root, 'alpha', 'broken', 'model.yaml'), 'name: [');
  await mkdir(join(store.root, 'alpha', 'moved'));
  await writeFile(join(store.root, 'alpha', 'moved', 'model.yaml'), stringifyManifest(a1));
  await mkdir(join(store.root, 'Upper', 'v1'), { recursive: true });
  await writeFile(join(store.root, 'stray.txt'), 'x');

  assert.deepEqual(tags(await store.list()), tags([a2, a1, z1]));
  assert.deepEqual(tags(await store.list({ name: 'alpha' })), tags([a2, a1]));
  assert.deepEqual(tags(await store.list({ labels: { stage: 'prod' } })), tags([a2, z1]));
  assert.deepEqual(tags(await store.list({ name: 'alpha', labels: { stage: 'prod', team: 'x' } })), tags([a2]));
  assert.deepEqual(await store.list({ name: 'nobody' }), []);
  assert.deepEqual(await new ModelStore(join(store.root, 'no-such-root')).list(), []);
  await assert.rejects(store.get('alpha:moved'), code('MANIFEST_INVALID'));
});

test('MODEL_NOT_FOUND hints at the known versions, or the known names', async (t) => {
  const { store, input } = await setup(t);
  await assert.rejects(store.get('iris'), (err: unknown) => isTiffinError(err, 'MODEL_NOT_FOUND') && /empty/.test(err.message));
  await store.write(await input('iris', { version: 'v1' }));
  await store.write(await input('mnist', { version: 'v1' }));
  await assert.rejects(store.get('iris:v9'), (err: unknown) => isTiffinError(err, 'MODEL_NOT_FOUND') && err.message.includes('Versions of iris, newest first: v1'));
  await assert.rejects(store.get('irsi'), (err: unknown) => isTiffinError(err, 'MODEL_NOT_FOUND') && err.message.includes('Known models: iris, mnist'));
});

test('delete removes one version, or a whole name only when asked', async (t) => {
  const { store, input } = await setup(t);
  await store.write(await input('iris', { version: 'v1' }));
  await store.write(await input('iris', { version: 'v2' }));
  await store.write(await input('keep', { version: 'v1' }));
  await assert.rejects(store.delete('iris'), code('INVALID_TAG'));
  await assert.rejects(store.delete('iris:latest'), code('INVALID_TAG'));
  await assert.rejects(store.delete('iris:v1', { allVersions: true }), code('INVALID_TAG'));
  await assert.rejects(store.delete('iris:v3'), code('MODEL_NOT_FOUND'));
  await store.delete('iris:v1');
  assert.deepEqual((await store.list({ name: 'iris' })).map((m) => m.version), ['v2']);
  await store.delete('iris:v2');
  assert.deepEqual(await store.list({ name: 'iris' }), []);
  assert.ok(!(await readdir(store.root)).includes('iris'), 'the empty name folder is removed');
  await store.write(await input('iris', { version: 'a' }));
  await store.write(await input('iris', { version: 'b' }));
  await store.delete('iris', { allVersions: true });
  await assert.rejects(store.delete('iris', { allVersions: true }), code('MODEL_NOT_FOUND'));
  assert.deepEqual((await store.list()).map((m) => m.name), ['keep']);
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), []);
});

test('verify reports tampered, truncated, missing and unexpected files, and broken version folders', async (t) => {
  const { store, src, input } = await setup(t);
  await randomFile(join(src, 'f', 'a.bin'), 300);
  await randomFile(join(src, 'f', 'b.bin'), 300);
  await randomFile(join(src, 'f', 'c.bin'), 300);
  const m = await store.write({ ...(await input('iris')), version: 'v1', sourcePath: join(src, 'f'), entry: 'a.bin' });
  await store.write(await input('other', { version: 'v1' }));
  assert.deepEqual(await store.verify(), [{ tag: 'iris:v1', ok: true, problems: [] }, { tag: 'other:v1', ok: true, problems: [] }]);

  const dir = join(store.root, 'iris', 'v1');
  const bytes = await readFile(join(dir, 'a.bin'));
  bytes[0] = (bytes[0]! + 1) % 256;
  await writeFile(join(dir, 'a.bin'), bytes); // same size, other content
  await truncate(join(dir, 'b.bin'), 10);
  await rm(join(dir, 'c.bin'));
  await appendFile(join(dir, 'extra.txt'), 'hello');
  const [report] = await store.verify('iris:v1');
  assert.equal(report?.ok, false);
  const problems = report?.problems ?? [];
  assert.ok(problems.some((p) => p.startsWith('a.bin has sha256')), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('b.bin has 10 bytes, expected 300')));
  assert.ok(problems.some((p) => p === 'c.bin is missing'));
  assert.ok(problems.some((p) => p.startsWith('extra.txt is not listed')));
  assert.ok(!problems.some((p) => p.startsWith('model.yaml')));
  assert.equal(problems.length, 4, 'a wrong size is reported once, not again as a wrong digest');
  assert.equal(m.files.length, 3);

  await mkdir(join(store.root, 'iris', 'half'));
  const all = await store.verify('iris');
  assert.deepEqual(all.map((r) => [r.tag, r.ok]), [['iris:half', false], ['iris:v1', false]]);
  assert.deepEqual(all[0]?.problems, ['model.yaml is missing']);
  await assert.rejects(store.verify('nobody'), code('MODEL_NOT_FOUND'));
  await assert.rejects(store.exportModel('iris:v1', join(src, 'out.tiffinmodel')), code('INTEGRITY_MISMATCH'));
});
