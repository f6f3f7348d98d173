// The store on a disk that refuses writes, tried for real: a small tmpfs that fills up (bytes, then inodes) and a
// read-only bind mount. Each write fails with an error naming the store, the cause and the fix, nothing half-written
// is visible, earlier models still verify, and once space is freed writes work again. Needs mount(8) as root:
// where mounting fails (not root, no CAP_SYS_ADMIN, a sandbox) the tests are skipped with the reason.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import type { ErrorCode } from '../errors/index.ts';
import { ModelStore } from './local-store.ts';
import { STAGING_DIR } from './staging.ts';
import { buildTarGz, manifestText, randomFile, sampleSignatures, snapshot } from '../testing/store/helpers.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

interface Scratch {
  dir: string;
  /** Mounts `args` (mount(8) arguments ending with the mount point); false when this machine cannot mount. */
  mount: (...args: string[]) => boolean;
  /** Why the last mount failed. */
  reason: string;
}

/**
 * Runs `body` with a fresh temp folder; every mount made through it is unmounted (newest first) and the folder
 * removed when the body ends, however it ends.
 */
async function withScratch(body: (s: Scratch) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tiffin-disk-'));
  const mounted: string[] = [];
  const scratch: Scratch = {
    dir,
    reason: '',
    mount: (...args) => {
      const target = args[args.length - 1] as string;
      const r = spawnSync('mount', args, { encoding: 'utf8' });
      if (r.status !== 0) {
        scratch.reason = (r.error?.message ?? r.stderr ?? '').trim() || `exit ${r.status}`;
        return false;
      }
      mounted.push(target);
      return true;
    },
  };
  try {
    await body(scratch);
  } finally {
    for (const target of mounted.reverse()) {
      if (spawnSync('umount', [target]).status !== 0) spawnSync('umount', ['-l', target]);
    }
    await rm(dir, { recursive: true, force: true });
  }
}

function skipped(t: TestContext, s: Scratch): void {
  t.skip(`needs mount (root): ${s.reason}`);
}

function expectCode(code: ErrorCode, mentions: (string | RegExp)[]) {
  return (err: unknown): boolean => {
    assert.ok(isTiffinError(err), `a TiffinError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const m of mentions) {
      if (typeof m === 'string') assert.ok(err.message.includes(m), `${JSON.stringify(err.message)} names ${m}`);
      else assert.match(err.message, m);
    }
    return true;
  };
}

async function freeBytes(path: string): Promise<number> {
  const s = await statfs(path);
  return s.bavail * s.bsize;
}

/** Fills the disk of `path` so about `leave` bytes stay free; returns the filler file. */
async function fill(path: string, leave: number): Promise<string> {
  const filler = join(path, 'filler');
  await writeFile(filler, Buffer.alloc(Math.max(0, (await freeBytes(path)) - leave)));
  return filler;
}

const base = { framework: 'custom', frameworkVersion: '1', signatures: sampleSignatures() };

/** What a reader sees, and that nothing is left in staging. */
async function state(store: ModelStore) {
  return { list: await store.list(), verify: await store.verify(), staging: await readdir(join(store.root, STAGING_DIR)).catch(() => []) };
}

test('a save bigger than the free space fails with STORE_NO_SPACE naming ENOSPC and the store; nothing is left; after freeing space it works', async (t) => {
  await withScratch(async (s) => {
    const disk = join(s.dir, 'disk');
    await mkdir(disk);
    if (!s.mount('-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', disk)) return skipped(t, s);
    const store = new ModelStore(join(disk, 'store'));
    await randomFile(join(s.dir, 'src', 'small.bin'), 64 * KiB);
    await randomFile(join(s.dir, 'src', 'big.bin'), MiB);
    await store.write({ ...base, name: 'small', version: 'v1', sourcePath: join(s.dir, 'src', 'small.bin') });
    const before = await state(store);
    const filler = await fill(disk, 256 * KiB);

    await assert.rejects(store.write({ ...base, name: 'big', version: 'v1', sourcePath: join(s.dir, 'src', 'big.bin') }),
      expectCode('STORE_NO_SPACE', ['ENOSPC', 'no space left on device', store.root, 'big:v1', 'free some space']));
    assert.deepEqual(await state(store), before, 'only the earlier model is listed, it still verifies, no staging leftovers');
    await assert.rejects(store.get('big'), expectCode('MODEL_NOT_FOUND', []));

    await rm(filler);
    const saved = await store.write({ ...base, name: 'big', version: 'v1', sourcePath: join(s.dir, 'src', 'big.bin') });
    assert.equal(saved.size, MiB);
    assert.deepEqual((await store.verify()).map((r) => [r.tag, r.ok]), [['big:v1', true], ['small:v1', true]]);
  });
});

test('an import into a store without room is refused from its manifest (STORE_NO_SPACE, before writing); running out mid-way is also clean', async (t) => {
  await withScratch(async (s) => {
    const disk = join(s.dir, 'disk');
    await mkdir(disk);
    if (!s.mount('-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk)) return skipped(t, s);
    // The archive is made in a store on the ordinary temp disk.
    const elsewhere = new ModelStore(join(s.dir, 'elsewhere'));
    await randomFile(join(s.dir, 'src', 'big.bin'), MiB);
    await elsewhere.write({ ...base, name: 'big', version: 'v1', sourcePath: join(s.dir, 'src', 'big.bin') });
    const archive = join(s.dir, 'big.tiffinmodel');
    await elsewhere.exportModel('big:v1', archive);

    const store = new ModelStore(join(disk, 'store'));
    await randomFile(join(s.dir, 'src', 'small.bin'), 64 * KiB);
    await store.write({ ...base, name: 'small', version: 'v1', sourcePath: join(s.dir, 'src', 'small.bin') });
    const before = await state(store);
    const tree = await snapshot(store.root);
    const filler = await fill(disk, 256 * KiB);

    await assert.rejects(store.importModel(archive), (err: unknown) => {
      expectCode('STORE_NO_SPACE', ['import big:v1', store.root, '1048576 bytes', 'free some space'])(err);
      const d = (err as { details: { needed: number; free: number } }).details;
      assert.ok(d.needed === MiB && d.free < 300 * KiB, JSON.stringify(d));
      return true;
    });
    assert.deepEqual(await state(store), before);
    assert.deepEqual(await snapshot(store.root), tree, 'store tree unchanged');

    // Enough bytes but not enough room for them: the pre-check passes, the writes hit ENOSPC part-way (the filler
    // leaves 1.1 MiB, but tmpfs rounds each file to pages, so 400 files of 2 KiB need 1.6 MiB).
    await rm(filler);
    const files = Array.from({ length: 400 }, (_, i) => ({ path: `part-${i}.bin`, data: Buffer.alloc(2 * KiB, i % 256) }));
    await writeFile(join(s.dir, 'parts.tiffinmodel'), buildTarGz([{ path: 'model.yaml', data: manifestText('parts', 'v1', files) }, ...files]));
    const filler2 = await fill(disk, 1100 * KiB);
    await assert.rejects(store.importModel(join(s.dir, 'parts.tiffinmodel')), expectCode('STORE_NO_SPACE', ['ENOSPC', 'no space left on device', store.root]));
    assert.deepEqual(await state(store), before, 'nothing half-imported is visible; the earlier model verifies');

    await rm(filler2);
    assert.equal((await store.importModel(archive)).name, 'big');
    assert.equal((await store.importModel(join(s.dir, 'parts.tiffinmodel'))).name, 'parts');
    assert.deepEqual((await store.verify()).map((r) => [r.tag, r.ok]), [['big:v1', true], ['parts:v1', true], ['small:v1', true]]);
  });
});

test('a read-only store (bind mount, ro): list, get, verify and export work; save, delete and import fail with STORE_READ_ONLY and change nothing', async (t) => {
  await withScratch(async (s) => {
    const writable = new ModelStore(join(s.dir, 'store'));
    await randomFile(join(s.dir, 'src', 'a.bin'), 8 * KiB);
    await writable.write({ ...base, name: 'iris', version: 'v1', sourcePath: join(s.dir, 'src', 'a.bin') });
    await writable.write({ ...base, name: 'iris', version: 'v2', sourcePath: join(s.dir, 'src', 'a.bin') });
    const archive = join(s.dir, 'iris.tiffinmodel');
    await writable.exportModel('iris:v1', archive);
    const tree = await snapshot(writable.root);

    const ro = join(s.dir, 'ro');
    await mkdir(ro);
    if (!s.mount('--bind', writable.root, ro)) return skipped(t, s);
    if (!s.mount('-o', 'remount,bind,ro', ro)) return skipped(t, s);
    const store = new ModelStore(ro);

    // Reads keep working.
    assert.deepEqual((await store.list()).map((m) => m.version), ['v2', 'v1']);
    assert.equal((await store.get('iris:v1')).manifest.version, 'v1');
    assert.deepEqual((await store.verify()).map((r) => r.ok), [true, true]);
    const out = join(s.dir, 'out', 'export.tiffinmodel');
    await mkdir(join(s.dir, 'out'));
    await store.exportModel('iris', out);
    assert.equal((await new ModelStore(join(s.dir, 'copy')).importModel(out)).version, 'v2');

    const readOnly = expectCode('STORE_READ_ONLY', ['EROFS', 'read-only', ro, 'reads still work']);
    await assert.rejects(store.write({ ...base, name: 'iris', version: 'v3', sourcePath: join(s.dir, 'src', 'a.bin') }), readOnly);
    await assert.rejects(store.write({ ...base, name: 'new-model', sourcePath: join(s.dir, 'src', 'a.bin') }), readOnly);
    await assert.rejects(store.delete('iris:v1'), readOnly);
    await assert.rejects(store.delete('iris', { allVersions: true }), readOnly);
    await assert.rejects(store.importModel(archive, { tag: 'other' }), readOnly);
    await assert.rejects(store.importModel(archive, { force: true }), readOnly);
    assert.deepEqual(await snapshot(writable.root), tree, 'nothing changed on disk');
    assert.deepEqual((await store.verify()).map((r) => [r.tag, r.ok]), [['iris:v1', true], ['iris:v2', true]]);
  });
});
