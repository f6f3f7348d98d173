import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { Tensors } from '../runtime/tensor.ts';
import type { Model } from '../runtime/types.ts';
import { RunnerPool } from './runner-pool.ts';
import { saveMlp, testStore } from '../testing/runner-fixtures.ts';

const WIDTH = 256;
const BATCH = 128;
const LIMIT_MS = 20;

function input(rows: number): Tensors {
  return { input: { dtype: 'float32', shape: [rows, WIDTH], data: new Float32Array(rows * WIDTH).fill(0.01) } };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** Event-loop delay percentiles (ms) while `work` runs. */
async function measureDelay(work: () => Promise<void>): Promise<{ p50: number; p99: number; max: number; elu: number }> {
  const elu0 = performance.eventLoopUtilization();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  await work();
  delay.disable();
  return {
    p50: delay.percentile(50) / 1e6,
    p99: delay.percentile(99) / 1e6,
    max: delay.max / 1e6,
    elu: performance.eventLoopUtilization(elu0).utilization,
  };
}

describe('inference off the event loop', () => {
  let runner: RunnerPool;
  let local: Model;
  let server: Server;
  let healthUrl: string;

  before(async () => {
    const store = await testStore('event-loop');
    // ~8.6 M multiply-adds per row: a full batch of 128 rows takes tens of milliseconds on one thread,
    // so running it on the event loop would break the 20 ms bound by itself.
    await saveMlp(store, 'big:1', [WIDTH, 2048, 2048, 2048, 16]);
    runner = await RunnerPool.start({ tag: 'big:1', storeRoot: store.root, batching: { maxBatchSize: BATCH } });
    local = await store.models.load('big:1', { intraOpThreads: 1, interOpThreads: 1 });
    server = createServer((req, res) => {
      res.writeHead(req.url === '/healthz' ? 200 : 404, { 'content-type': 'text/plain' }).end(runner.health().status);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    healthUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
  });

  after(async () => {
    await runner?.close();
    await local?.dispose();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('keeps event-loop delay p99 under 20 ms and health checks answering while every replica is saturated', async (t) => {
    await Promise.all(Array.from({ length: 8 }, () => runner.run(input(BATCH / 4)))); // warm up the sessions
    await local.run(input(BATCH));

    // Control: the same kind of work on the event loop itself blows the bound, so the test can tell. Four batches
    // a run: one batch took only 14-16 ms on a fast day, too close to the bound to tell anything.
    const inLoop = await measureDelay(async () => {
      const end = performance.now() + 1000;
      while (performance.now() < end) {
        await local.run(input(4 * BATCH));
        await new Promise((r) => setImmediate(r));
      }
    });
    t.diagnostic(`in-process on the event loop: delay p50 ${inLoop.p50.toFixed(1)} ms, p99 ${inLoop.p99.toFixed(1)} ms`);
    assert.ok(inLoop.p99 > LIMIT_MS, `the control should block the loop (p99 ${inLoop.p99.toFixed(1)} ms)`);

    // The test files run two at a time on small CI machines, so another file's work can take this
    // process's CPU for a while; a run of three attempts separates that from the loop being blocked.
    const attempts: string[] = [];
    let passed = false;
    for (let attempt = 1; attempt <= 3 && !passed; attempt++) {
      const before = runner.stats().methods.run!;
      let answered = 0;
      const health: number[] = [];
      const started = performance.now();
      const deadline = started + 2500;
      const result = await measureDelay(async () => {
        // 64 clients in closed loop: always more work queued than the replicas can run.
        const clients = Array.from({ length: 64 }, async (_, i) => {
          while (performance.now() < deadline) {
            await runner.run(input(1 + (i % 4)));
            answered++;
          }
        });
        const prober = (async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            const res = await fetch(healthUrl);
            assert.equal(res.status, 200);
            await res.text();
            health.push(performance.now() - t0);
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        await Promise.all([...clients, prober]);
      });
      const wallMs = performance.now() - started;
      const after = runner.stats();
      const run = after.methods.run!;
      const batches = run.batchSize.count - before.batchSize.count;
      const meanBatch = (run.batchSize.sum - before.batchSize.sum) / batches;
      const busy = (run.runMs.sum - before.runMs.sum) / (wallMs * after.replicas.length);
      attempts.push(`attempt ${attempt}: ${after.replicas.length} replicas busy ${(busy * 100).toFixed(0)}%, ${answered} requests, mean batch ${meanBatch.toFixed(0)} rows; ` +
        `event loop busy ${(result.elu * 100).toFixed(0)}%, delay p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms; ` +
        `health p95 ${percentile(health, 95).toFixed(1)} ms, max ${Math.max(...health).toFixed(1)} ms over ${health.length} checks`);
      t.diagnostic(attempts.at(-1)!);
      assert.ok(busy > 0.5, `the replicas were saturated (busy ${(busy * 100).toFixed(0)}%)`);
      assert.ok(meanBatch > 8, 'requests were batched');
      assert.ok(health.length >= 40, `${health.length} health checks answered`);
      // Health checks must keep answering promptly; p95, since with ~100 checks p99 is the single worst one.
      passed = result.p99 < LIMIT_MS && percentile(health, 95) < 50;
    }
    assert.ok(passed, `event-loop delay p99 stayed above ${LIMIT_MS} ms:\n${attempts.join('\n')}`);
  });
});
