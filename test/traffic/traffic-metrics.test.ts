// Traffic in /metrics and the access log, on a real server: routed calls counted by variant and routing, the
// shadow's agreement (exact-match rate over labels, mean and max |diff| over floats) and its drops as Prometheus
// series, and the variant on each routed request's access-log line.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { linearRegression, logisticRegression } from '../../src/onnx/index.ts';
import { inProcessLoader, type ModelLoader } from '../../src/repository/index.ts';
import { serveModels } from '../../src/serving/index.ts';
import { createLogger } from '../../src/telemetry/logs/logger.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';

/** The value of the series `name{labels}` in a Prometheus text exposition; undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const close = line.lastIndexOf('}');
    const found = Object.fromEntries([...line.slice(name.length + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(line.slice(close + 1).trim());
  }
  return undefined;
}

test('/metrics has routed calls by variant and the shadow agreement and drops; access-log lines carry the variant', async () => {
  const models = await tempModels();
  // m: linear, y = v * x (a shadow of 3 differs from 1 by 2 per float). c: two identical classifiers (labels agree).
  for (const v of [1, 3]) await saveOnnx(models, `m:${v}`, linearRegression({ weights: [[v]], bias: [0] }));
  const classifier = logisticRegression({ weights: [[1, -1], [-1, 1]], bias: [0, 0] });
  for (const v of [1, 2]) await saveOnnx(models, `c:${v}`, classifier);
  const base = inProcessLoader(models, { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] });
  // m:3 answers after 300 ms, so copies pile up and some are dropped (shadowMaxInFlight 2).
  const loader: ModelLoader = async (tag, context) => {
    const model = await base(tag, context);
    if (tag !== 'm:3') return model;
    return new Proxy(model, {
      get(target, key) {
        if (key === 'run') return async (...args: Parameters<typeof target.run>) => (await sleep(300), target.run(...args));
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const server = await serveModels({
    models: [{ name: 'm' }, { name: 'c' }], store: models.store, loader, pollIntervalMs: 0, grpc: false,
    http: { port: 0, docs: false, logger: createLogger({ service: 'traffic-metrics', destination }) },
    traffic: { stateDir: false, shadowMaxInFlight: 2 },
  });
  const put = async (model: string, body: unknown) => {
    const res = await fetch(`${server.url}/v2/traffic/${model}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.text());
  };
  const infer = async (model: string, data: number[], headers: Record<string, string> = {}) => {
    const res = await fetch(`${server.url}/v2/models/${model}/infer`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, data.length], data }] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  };
  try {
    await server.ready;
    await put('m', { variants: { '1': 100 }, shadow: { version: '3', rate: 1 } });
    await put('c', { variants: { '1': 100 }, shadow: { version: '2', rate: 1 } });
    // 12 m requests at once: 2 copies run, and most of the others are dropped (all 10, unless the machine is so
    // slow that a copy finished before the last requests arrived).
    await Promise.all(Array.from({ length: 12 }, () => infer('m', [1])));
    for (let i = 0; i < 10; i++) await infer('c', [i, 10 - i]);
    await infer('c', [1, 2], { 'x-tiffin-variant': '1' });
    // The slow copies finish.
    const view = async (model: string) => (await (await fetch(`${server.url}/v2/traffic/${model}`)).json()) as { shadow: { sent: number; dropped: number; compared: number; inFlight: number } };
    for (let i = 0; i < 100 && ((await view('m')).shadow.inFlight > 0 || (await view('c')).shadow.inFlight > 0); i++) await sleep(50);
    const stats = (await view('m')).shadow;
    assert.equal(stats.sent + stats.dropped, 12);
    assert.ok(stats.sent >= 2 && stats.dropped >= 4, JSON.stringify(stats));

    const text = await (await fetch(`${server.url}/metrics`)).text();
    const m = { model: 'm', shadow: '3' };
    const c = { model: 'c', shadow: '2' };
    assert.equal(sample(text, 'tiffin_traffic_requests_total', { model: 'm', variant: '1', routing: 'weighted', outcome: 'success' }), 12);
    assert.equal(sample(text, 'tiffin_traffic_requests_total', { model: 'c', variant: '1', routing: 'weighted', outcome: 'success' }), 10);
    assert.equal(sample(text, 'tiffin_traffic_requests_total', { model: 'c', variant: '1', routing: 'override', outcome: 'success' }), 1);
    assert.equal(sample(text, 'tiffin_traffic_shadow_requests_total', { ...m, result: 'sent' }), stats.sent);
    assert.equal(sample(text, 'tiffin_traffic_shadow_requests_total', { ...m, result: 'dropped' }), stats.dropped);
    assert.equal(sample(text, 'tiffin_traffic_shadow_requests_total', { ...m, result: 'compared' }), stats.sent);
    assert.equal(sample(text, 'tiffin_traffic_shadow_requests_total', { ...m, result: 'failed' }), 0);
    assert.equal(sample(text, 'tiffin_traffic_shadow_abs_diff_mean', m), 2);
    assert.equal(sample(text, 'tiffin_traffic_shadow_abs_diff_max', m), 2);
    assert.equal(sample(text, 'tiffin_traffic_shadow_exact_match_ratio', m), undefined, 'no labels compared for a float-only model');
    assert.equal(sample(text, 'tiffin_traffic_shadow_in_flight', m), 0);
    assert.equal(sample(text, 'tiffin_traffic_shadow_requests_total', { ...c, result: 'compared' }), 11);
    assert.equal(sample(text, 'tiffin_traffic_shadow_exact_match_ratio', c), 1);
    assert.equal(sample(text, 'tiffin_traffic_shadow_abs_diff_max', c), 0, 'identical probabilities');

    // Removing the shadow removes its series.
    const off = await fetch(`${server.url}/v2/traffic/m/shadow`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"version": null}' });
    assert.equal(off.status, 200);
    const after = await (await fetch(`${server.url}/metrics`)).text();
    assert.equal(sample(after, 'tiffin_traffic_shadow_requests_total', { ...m, result: 'sent' }), undefined);
    assert.equal(sample(after, 'tiffin_traffic_shadow_requests_total', { ...c, result: 'sent' }), 11);

    const access = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.path === '/v2/models/c/infer');
    assert.equal(access.length, 11);
    assert.ok(access.every((l) => l.variant === '1' && l.model === 'c'), JSON.stringify(access[0]));
  } finally {
    await server.close();
  }
});
