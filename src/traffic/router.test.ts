// Routes on their own: the weighted split's proportions, sticky keys under weight changes, the override header,
// validation, and the manager's history, rollback and atomic persistence.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { TrafficManager, type TrafficRepository } from './manager.ts';
import { parseRoute, routeToJson } from './route.ts';
import { CompiledRoute } from './router.ts';

function compiled(variants: Record<string, number>, sticky?: string): CompiledRoute {
  return new CompiledRoute('m', parseRoute('m', sticky ? { variants, sticky } : { variants }));
}

test('a 90/10 weighted split of 10,000 picks lands within 3 sigma', () => {
  const route = compiled({ '1': 90, '2': 10 });
  let canary = 0;
  for (let i = 0; i < 10_000; i++) if (route.pick({}).version === '2') canary++;
  const sigma = Math.sqrt(10_000 * 0.1 * 0.9);
  assert.ok(Math.abs(canary - 1000) < 3 * sigma, `canary got ${canary}`);
});

test('sticky keys: the same key keeps its variant, shares follow weights, and a 90/10 -> 80/20 change moves few keys', () => {
  const before = compiled({ '1': 90, '2': 10 }, 'x-user-id');
  const after = compiled({ '1': 80, '2': 20 }, 'x-user-id');
  const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
  let kept = 0;
  let canaryBefore = 0;
  let canaryAfter = 0;
  let movedBack = 0;
  for (const k of keys) {
    const a = before.pick({ 'x-user-id': k });
    assert.equal(a.routing, 'sticky');
    assert.equal(before.pick({ 'x-user-id': k }).version, a.version);
    const b = after.pick({ 'x-user-id': k });
    if (a.version === b.version) kept++;
    else if (b.version === '1') movedBack++;
    if (a.version === '2') canaryBefore++;
    if (b.version === '2') canaryAfter++;
  }
  const sigma = (p: number) => Math.sqrt(10_000 * p * (1 - p));
  assert.ok(Math.abs(canaryBefore - 1000) < 3 * sigma(0.1), `before: ${canaryBefore}`);
  assert.ok(Math.abs(canaryAfter - 2000) < 3 * sigma(0.2), `after: ${canaryAfter}`);
  assert.ok(kept / keys.length > 0.8, `kept ${kept}`);
  assert.equal(movedBack, 0, 'growing the canary only moves keys to the canary');
  // No key header: weighted random.
  assert.equal(before.pick({}).routing, 'weighted');
});

test('x-tiffin-variant pins any variant, even one at weight 0; an unknown one is TRAFFIC_VARIANT_UNKNOWN', () => {
  const route = compiled({ '1': 100, '2': 0 });
  for (let i = 0; i < 50; i++) assert.equal(route.pick({}).version, '1');
  assert.deepEqual({ ...route.pick({ 'x-tiffin-variant': '2' }) }, { version: '2', routing: 'override' });
  assert.throws(() => route.pick({ 'x-tiffin-variant': '9' }), (e) => isTiffinError(e, 'TRAFFIC_VARIANT_UNKNOWN'));
});

test('invalid routes are TRAFFIC_ROUTE_INVALID naming the problem', () => {
  for (const spec of [{ variants: {} }, { variants: { '1': 0 } }, { variants: { '1': -1 } }, { variants: { '1': 1 }, extra: 1 }, { variants: { '1': 1 }, shadow: { version: '2', rate: 2 } }]) {
    assert.throws(() => parseRoute('m', spec), (e) => isTiffinError(e, 'TRAFFIC_ROUTE_INVALID') && /traffic route of m/.test(e.message), JSON.stringify(spec));
  }
});

function fakeRepository(versions: string[]): TrafficRepository & { pins: string[] } {
  const pins: string[] = [];
  return {
    pins,
    has: (name) => name === 'm',
    pin: async (_n, v) => void pins.push(v),
    readyVersions: () => versions,
    resolve: () => ({ version: versions[0]! }),
    store: { list: async () => versions.map((version) => ({ version })) },
  };
}

test('the manager: set, promote, rollback walk the history; state is written atomically and read back', async () => {
  const dir = await tempDir('traffic-state');
  const statePath = join(dir, 'routes.json');
  const repo = fakeRepository(['1', '2', '3']);
  const manager = new TrafficManager({ repository: repo, statePath, routes: { m: { variants: { '1': 100 } } } });
  await manager.start();
  assert.deepEqual(manager.view('m').route, { variants: { '1': 100 } });
  await manager.set('m', { variants: { '1': 90, '2': 10 }, sticky: 'X-User-Id' }, 'canary');
  await manager.promote('m', '2');
  assert.deepEqual(manager.view('m').route, { variants: { '2': 100 }, sticky: 'x-user-id' });
  await assert.rejects(manager.set('m', { variants: { '7': 1 } }), (e) => isTiffinError(e, 'TRAFFIC_ROUTE_INVALID') && /no version 7/.test(e.message));
  await manager.rollback('m');
  assert.deepEqual(manager.view('m').route, { variants: { '1': 90, '2': 10 }, sticky: 'x-user-id' });
  assert.deepEqual(manager.view('m').log.map((c) => c.action), ['config', 'set', 'promote', 'rollback']);
  assert.ok(repo.pins.includes('2'));
  assert.deepEqual((await readdir(dir)).sort(), ['routes.json'], 'no temporary file left');
  const saved = JSON.parse(await readFile(statePath, 'utf8')) as { models: { m: { route: unknown } } };
  assert.deepEqual(saved.models.m.route, { variants: { '1': 90, '2': 10 }, sticky: 'x-user-id' });

  const again = new TrafficManager({ repository: fakeRepository(['1', '2', '3']), statePath, routes: { m: { variants: { '3': 100 } } } });
  await again.start();
  assert.deepEqual(again.view('m').route, { variants: { '1': 90, '2': 10 }, sticky: 'x-user-id' }, 'the persisted route wins over the configured one');
  await again.rollback('m');
  assert.deepEqual(again.view('m').route, { variants: { '1': 100 } });
  await assert.rejects(again.rollback('m'), (e) => isTiffinError(e, 'TRAFFIC_ROUTE_NOT_FOUND'));
});

test('shadow tickets: sampled, bounded in flight (dropped beyond), failures counted, agreement recorded', async () => {
  const manager = new TrafficManager({ repository: fakeRepository(['1', '2']), shadowMaxInFlight: 2 });
  await manager.start();
  await manager.set('m', { variants: { '1': 100 }, shadow: { version: '2', rate: 1 } });
  const live = { y: { dtype: 'float32' as const, shape: [2], data: new Float32Array([1, 2]) }, k: { dtype: 'int64' as const, shape: [1], data: new BigInt64Array([3n]) } };
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const t1 = manager.planShadow('m', '1')!;
  const t2 = manager.planShadow('m', '1')!;
  assert.equal(manager.planShadow('m', '1'), undefined, 'a third is dropped');
  assert.equal(manager.planShadow('m', '2'), undefined, 'a request served by the shadow is not copied');
  t1.run(live, async () => {
    await gate;
    return { y: { dtype: 'float32', shape: [2], data: new Float32Array([1.5, 2]) }, k: { dtype: 'int64', shape: [1], data: new BigInt64Array([3n]) } };
  });
  t2.run(live, async () => {
    throw new Error('boom');
  });
  release();
  await new Promise((r) => setTimeout(r, 10));
  const stats = manager.view('m').shadow!;
  assert.equal(stats.sent, 2);
  assert.equal(stats.dropped, 1);
  assert.equal(stats.failed, 1);
  assert.equal(stats.compared, 1);
  assert.equal(stats.exactMatchRate, 1);
  assert.equal(stats.maxAbsDiff, 0.5);
  assert.equal(stats.meanAbsDiff, 0.25);
  assert.equal(stats.inFlight, 0);
  assert.equal(manager.planShadow('m', '1', () => 0.99)?.cancel(), undefined);
});

test('a sticky field: the API input value keys the variant before the header; routes.json keeps the declaration', () => {
  const route = new CompiledRoute('m', parseRoute('m', { variants: { '1': 50, '2': 50 }, sticky: { header: 'X-User-Id', field: 'user.id' } }));
  assert.deepEqual(routeToJson(route.route).sticky, { header: 'x-user-id', field: 'user.id' });
  const byField = new Map<number, string>();
  for (let i = 0; i < 500; i++) {
    const pick = route.pick({ 'x-user-id': 'same-header' }, Math.random, { user: { id: i } });
    assert.equal(pick.routing, 'sticky');
    byField.set(i, pick.version);
    assert.equal(route.pick({}, Math.random, { user: { id: i } }).version, pick.version, 'the same value, the same variant');
  }
  const twos = [...byField.values()].filter((v) => v === '2').length;
  assert.ok(Math.abs(twos - 250) < 3 * Math.sqrt(500 * 0.25), `${twos} of 500 on 2`);
  // Without the field (or with a value that is no key), the header; without either, the weighted split.
  const header = route.pick({ 'x-user-id': 'same-header' }, Math.random, { user: {} });
  assert.equal(header.routing, 'sticky');
  assert.equal(route.pick({}, Math.random, { user: { id: { nested: true } } }).routing, 'weighted');
  assert.equal(routeToJson(parseRoute('m', { variants: { '1': 1 }, sticky: 'x-a' })).sticky, 'x-a', 'a header alone stays a string');
  for (const sticky of [{}, { field: 'a..b' }, { header: 'bad header' }]) {
    assert.throws(() => parseRoute('m', { variants: { '1': 1 }, sticky }), (err: unknown) => isTiffinError(err, 'TRAFFIC_ROUTE_INVALID'));
  }
});
