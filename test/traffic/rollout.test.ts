// Rollout plans on a real server: a healthy canary climbs its steps to 100%; a failing one is rolled back to the
// route the plan started from, with the reason in the change log.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TiffinError } from '../../src/errors/index.ts';
import { linearRegression } from '../../src/onnx/index.ts';
import { inProcessLoader, type ModelLoader } from '../../src/repository/index.ts';
import { serveModels } from '../../src/serving/index.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';

const BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], data: [1] }] });

test('a rollout plan: a healthy canary reaches 100%, a failing canary is rolled back automatically', async () => {
  const models = await tempModels();
  for (const v of [1, 2, 3]) await saveOnnx(models, `m:${v}`, linearRegression({ weights: [[v]], bias: [0] }));
  const base = inProcessLoader(models, { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] });
  // Version 2 is broken: every call fails.
  const loader: ModelLoader = async (tag, context) => {
    const model = await base(tag, context);
    if (!tag.endsWith(':2')) return model;
    return new Proxy(model, {
      get(target, key) {
        if (key === 'run') return async () => { throw new TiffinError('INFERENCE_FAILED', 'broken version'); };
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  const server = await serveModels({
    models: [{ name: 'm', versions: { specific: ['1'] } }], store: models.store, loader, pollIntervalMs: 0, grpc: false,
    http: { port: 0, logLevel: 'silent', docs: false }, traffic: { stateDir: false },
  });
  const manage = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.url}/v2/traffic${path}`, { method, headers: { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, body: (await res.json()) as any };
  };
  /** Sends requests, 4 at a time, until `done()` or 10 s. */
  const driveUntil = async (done: () => Promise<boolean>) => {
    let stop = false;
    const workers = Array.from({ length: 4 }, async () => {
      while (!stop) await (await fetch(`${server.url}/v2/models/m/infer`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' } })).arrayBuffer();
    });
    const deadline = Date.now() + 10_000;
    while (!(await done()) && Date.now() < deadline) await sleep(50);
    stop = true;
    await Promise.all(workers);
  };
  try {
    await server.ready;
    assert.equal((await manage('PUT', '/m', { variants: { '1': 100 } })).status, 200);
    const plan = { steps: [25, 100], stepIntervalMs: 300, windowMs: 5000, minRequests: 10, maxErrorRateIncrease: 0.05, maxP99IncreaseMs: 1000 };

    const started = await manage('POST', '/m/rollout', { canary: '3', ...plan });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.deepEqual(started.body.route.variants, { '1': 75, '3': 25 });
    assert.equal(started.body.rollout.state, 'running');
    await driveUntil(async () => (await manage('GET', '/m')).body.rollout.state !== 'running');
    const healthy = (await manage('GET', '/m')).body;
    assert.equal(healthy.rollout.state, 'complete', JSON.stringify(healthy.rollout));
    assert.deepEqual(healthy.route, { variants: { '3': 100 } });
    assert.deepEqual(healthy.log.map((c: { action: string }) => c.action).slice(-3), ['rollout', 'rollout', 'rollout']);

    assert.equal((await manage('PUT', '/m', { variants: { '1': 100 } })).status, 200);
    assert.equal((await manage('POST', '/m/rollout', { canary: '2', ...plan, steps: [50, 100] })).status, 200);
    await driveUntil(async () => (await manage('GET', '/m')).body.rollout.state !== 'running');
    const failed = (await manage('GET', '/m')).body;
    assert.equal(failed.rollout.state, 'rolled-back', JSON.stringify(failed.rollout));
    assert.match(failed.rollout.reason, /automatic rollback: canary 2 error rate 100\.0% vs baseline 1 0\.0%/);
    assert.deepEqual(failed.route, { variants: { '1': 100 } }, 'back to the route before the plan');
    assert.equal(failed.log.at(-1).action, 'rollback');
    assert.match(failed.log.at(-1).reason, /error rate/);

    // A manual change cancels a running plan.
    assert.equal((await manage('POST', '/m/rollout', { canary: '3', ...plan, stepIntervalMs: 60_000 })).status, 200);
    assert.equal((await manage('POST', '/m/promote', { version: '1' })).body.rollout.state, 'cancelled');
    assert.equal((await manage('POST', '/m/rollout', { canary: '1', baseline: '1' })).body.code, 'TRAFFIC_ROUTE_INVALID');
  } finally {
    await server.close();
  }
});
