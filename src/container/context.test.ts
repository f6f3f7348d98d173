import assert from 'node:assert/strict';
import { readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError, type TiffinError } from '../errors/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { writeBuildContext } from './context.ts';
import { writeFixtureBundle } from './test-fixtures.ts';

/** The error a promise rejects with; fails the test if it resolves. */
function rejection(promise: Promise<unknown>): Promise<TiffinError> {
  return promise.then(() => assert.fail('expected a rejection'), (e: unknown) => e as TiffinError);
}

const OPTIONS = { name: 'iris-service', version: '1' };

test('copies the bundle with readable modes and writes the Dockerfile and .dockerignore', async () => {
  const bundle = await writeFixtureBundle(await tempDir('bundle'));
  const out = join(await tempDir('ctx'), 'context');
  const files = await writeBuildContext(bundle.dir, out, OPTIONS);
  for (const f of ['.dockerignore', '.npmrc', 'Dockerfile', 'app/service.mjs', 'bundle.yaml', 'models/iris/1/model.yaml', 'package-lock.json', 'package.json', 'tiffin.yaml', 'vendor/tiffin-0.0.0.tgz']) {
    assert.ok(files.includes(f), f);
  }
  assert.deepEqual(files, [...files].sort());
  assert.equal((await stat(join(out, 'app/service.mjs'))).mode & 0o777, 0o644, 'a 0600 file becomes readable by the image user');
  assert.equal((await stat(join(out, 'models/iris/1'))).mode & 0o777, 0o755);
  assert.match(await readFile(join(out, 'Dockerfile'), 'utf8'), /^USER \d+/m);
});

test("keeps the bundle's own Dockerfile when no options are given, and needs one then", async () => {
  const bundle = await writeFixtureBundle(await tempDir('bundle'));
  const err = await rejection(writeBuildContext(bundle.dir, join(await tempDir('ctx'), 'c'), undefined));
  assert.ok(isTiffinError(err, 'BUILD_FAILED'));
  assert.match(err.message, /lacks Dockerfile/);
  await writeFile(join(bundle.dir, 'Dockerfile'), 'FROM scratch\n');
  const out = join(await tempDir('ctx'), 'c');
  await writeBuildContext(bundle.dir, out);
  assert.equal(await readFile(join(out, 'Dockerfile'), 'utf8'), 'FROM scratch\n');
});

test('creates an empty models/ for a bundle that pins no models', async () => {
  const bundle = await writeFixtureBundle(await tempDir('bundle'), { models: false });
  const out = join(await tempDir('ctx'), 'c');
  await writeBuildContext(bundle.dir, out, OPTIONS);
  assert.ok((await stat(join(out, 'models'))).isDirectory());
});

test('refuses a non-empty folder, an incomplete bundle, links, and bad options before copying', async () => {
  const bundle = await writeFixtureBundle(await tempDir('bundle'));
  const busy = await tempDir('busy');
  await writeFile(join(busy, 'x'), '');
  let err = await rejection(writeBuildContext(bundle.dir, busy, OPTIONS));
  assert.ok(isTiffinError(err, 'BUILD_FAILED'));
  assert.match(err.message, /not empty/);

  const empty = await tempDir('empty');
  await writeBuildContext(bundle.dir, empty, OPTIONS); // an existing empty folder is fine

  const bad = join(await tempDir('ctx'), 'c');
  err = await rejection(writeBuildContext(bundle.dir, bad, { ...OPTIONS, env: { A: 'x\ny' } }));
  assert.ok(isTiffinError(err, 'BUILD_FAILED'));
  await assert.rejects(stat(bad), 'nothing was copied');

  await symlink('/etc/passwd', join(bundle.dir, 'app', 'passwd'));
  err = await rejection(writeBuildContext(bundle.dir, join(await tempDir('ctx'), 'c'), OPTIONS));
  assert.match(err.message, /app\/passwd, which is not a plain file/);

  await rm(join(bundle.dir, 'package-lock.json'));
  await rm(join(bundle.dir, 'vendor'), { recursive: true });
  err = await rejection(writeBuildContext(bundle.dir, join(await tempDir('ctx'), 'c'), OPTIONS));
  assert.match(err.message, /lacks package-lock\.json, vendor\. Rebuild it with `tiffin build`/);
});
