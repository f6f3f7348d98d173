// Runner replicas killed at random under load, from the outside: a real server on a loopback port serving an ONNX
// MLP through two replica worker threads, eight closed-loop V2 REST clients, and a replica killed every few hundred
// ms (Replica.kill(): the thread ends as a crashed one does, through the native gate when a run is under way).
// Every request gets an answer, 200 or a JSON 5xx naming the failure, none hangs, the pool replaces what died
// without a server restart, and /metrics counts the replacements.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Models } from '../../src/models/index.ts';
import { mlp } from '../../src/onnx/index.ts';
import type { RunnerPool } from '../../src/runner/index.ts';
import { serveModels } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const LAYERS = [64, 512, 512, 8];
const CLIENTS = 8;
const LOAD_MS = 4_000;
const KILL_EVERY_MS = 400;
/** A request still unanswered after this has hung: a crash must fail it fast, not leave it waiting. */
const HANG_MS = 10_000;

const BODY = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, LAYERS[0]], data: Array.from({ length: LAYERS[0]! }, (_, i) => Math.sin(i)) }] });

interface Answer {
  status: number | 'timeout' | 'network';
  error?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function restartsMetric(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = /^tiffin_runner_restarts_total\{model="mlp",version="1"\} (\d+)$/m.exec(text);
  assert.ok(m, 'tiffin_runner_restarts_total is exported for mlp:1');
  return Number(m[1]);
}

test('replicas killed under load: every request answered (200 or a JSON 5xx), none hangs, the pool recovers, restarts are counted', { timeout: 120_000 }, async (t) => {
  const models = new Models(new ModelStore(await tempDir('kills-store')));
  const file = join(await tempDir('kills-src'), 'mlp.onnx');
  await writeFile(file, mlp({ layers: LAYERS, seed: 5 }));
  await models.save('mlp:1', file, { framework: 'onnx', batchable: true });
  const server = await serveModels({
    models: [{ name: 'mlp' }],
    store: models.store,
    runner: { replicas: 2 },
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: false,
  });
  t.after(() => server.close());
  await server.ready;
  const runner = server.repository.resolve('mlp').handle as unknown as RunnerPool;
  assert.equal(runner.replicas.length, 2);
  assert.equal(await restartsMetric(server.url), 0);

  const infer = async (): Promise<Answer> => {
    try {
      const res = await fetch(`${server.url}/v2/models/mlp/infer`, { method: 'POST', body: BODY, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(HANG_MS) });
      const text = await res.text();
      if (res.status === 200) return { status: 200 };
      let error: string | undefined;
      try {
        error = (JSON.parse(text) as { error?: unknown }).error as string | undefined;
      } catch {
        error = `not JSON: ${text.slice(0, 200)}`;
      }
      return { status: res.status, ...(error !== undefined ? { error } : {}) };
    } catch (err) {
      return { status: (err as Error).name === 'TimeoutError' ? 'timeout' : 'network', error: String((err as { cause?: unknown }).cause ?? err) };
    }
  };

  let sent = 0;
  const answers: Answer[] = [];
  const end = performance.now() + LOAD_MS;
  const clients = Array.from({ length: CLIENTS }, async () => {
    while (performance.now() < end) {
      sent++;
      answers.push(await infer());
    }
  });

  // Kill a replica every KILL_EVERY_MS, alternating positions, only one that is up (a slot still restarting has
  // nothing to kill).
  let kills = 0;
  await sleep(300);
  for (let i = 0; performance.now() < end - KILL_EVERY_MS; i++) {
    const victim = runner.replicas[i % 2];
    if (victim?.state === 'ready') {
      victim.kill();
      kills++;
    }
    await sleep(KILL_EVERY_MS);
  }
  await Promise.all(clients);

  const by = new Map<string, number>();
  for (const a of answers) by.set(String(a.status), (by.get(String(a.status)) ?? 0) + 1);
  const summary = `${sent} sent, ${kills} kills, answers ${JSON.stringify(Object.fromEntries(by))}; a failure: ${answers.find((a) => a.status !== 200)?.error}`;
  t.diagnostic(summary);
  assert.ok(kills >= 3, summary); // the kill loop is timed: a loaded CI machine fits fewer in
  assert.equal(answers.length, sent, `every request got an outcome: ${summary}`);
  assert.equal(by.get('timeout') ?? 0, 0, `no request hung: ${summary}`);
  assert.equal(by.get('network') ?? 0, 0, `no connection failed: ${summary}`);
  for (const a of answers) {
    if (a.status === 200) continue;
    // A failed request says why, in the V2 error shape: its replica died, or none was running at that moment.
    assert.ok(a.status === 500 || a.status === 503, `${a.status}: ${a.error}`);
    assert.match(a.error ?? '', /died|no replica|not ready|retry/i, `${a.status}: ${a.error}`);
  }
  assert.ok((by.get('200') ?? 0) > sent / 2, `most requests were served during the kills: ${summary}`);

  // The pool replaces every replica it lost, the server untouched, and then serves every request.
  const recoverBy = Date.now() + 30_000;
  while (runner.status !== 'ready') {
    assert.ok(Date.now() < recoverBy, `the pool did not recover: ${JSON.stringify(runner.stats().replicas)}`);
    await sleep(50);
  }
  const after = await Promise.all(Array.from({ length: 40 }, () => infer()));
  assert.deepEqual(after.filter((a) => a.status !== 200), [], 'after the kills every request is served');
  assert.equal(runner.stats().restarts, kills, 'one replacement per kill');
  assert.equal(await restartsMetric(server.url), kills, '/metrics counts every replacement');
});
