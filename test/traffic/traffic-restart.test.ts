// Route state across a real restart: a second server started on the same home (the same store, so the same
// traffic/routes.json beside it) resumes a running rollout plan at the step it had reached and keeps a bandit's
// posteriors; routes.json is replaced whole (no temporary files left beside it).
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Models } from '../../src/models/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { defaultTrafficDir } from '../../src/serving/traffic-serving.ts';
import { ModelStore } from '../../src/store/index.ts';
import { saveOnnx } from '../../src/testing/protocol-serving.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], data: [1] }] });

async function start(models: Models): Promise<ModelServer> {
  const server = await serveModels({
    models: [{ name: 'm', versions: { specific: ['1'] } }, { name: 'b', versions: { specific: ['1'] } }],
    store: models.store, inProcess: true, pollIntervalMs: 0, grpc: false,
    http: { port: 0, logLevel: 'silent', docs: false },
    // The default state folder: traffic/ beside the store, as `tiffin serve` uses it.
    traffic: {},
  });
  await server.ready;
  return server;
}

async function manage(server: ModelServer, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.url}/v2/traffic${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const json = await res.json();
  assert.ok(res.ok, JSON.stringify(json));
  return json;
}

async function infer(server: ModelServer, model: string): Promise<{ variant: string; id: string }> {
  const res = await fetch(`${server.url}/v2/models/${model}/infer`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } });
  assert.equal(res.status, 200);
  await res.arrayBuffer();
  return { variant: res.headers.get('x-tiffin-variant')!, id: res.headers.get('x-request-id')! };
}

test('a restart resumes a running rollout at its step and keeps the bandit posteriors', async () => {
  // A home as $TIFFIN_HOME lays it out: models/ (the store) and traffic/ beside it.
  const home = await tempDir('traffic-home');
  const models = new Models(new ModelStore(join(home, 'models')));
  for (const name of ['m', 'b']) for (const v of [1, 2]) await saveOnnx(models, `${name}:${v}`, linearRegression({ weights: [[v]], bias: [0] }));
  let server = await start(models);
  try {
    // A bandit on b, rewarded for variant 2.
    await manage(server, 'PUT', '/b', { variants: { '1': 1, '2': 1 }, strategy: 'bandit' });
    for (let i = 0; i < 60; i++) {
      const { variant, id } = await infer(server, 'b');
      const res = await fetch(`${server.url}/v2/models/b/feedback`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, reward: variant === '2' ? 1 : 0 }) });
      assert.equal(res.status, 200);
    }
    const arms = (await manage(server, 'GET', '/b')).bandit;
    assert.equal(arms.reduce((n: number, a: { pulls: number }) => n + a.pulls, 0), 60);

    // A rollout of m:2 that reaches its second step (of three).
    await manage(server, 'PUT', '/m', { variants: { '1': 100 } });
    await manage(server, 'POST', '/m/rollout', { canary: '2', steps: [10, 50, 100], stepIntervalMs: 2000, windowMs: 60_000, minRequests: 3, maxErrorRateIncrease: 0.5, maxP99IncreaseMs: 10_000 });
    const deadline = Date.now() + 15_000;
    let view = await manage(server, 'GET', '/m');
    while (view.rollout.step < 1 && Date.now() < deadline) {
      await infer(server, 'm');
      view = await manage(server, 'GET', '/m');
    }
    assert.equal(view.rollout.step, 1, JSON.stringify(view.rollout));
    assert.equal(view.rollout.state, 'running');
    assert.deepEqual(view.route.variants, { '1': 50, '2': 50 });
    // Stopped well inside step 2's interval of 2 s, so the plan cannot have moved on before the restart.
    await server.close();

    const dir = defaultTrafficDir(models.store);
    assert.equal(dir, join(home, 'traffic'));
    assert.deepEqual(await readdir(dir), ['routes.json'], 'written by rename: no temporary file left');
    const saved = JSON.parse(await readFile(join(dir, 'routes.json'), 'utf8'));
    assert.equal(saved.models.m.rollout.state, 'running');
    assert.equal(saved.models.m.rollout.step, 1);
    assert.deepEqual(saved.models.b.bandit.arms['2'].pulls, arms.find((a: { version: string }) => a.version === '2').pulls);

    // The second start on the same home.
    server = await start(models);
    const after = await manage(server, 'GET', '/m');
    assert.equal(after.rollout.state, 'running', JSON.stringify(after.rollout));
    assert.equal(after.rollout.step, 1);
    assert.match(after.rollout.reason, /resumed after a restart at step 2/);
    assert.deepEqual(after.route.variants, { '1': 50, '2': 50 });
    const variants = new Set<string>();
    for (let i = 0; i < 40; i++) variants.add((await infer(server, 'm')).variant);
    assert.deepEqual([...variants].sort(), ['1', '2'], 'both routed versions were loaded again at start');
    const b = await manage(server, 'GET', '/b');
    assert.deepEqual(b.route, { variants: { '1': 1, '2': 1 }, strategy: 'bandit' });
    assert.deepEqual(b.bandit, arms, 'the posteriors are those before the restart');
    // They keep steering traffic: variant 2 had the rewards.
    let twos = 0;
    for (let i = 0; i < 50; i++) if ((await infer(server, 'b')).variant === '2') twos++;
    assert.ok(twos > 35, `variant 2 served ${twos} of 50 after the restart`);

    // The resumed plan goes on to the end.
    const end = Date.now() + 15_000;
    let done = after;
    while (done.rollout.state === 'running' && Date.now() < end) {
      for (let i = 0; i < 10; i++) await infer(server, 'm');
      await sleep(50);
      done = await manage(server, 'GET', '/m');
    }
    assert.equal(done.rollout.state, 'complete', JSON.stringify(done.rollout));
    assert.deepEqual(done.route.variants, { '2': 100 });
  } finally {
    await server.close();
  }
});
