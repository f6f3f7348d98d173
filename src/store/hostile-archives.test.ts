// Hostile archives built at run time (gzip bombs, manifests declaring huge files, too many entries) against a real
// store in a temp folder: each is refused with a stable code and an actionable message, quickly and without filling
// memory or disk, the store is left as it was (no staging leftovers), and a valid import works afterwards.
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { isTiffinError } from '../errors/index.ts';
import type { TiffinError } from '../errors/index.ts';
import { DEFAULT_MAX_IMPORT_BYTES, DEFAULT_MAX_IMPORT_ENTRIES } from './index.ts';
import { ModelStore } from './local-store.ts';
import type { ModelStoreOptions } from './local-store.ts';
import { MANIFEST_SCHEMA_VERSION, stringifyManifest } from './manifest.ts';
import { STAGING_DIR } from './staging.ts';
import type { RawEntry } from '../testing/store/helpers.ts';
import { buildTarGz, manifestText, randomFile, sampleSignatures, snapshot, tempDir } from '../testing/store/helpers.ts';

const MiB = 1024 * 1024;
const weights = Buffer.from('weights!');
const valid = (name = 'evil'): RawEntry[] => [{ path: 'model.yaml', data: manifestText(name, 'v1', [{ path: 'model.bin', data: weights }]) }, { path: 'model.bin', data: weights }];

/** A tar header block by hand, so it can declare any size and type. */
function header(path: string, type: 'File' | 'Directory', size: number): Buffer {
  const block = Buffer.alloc(512);
  new Header({ path, type, size, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 }).encode(block, 0);
  return block;
}

/** The tar of `entries` (regular files) without its end blocks, gzipped: more can follow as further gzip members. */
function openTarGz(entries: RawEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    blocks.push(header(e.path, 'File', data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  return gzipSync(Buffer.concat(blocks));
}

/** `mib` MiB of zeros as gzip members (1 MiB compressed once, repeated): a few hundred KB on disk. */
function zerosGz(mib: number): Buffer {
  const one = gzipSync(Buffer.alloc(MiB), { level: 9 });
  return Buffer.concat(Array.from({ length: mib }, () => one));
}

/** A manifest (YAML) declaring files that need not exist, with any size. */
function declaring(files: { path: string; size: number }[]): string {
  return stringifyManifest({
    schemaVersion: MANIFEST_SCHEMA_VERSION, name: 'evil', version: 'v1', framework: 'custom', frameworkVersion: '1.0.0',
    entry: files[0]?.path ?? 'model.bin', createdAt: new Date().toISOString(), size: files.reduce((s, f) => s + f.size, 0),
    labels: {}, metadata: {}, signatures: sampleSignatures(), files: files.map((f) => ({ ...f, sha256: '0'.repeat(64) })),
  });
}

async function setup(t: Parameters<typeof tempDir>[0], options: Omit<ModelStoreOptions, 'root'> = {}) {
  const tmp = await tempDir(t);
  const store = new ModelStore({ root: join(tmp, 'store'), ...options });
  await randomFile(join(tmp, 'src', 'iris.onnx'), 4096);
  await store.write({ name: 'iris', version: 'v1', framework: 'onnx', frameworkVersion: '1', sourcePath: join(tmp, 'src', 'iris.onnx'), signatures: sampleSignatures() });
  const good = join(tmp, 'good.tiffinmodel');
  await store.exportModel('iris:v1', good);
  return { tmp, store, good };
}

/**
 * Imports `archive` and expects the refusal `code` (with a message matching each of `mentions`); then checks the store
 * is as it was, with no staging leftovers, and that a valid archive still imports. Returns the error and the time taken.
 */
async function expectRefused(ctx: Awaited<ReturnType<typeof setup>>, archive: Buffer, code: string, mentions: RegExp[], options = {}): Promise<{ err: TiffinError; ms: number }> {
  const { tmp, store, good } = ctx;
  const file = join(tmp, 'hostile.tiffinmodel');
  await writeFile(file, archive);
  const listBefore = await store.list();
  const treeBefore = await snapshot(store.root);
  const started = performance.now();
  let caught: TiffinError | undefined;
  await assert.rejects(store.importModel(file, options), (err: unknown) => {
    assert.ok(isTiffinError(err), `a TiffinError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const m of mentions) assert.match(err.message, m);
    caught = err;
    return true;
  });
  const ms = performance.now() - started;
  assert.deepEqual(await store.list(), listBefore, 'list unchanged');
  assert.deepEqual(await snapshot(store.root), treeBefore, 'store tree unchanged');
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), [], 'no staging leftovers');
  const imported = await store.importModel(good, { tag: 'iris-after:v1' });
  assert.equal(imported.name, 'iris-after');
  assert.deepEqual((await store.verify('iris-after:v1')).map((r) => r.ok), [true], 'a valid import still works afterwards');
  await store.delete('iris-after', { allVersions: true });
  return { err: caught as TiffinError, ms };
}

test('the defaults are 64 GiB and 100 000 entries, exported for configuration, and a store takes its own', () => {
  assert.equal(DEFAULT_MAX_IMPORT_BYTES, 64 * 1024 ** 3);
  assert.equal(DEFAULT_MAX_IMPORT_ENTRIES, 100_000);
  assert.equal(new ModelStore('/x').maxImportBytes, DEFAULT_MAX_IMPORT_BYTES);
  assert.equal(new ModelStore({ root: '/x', maxImportBytes: 5, maxImportEntries: 7 }).maxImportEntries, 7);
});

test('a manifest declaring more than maxImportBytes is refused with ARCHIVE_TOO_LARGE before any file is written; raising the limit lets it in', async (t) => {
  const ctx = await setup(t, { maxImportBytes: MiB });
  // A real 2 MiB file of zeros (a few KB of gzip), honestly declared: only the limit stands in the way.
  const zeros = Buffer.alloc(2 * MiB);
  const archive = buildTarGz([{ path: 'model.yaml', data: manifestText('zeros', 'v1', [{ path: 'zeros.bin', data: zeros }]) }, { path: 'zeros.bin', data: zeros }]);
  assert.ok(archive.length < 64 * 1024, `the archive is small (${archive.length} bytes)`);
  const { err } = await expectRefused(ctx, archive, 'ARCHIVE_TOO_LARGE', [/1048576 bytes \(1\.0 MiB\)/, /2097152 bytes/, /maxImportBytes/, /Raise/]);
  assert.equal(err.status, 413);
  assert.deepEqual([(err.details as { limit: number }).limit, (err.details as { declaredBytes: number }).declaredBytes], [MiB, 2 * MiB]);
  // The per-import option raises it.
  const m = await ctx.store.importModel(join(ctx.tmp, 'hostile.tiffinmodel'), { maxImportBytes: 4 * MiB });
  assert.equal(m.size, 2 * MiB);
  assert.deepEqual(await ctx.store.verify('zeros:v1'), [{ tag: 'zeros:v1', ok: true, problems: [] }]);
});

test('under the default limit, a manifest declaring 100 GiB is refused from the manifest alone', async (t) => {
  const ctx = await setup(t);
  const archive = buildTarGz([{ path: 'model.yaml', data: declaring([{ path: 'huge.bin', size: 100 * 1024 ** 3 }]) }, { path: 'huge.bin', data: 'tiny' }]);
  const { ms } = await expectRefused(ctx, archive, 'ARCHIVE_TOO_LARGE', [/64\.0 GiB/, /100\.0 GiB/, /maxImportBytes/]);
  assert.ok(ms < 2000, `refused at once (${ms.toFixed(0)} ms)`);
});

test('a gzip bomb after the last entry (200 MiB of zeros behind 8 declared bytes) is stopped after about 1 MiB, quickly, with memory flat', async (t) => {
  const ctx = await setup(t);
  const bomb = Buffer.concat([openTarGz(valid()), zerosGz(200)]);
  assert.ok(bomb.length < 1 * MiB, `${bomb.length} bytes on disk`);
  const rssBefore = process.memoryUsage().rss;
  const { err, ms } = await expectRefused(ctx, bomb, 'ARCHIVE_UNSAFE', [/decompresses to more than its model\.yaml declares/, /8 bytes of files/, /decompression bomb/]);
  const read = (err.details as { unpackedBytes: number }).unpackedBytes;
  assert.ok(read <= 2 * MiB, `stopped after ${read} bytes of the 200 MiB`);
  assert.ok(ms < 5000, `stopped quickly (${ms.toFixed(0)} ms)`);
  assert.ok(process.memoryUsage().rss - rssBefore < 100 * MiB, 'the 200 MiB were never held in memory');
});

test('a gzip bomb in a folder entry\'s body, and one under a small maxImportBytes, are stopped near what was declared', async (t) => {
  const ctx = await setup(t, { maxImportBytes: MiB });
  // A folder entry claiming a 200 MiB body: no file is written for it, so only the meter sees its bytes.
  const folderBomb = Buffer.concat([openTarGz(valid()), gzipSync(header('pad/', 'Directory', 200 * MiB)), zerosGz(200)]);
  const { err, ms } = await expectRefused(ctx, folderBomb, 'ARCHIVE_UNSAFE', [/decompression bomb/]);
  assert.ok((err.details as { unpackedBytes: number }).unpackedBytes <= 2 * MiB);
  assert.ok(ms < 5000, `stopped quickly (${ms.toFixed(0)} ms)`);
  // Zeros before any model.yaml: refused after the limit (here 1 MiB) plus tar's framing, not after 200 MiB.
  const early = Buffer.concat([gzipSync(header('pad/', 'Directory', 200 * MiB)), zerosGz(200)]);
  const second = await expectRefused(ctx, early, 'ARCHIVE_UNSAFE', [/before any model\.yaml/]);
  assert.ok((second.err.details as { unpackedBytes: number }).unpackedBytes <= 3 * MiB);
});

test('gzip nested inside the gzip (which tar would decompress out of sight) is refused', async (t) => {
  const ctx = await setup(t);
  const inner = buildTarGz([...valid(), { path: 'noise.bin', data: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)) }]);
  assert.ok(inner.length > 512);
  await expectRefused(ctx, gzipSync(inner), 'ARCHIVE_INVALID', [/does not hold a tar/]);
  await expectRefused(ctx, gzipSync(gzipSync(Buffer.from('x'))), 'ARCHIVE_INVALID', [/does not hold a tar/]);
});

test('too many entries: a manifest listing more files than maxImportEntries, and a flood of folder entries, are refused', async (t) => {
  const ctx = await setup(t, { maxImportEntries: 10 });
  const files = Array.from({ length: 20 }, (_, i) => ({ path: `f${i}.bin`, data: `file ${i}` }));
  const listed = buildTarGz([{ path: 'model.yaml', data: manifestText('many', 'v1', files) }, ...files]);
  const { err } = await expectRefused(ctx, listed, 'ARCHIVE_TOO_LARGE', [/lists 20 files/, /10 entries/, /maxImportEntries/]);
  assert.equal((err.details as { limit: number }).limit, 10);
  // Folders are not listed in model.yaml, so they are counted as they come.
  const folders: RawEntry[] = Array.from({ length: 50 }, (_, i) => ({ path: `d${i}/`, type: 'Directory' }));
  await expectRefused(ctx, buildTarGz([...valid(), ...folders]), 'ARCHIVE_TOO_LARGE', [/more than 10 entries/, /maxImportEntries/]);
  // Within the limit it imports.
  assert.equal((await ctx.store.importModel(join(ctx.tmp, 'hostile.tiffinmodel'), { maxImportEntries: 100 })).name, 'evil');
});
