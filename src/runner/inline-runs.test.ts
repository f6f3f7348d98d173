import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../config/index.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { Model } from '../runtime/types.ts';
import { RunnerPool } from './runner-pool.ts';
import { saveCrashy, saveMlp, testStore, type TestStore } from '../testing/runner-fixtures.ts';

const WIDTH = 16;

function rows(n: number, seed = 1): Tensors {
  return { input: { dtype: 'float32', shape: [n, WIDTH], data: Float32Array.from({ length: n * WIDTH }, (_, i) => Math.sin(i + seed)) } };
}

/** A loopback HTTP server answering each POST with the runner's output for one row: a real event loop that waits
 * for sockets between requests, as a served model's does. */
async function serveOverHttp(runner: RunnerPool): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume().on('end', () => {
      runner.run(rows(1)).then(
        (out) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(Array.from(out.output!.data as Float32Array))),
        (err: Error) => res.writeHead(500).end(err.message),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const byReason = (runner: RunnerPool) => ({ ...runner.stats().methods.run!.batches.byReason });

describe('inline runs of cheap models', () => {
  let store: TestStore;
  let local: Model;

  before(async () => {
    store = await testStore('inline');
    await saveMlp(store, 'small:1', [WIDTH, 32, 3]);
    // ~8.6 M multiply-adds a row: milliseconds, far above the inline bound.
    await saveMlp(store, 'big:1', [256, 2048, 2048, 16]);
    await saveCrashy(store, 'crashy:1', 0);
    local = await store.models.load('small:1');
  });

  after(async () => {
    await local?.dispose();
  });

  it('runs lone requests of a cheap model on the calling thread, with the same answers, and batches on replicas under load', async () => {
    const runner = await RunnerPool.start({ tag: 'small:1', storeRoot: store.root });
    const { server, url } = await serveOverHttp(runner);
    try {
      const expected = Array.from((await local.run(rows(1))).output!.data as Float32Array);
      // One client at a time: after the first calls teach the dispatcher the model's cost, calls run inline.
      for (let i = 0; i < 300; i++) {
        const res = await fetch(url, { method: 'POST', body: '{}' });
        assert.equal(res.status, 200);
        const got = (await res.json()) as number[];
        got.forEach((v, j) => assert.ok(Math.abs(v - expected[j]!) < 1e-5, `output ${j}: ${v} against ${expected[j]}`));
      }
      const low = byReason(runner);
      assert.ok(low.inline > 200, `most lone requests ran inline: ${JSON.stringify(low)}`);

      // 64 callers in a closed loop: requests overlap, so they go to the replicas and batch there. (Event-loop
      // delay under saturation, with inline runs on as by default, is event-loop.test.ts's case.)
      const deadline = performance.now() + 1500;
      await Promise.all(Array.from({ length: 64 }, async () => {
        while (performance.now() < deadline) await runner.run(rows(1));
      }));
      const high = byReason(runner);
      const inline = high.inline - low.inline;
      const replica = high.idle + high.full + high.deadline - (low.idle + low.full + low.deadline);
      const stats = runner.stats().methods.run!;
      assert.ok(replica > 0 && inline < replica / 20, `under load batches went to replicas: ${inline} inline, ${replica} on replicas`);
      assert.ok(stats.batchSize.sum / stats.batchSize.count > 2, 'requests were batched');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await runner.close();
    }
  });

  it('keeps every call on the replicas when turned off, for costly models, and for custom code', async () => {
    const wide = { input: { dtype: 'float32' as const, shape: [1, 256], data: new Float32Array(256).fill(0.1) } };
    const cases: [string, RunnerPool, string, (runner: RunnerPool, i: number) => Promise<unknown>][] = [
      ['inline: false', await RunnerPool.start({ tag: 'small:1', storeRoot: store.root, inline: false }), 'run', (r) => r.run(rows(1))],
      ['maxRunMs: 0', await RunnerPool.start({ tag: 'small:1', storeRoot: store.root, inline: { maxRunMs: 0 } }), 'run', (r) => r.run(rows(1))],
      ['a costly model', await RunnerPool.start({ tag: 'big:1', storeRoot: store.root, replicas: 1 }), 'run', (r) => r.run(wide)],
      ['custom code', await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root }), 'double', (r, i) => r.call('double', [i])],
    ];
    try {
      for (const [what, runner, method, call] of cases) {
        // One call at a time, as a sequential client sends them: what would run inline if anything did.
        for (let i = 0; i < 40; i++) await call(runner, i);
        const reasons = runner.stats().methods[method]!.batches.byReason;
        assert.equal(reasons.inline, 0, `${what}: ${JSON.stringify(reasons)}`);
      }
    } finally {
      await Promise.all(cases.map(([, r]) => r.close()));
    }
  });

  it('is set from tiffin.yaml or TIFFIN_INLINE_MAX_RUN_MS, and refuses a bound that would stall the loop', () => {
    assert.equal(loadConfig({ cwd: store.root, env: {} }).runner.inlineMaxRunMs, undefined);
    assert.equal(loadConfig({ cwd: store.root, env: { TIFFIN_INLINE_MAX_RUN_MS: '0' } }).runner.inlineMaxRunMs, 0);
    assert.throws(() => loadConfig({ cwd: store.root, env: { TIFFIN_INLINE_MAX_RUN_MS: '50' } }), /TIFFIN_INLINE_MAX_RUN_MS/);
  });
});
