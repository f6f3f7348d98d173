import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTiffinError } from '../errors/index.ts';
import { ModelRepository } from './model-repository.ts';
import { FakeLoader, fakeStore, saveFake, xFeeds } from '../testing/repository-fixtures.ts';
import type { ModelRepositoryOptions, ServedModelConfig } from './index.ts';

async function setup(models: ServedModelConfig[], versions: Record<string, string[]>, options: Partial<ModelRepositoryOptions> = {}) {
  const store = await fakeStore();
  for (const [name, list] of Object.entries(versions)) for (const v of list) await saveFake(store, name, v);
  const loader = new FakeLoader();
  const repository = new ModelRepository({ store, loader: loader.load, models, pollIntervalMs: 0, ...options });
  return { store, loader, repository };
}

async function versionOf(repository: ModelRepository, name: string, selector = {}): Promise<string> {
  const lease = repository.acquire(name, selector);
  try {
    const out = await lease.handle.run(xFeeds());
    return (out.version!.data as string[])[0]!;
  } finally {
    lease.release();
  }
}

test('version policies: latest 1 by default, latest N, all, and specific versions', async () => {
  const { repository, loader } = await setup(
    [{ name: 'a' }, { name: 'b', versions: { latest: 2 } }, { name: 'c', versions: 'all' }, { name: 'd', versions: { specific: ['1', '3'] } }],
    { a: ['1', '2', '3'], b: ['1', '2', '3'], c: ['1', '2'], d: ['1', '2', '3'] },
  );
  await repository.start();
  assert.deepEqual(repository.readyVersions('a'), ['3']);
  assert.deepEqual(repository.readyVersions('b'), ['3', '2']);
  assert.deepEqual(repository.readyVersions('c'), ['2', '1']);
  assert.deepEqual(repository.readyVersions('d'), ['3', '1']);
  assert.equal(await versionOf(repository, 'b'), 'b:3');
  assert.equal(await versionOf(repository, 'b', { version: '2' }), 'b:2');
  assert.equal(repository.ready, true);
  assert.equal(loader.loaded.length, 1 + 2 + 2 + 2);
  await repository.close();
  assert.equal(loader.closed.length, loader.loaded.length);
});

test('resolve errors: unknown model and unknown version are MODEL_NOT_FOUND, a stored but unserved version MODEL_NOT_READY', async () => {
  const { repository } = await setup([{ name: 'a' }], { a: ['1', '2'] });
  await repository.start();
  assert.throws(() => repository.resolve('nope'), (e) => isTiffinError(e, 'MODEL_NOT_FOUND') && e.status === 404 && /served models: a/.test(e.message));
  assert.throws(() => repository.resolve('a', { version: '9' }), (e) => isTiffinError(e, 'MODEL_NOT_FOUND') && /unknown version "9"/.test(e.message));
  assert.throws(() => repository.resolve('a', { version: '1' }), (e) => isTiffinError(e, 'MODEL_NOT_READY') && e.status === 503);
  assert.throws(() => repository.resolve('a', { label: 'stable' }), (e) => isTiffinError(e, 'MODEL_NOT_FOUND') && /no label "stable"/.test(e.message));
  await repository.close();
});

test('hot reload: a new version is picked up, traffic moves once it is READY, and the old one drains before closing', async () => {
  const { store, repository, loader } = await setup([{ name: 'a' }], { a: ['1'] });
  await repository.start();
  assert.equal(await versionOf(repository, 'a'), 'a:1');

  // A call on version 1 is held in flight across the switch.
  let open!: () => void;
  loader.gate = new Promise<void>((r) => { open = r; });
  const lease = repository.acquire('a');
  const inFlight = lease.handle.run(xFeeds()).finally(() => lease.release());

  await saveFake(store, 'a', '2');
  loader.gate = undefined; // new calls run at once; the held one still waits on its gate
  await repository.refresh();
  assert.equal(await versionOf(repository, 'a'), 'a:2');
  const index = await repository.index();
  assert.deepEqual(index.map((r) => [r.version, r.state]), [['2', 'READY'], ['1', 'UNLOADING']]);
  assert.deepEqual(loader.closed, [], 'version 1 must not close while its call is in flight');

  open();
  const out = await inFlight;
  assert.deepEqual(out.version!.data, ['a:1'], 'the in-flight call finished on the old version');
  for (let i = 0; i < 50 && loader.closed.length === 0; i++) await sleep(10);
  assert.deepEqual(loader.closed, ['a:1']);
  assert.deepEqual((await repository.index()).map((r) => r.version), ['2']);
  await repository.close();
});

test('the poller notices new versions without a call to refresh()', async () => {
  const { store, repository } = await setup([{ name: 'a' }], { a: ['1'] }, { pollIntervalMs: 30 });
  await repository.start();
  await saveFake(store, 'a', '2');
  for (let i = 0; i < 100 && repository.readyVersions('a')[0] !== '2'; i++) await sleep(20);
  assert.deepEqual(repository.readyVersions('a'), ['2']);
  await repository.close();
});

test('a version that fails to load is reported per model; the model keeps its last good version and others are untouched', async () => {
  const { store, repository, loader } = await setup([{ name: 'a' }, { name: 'b' }], { a: ['1'], b: ['1'] });
  await repository.start();
  loader.failing.add('a:2');
  await saveFake(store, 'a', '2');
  await repository.refresh();
  const index = await repository.index();
  const a2 = index.find((r) => r.name === 'a' && r.version === '2');
  assert.equal(a2?.state, 'FAILED');
  assert.match(a2?.reason ?? '', /corrupt weights/);
  assert.equal(await versionOf(repository, 'a'), 'a:1', 'the old version keeps serving');
  assert.equal(await versionOf(repository, 'b'), 'b:1');
  // A failed version is not retried by the poller, only by an explicit load.
  await repository.refresh();
  assert.equal(loader.loaded.filter((t) => t === 'a:2').length, 0);
  loader.failing.delete('a:2');
  await repository.load('a');
  assert.equal(await versionOf(repository, 'a'), 'a:2');
  await repository.close();
});

test('a model whose only version fails is FAILED with its reason and the server is not ready (strict readiness)', async () => {
  const { repository, loader } = await setup([{ name: 'a' }, { name: 'broken' }], { a: ['1'], broken: ['1'] });
  loader.failing.add('broken:1');
  await repository.start();
  assert.equal(repository.ready, false);
  assert.equal(await versionOf(repository, 'a'), 'a:1');
  assert.throws(() => repository.resolve('broken'), (e) => isTiffinError(e, 'MODEL_NOT_READY') && /corrupt weights/.test(e.message));
  await assert.rejects(repository.load('broken'), (e) => isTiffinError(e, 'MODEL_LOAD_FAILED') && /corrupt weights/.test(e.message));
  await repository.close();

  const lenient = await setup([{ name: 'broken' }], { broken: ['1'] }, { strictReadiness: false });
  lenient.loader.failing.add('broken:1');
  await lenient.repository.start();
  assert.equal(lenient.repository.ready, true);
  await lenient.repository.close();
});

test('explicit unload drains and closes every version, keeps the model listed, and load brings it back', async () => {
  const { repository, loader } = await setup([{ name: 'a', versions: 'all' }], { a: ['1', '2'] });
  await repository.start();
  await repository.unload('a');
  assert.deepEqual(loader.closed.sort(), ['a:1', 'a:2']);
  assert.deepEqual((await repository.index()).map((r) => [r.version, r.state, r.reason]), [['2', 'UNAVAILABLE', 'unloaded'], ['1', 'UNAVAILABLE', 'unloaded']]);
  assert.throws(() => repository.acquire('a'), (e) => isTiffinError(e, 'MODEL_NOT_READY') && /unloaded/.test(e.message));
  assert.equal(repository.ready, false, 'a configured model unloaded by hand makes the server unready: inference for it answers 503');
  await repository.refresh();
  assert.equal(repository.readyVersions('a').length, 0, 'the poller does not reload an unloaded model');
  await repository.load('a');
  assert.deepEqual(repository.readyVersions('a'), ['2', '1']);
  assert.equal(repository.ready, true, 'ready again once it is loaded');
  await repository.close();
});

test('load adds a stored model that was not configured; unknown names are MODEL_NOT_FOUND', async () => {
  const { repository } = await setup([], { extra: ['1'] });
  await repository.start();
  assert.deepEqual(await repository.index({ all: true }), [{ name: 'extra', state: 'UNAVAILABLE', reason: 'not loaded' }]);
  await repository.load('extra');
  assert.equal(await versionOf(repository, 'extra'), 'extra:1');
  await assert.rejects(repository.load('ghost'), (e) => isTiffinError(e, 'MODEL_NOT_FOUND'));
  await assert.rejects(repository.unload('ghost'), (e) => isTiffinError(e, 'MODEL_NOT_FOUND'));
  await repository.close();
});

test('labels point at versions, keep them served under latest:1, move only to a READY version, and can be removed', async () => {
  const { store, repository, loader } = await setup([{ name: 'a', labels: { stable: '1' } }], { a: ['1', '2'] });
  await repository.start();
  assert.deepEqual(repository.readyVersions('a'), ['2', '1'], 'the labelled version is served besides the latest');
  assert.equal(await versionOf(repository, 'a', { label: 'stable' }), 'a:1');
  assert.equal(await versionOf(repository, 'a', { version: 'stable' }), 'a:1', 'a label also works where a version is expected');
  assert.equal(await versionOf(repository, 'a'), 'a:2');

  await repository.setLabel('a', 'canary', '2');
  await repository.setLabel('a', 'stable', '2');
  assert.deepEqual(repository.labels('a'), { stable: '2', canary: '2' });
  for (let i = 0; i < 50 && !loader.closed.includes('a:1'); i++) await sleep(10);
  assert.deepEqual(loader.closed, ['a:1'], 'version 1 is retired once no label holds it');

  loader.failing.add('a:3');
  await saveFake(store, 'a', '3');
  await assert.rejects(repository.setLabel('a', 'stable', '3'), (e) => isTiffinError(e, 'MODEL_LOAD_FAILED'));
  assert.equal(repository.labels('a').stable, '2', 'a failed move leaves the label where it was');
  await assert.rejects(repository.setLabel('a', 'stable', '42'), (e) => isTiffinError(e, 'MODEL_NOT_FOUND'));

  await repository.deleteLabel('a', 'canary');
  assert.deepEqual(repository.labels('a'), { stable: '2' });
  await repository.close();
});

test('a routed handle follows the default version across reloads; a pinned one stays on its version', async () => {
  const { store, repository } = await setup([{ name: 'a' }], { a: ['1'] });
  await repository.start();
  const routed = repository.handle('a');
  const pinned = repository.handle('a', { version: '1' });
  await repository.pin('a', '1');
  assert.equal(routed.tag, 'a:1');
  await saveFake(store, 'a', '2');
  await repository.refresh();
  assert.equal(routed.tag, 'a:2');
  assert.deepEqual((await routed.run(xFeeds())).version!.data, ['a:2']);
  assert.deepEqual((await pinned.run(xFeeds())).version!.data, ['a:1']);
  assert.deepEqual(routed.inputs.map((s) => s.name), ['x']);
  await repository.close();
});

test('a model with nothing in the store is reported, and serves once a version is saved', async () => {
  const { store, repository } = await setup([{ name: 'later' }], {});
  await repository.start();
  const [row] = await repository.index();
  assert.equal(row?.state, 'UNAVAILABLE');
  assert.match(row?.reason ?? '', /no versions of later/);
  assert.throws(() => repository.acquire('later'), (e) => isTiffinError(e, 'MODEL_NOT_READY'));
  await saveFake(store, 'later', '1');
  await repository.refresh();
  assert.equal(await versionOf(repository, 'later'), 'later:1');
  await repository.close();
});

test('configuration errors are caught up front', async () => {
  const store = await fakeStore();
  const loader = new FakeLoader();
  assert.throws(() => new ModelRepository({ store, loader: loader.load, models: [{ name: 'a' }, { name: 'a' }] }), /listed twice/);
  assert.throws(() => new ModelRepository({ store, loader: loader.load, models: [{ name: 'a', versions: { latest: 0 } }] }), /latest must be an integer >= 1/);
  assert.throws(() => new ModelRepository({ store, loader: loader.load, models: [{ name: 'Bad Name' }] }), /invalid model name/);
});
