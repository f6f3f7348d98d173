// Real processes racing on one store: same tag, different versions, forced replaces, and a save killed half-way.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTiffinError } from '../errors/index.ts';
import { ModelStore } from './local-store.ts';
import type { ModelManifest } from './manifest.ts';
import { STAGING_DIR } from './staging.ts';
import { REPO_ROOT, SAVE_CHILD, randomFile, sampleSignatures, sha256, tempDir } from '../testing/store/helpers.ts';

type ChildResult = { ok: true; manifest: ModelManifest } | { ok: false; code: string; message: string };

interface Saver {
  child: ChildProcess;
  ready: Promise<unknown>;
  result: Promise<ChildResult>;
}

function startSaver(job: { root: string; name: string; version?: string; sourcePath: string; force?: boolean }, pauseMs = 0): Saver {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = fork(SAVE_CHILD, [JSON.stringify({ ...job, pauseMs })], { cwd: REPO_ROOT, execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const messages: unknown[] = [];
  const waiters: ((m: unknown) => void)[] = [];
  child.on('message', (m) => {
    const w = waiters.shift();
    if (w) w(m);
    else messages.push(m);
  });
  const nextMessage = () => new Promise<unknown>((resolve, reject) => {
    const queued = messages.shift();
    if (queued !== undefined) return resolve(queued);
    waiters.push(resolve);
    child.once('exit', (code, signal) => reject(new Error(`child exited (${code ?? signal}) before answering`)));
  });
  const ready = nextMessage();
  const result = ready.then(() => nextMessage()) as Promise<ChildResult>;
  result.catch(() => undefined);
  return { child, ready, result };
}

async function race(savers: Saver[]): Promise<ChildResult[]> {
  await Promise.all(savers.map((s) => s.ready));
  for (const s of savers) s.child.send('go');
  return Promise.all(savers.map((s) => s.result));
}

async function sources(dir: string, n: number, size: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const p = join(dir, `src-${i}`, 'model.bin');
    await randomFile(p, size);
    out.push(p);
  }
  return out;
}

test('processes saving the same tag at once: exactly one wins, the others get MODEL_EXISTS, the store stays valid', async (t) => {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  const files = await sources(tmp, 4, 256 * 1024);
  // The pause makes every saver pass the "already exists?" check and finish staging before any rename:
  // the rename itself has to pick the winner.
  const results = await race(files.map((sourcePath) => startSaver({ root: store.root, name: 'race', version: 'v1', sourcePath }, 400)));
  const winners = results.filter((r) => r.ok);
  const losers = results.filter((r) => !r.ok);
  assert.equal(winners.length, 1, JSON.stringify(results));
  assert.deepEqual(losers.map((r) => (r.ok ? '' : r.code)), ['MODEL_EXISTS', 'MODEL_EXISTS', 'MODEL_EXISTS']);
  const winner = winners[0] as Extract<ChildResult, { ok: true }>;
  assert.deepEqual((await store.get('race:v1')).manifest, winner.manifest);
  assert.deepEqual(await store.verify(), [{ tag: 'race:v1', ok: true, problems: [] }]);
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), [], 'losers removed their staging folders');
});

test('processes saving different versions at once (given and generated): all land', async (t) => {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  const files = await sources(tmp, 4, 256 * 1024);
  const versions = ['a', 'b', undefined, undefined];
  const results = await race(files.map((sourcePath, i) => startSaver({ root: store.root, name: 'many', version: versions[i], sourcePath }, 200)));
  assert.ok(results.every((r) => r.ok), JSON.stringify(results));
  const saved = results.map((r) => (r.ok ? r.manifest.version : '')).sort();
  assert.equal(new Set(saved).size, 4);
  assert.deepEqual((await store.list({ name: 'many' })).map((m) => m.version).sort(), saved);
  const reports = await store.verify();
  assert.equal(reports.length, 4);
  assert.ok(reports.every((r) => r.ok));
});

test('processes force-saving the same tag at once: all succeed, the last one stays, nothing is mixed or left over', async (t) => {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  const files = await sources(tmp, 3, 128 * 1024);
  const results = await race(files.map((sourcePath) => startSaver({ root: store.root, name: 'forced', version: 'v1', sourcePath, force: true }, 200)));
  assert.ok(results.every((r) => r.ok), JSON.stringify(results));
  const { manifest } = await store.get('forced:v1');
  assert.ok(results.some((r) => r.ok && r.manifest.files[0]?.sha256 === manifest.files[0]?.sha256), 'the stored one is one of the saves');
  assert.deepEqual(await store.verify(), [{ tag: 'forced:v1', ok: true, problems: [] }]);
  assert.deepEqual(await readdir(join(store.root, STAGING_DIR)), []);
});

test('a save killed half-way is invisible, and the next write removes its leftovers but not those of live writers', async (t) => {
  const tmp = await tempDir(t);
  const store = new ModelStore(join(tmp, 'store'));
  const [big] = await sources(tmp, 1, 8 * 1024 * 1024);
  const saver = startSaver({ root: store.root, name: 'crash', version: 'v1', sourcePath: big! }, 60_000);
  await saver.ready;
  saver.child.send('go');

  // Wait until the child has fully staged the version (model.yaml written), then kill it before the rename.
  const stagingRoot = join(store.root, STAGING_DIR);
  const prefix = `${saver.child.pid}-`;
  let leftover: string | undefined;
  for (let i = 0; i < 1500 && !leftover; i++) {
    const names = existsSync(stagingRoot) ? await readdir(stagingRoot) : [];
    const mine = names.find((n) => n.startsWith(prefix));
    if (mine && existsSync(join(stagingRoot, mine, 'model.yaml'))) leftover = join(stagingRoot, mine);
    else await sleep(20);
  }
  assert.ok(leftover, 'the child staged its save');
  const exited = once(saver.child, 'exit');
  saver.child.kill('SIGKILL');
  await exited;

  assert.deepEqual(await store.list(), [], 'the half-saved model is not listed');
  await assert.rejects(store.get('crash:v1'), (err: unknown) => isTiffinError(err, 'MODEL_NOT_FOUND'));
  assert.deepEqual(await store.verify(), [], 'no version folder exists');
  assert.ok(existsSync(join(leftover, 'model.bin')), 'the leftover is still in staging');

  // A live concurrent writer's staging folder (a sleeping process stands in for it) must survive the cleanup.
  const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  t.after(() => {
    sleeper.kill('SIGKILL');
  });
  const live = join(stagingRoot, `${sleeper.pid}-0123456789ab`);
  await mkdir(live);

  const m = await store.write({ name: 'crash', version: 'v1', framework: 'custom', frameworkVersion: '1', sourcePath: big!, signatures: sampleSignatures() });
  assert.equal(m.files[0]?.size, 8 * 1024 * 1024);
  assert.ok(!existsSync(leftover), 'the dead process leftover was removed');
  assert.ok(existsSync(live), 'the live process staging folder was kept');
  assert.deepEqual(await store.verify(), [{ tag: 'crash:v1', ok: true, problems: [] }]);
  assert.equal(m.files[0]?.sha256.length, 64);
  assert.notEqual(sha256(''), m.files[0]?.sha256);
});
