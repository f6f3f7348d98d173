import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { isTiffinError, type TiffinError } from '../errors/index.ts';
import { RunnerPool } from './runner-pool.ts';
import { saveCrashy, saveMlp, testStore, type TestStore } from '../testing/runner-fixtures.ts';

interface Outcome {
  ok: boolean;
  error?: TiffinError;
  ms: number;
}

/** Keeps `concurrency` calls going until `stop()`; records how each ended and how long it took. */
function load(call: () => Promise<unknown>, concurrency: number): { outcomes: Outcome[]; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const t0 = performance.now();
      try {
        await call();
        outcomes.push({ ok: true, ms: performance.now() - t0 });
      } catch (err) {
        outcomes.push({ ok: false, error: err as TiffinError, ms: performance.now() - t0 });
      }
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replica failures', () => {
  let store: TestStore;

  before(async () => {
    store = await testStore('crash');
    await saveCrashy(store, 'crashy:1', 3);
    await saveMlp(store, 'mlp:1', [16, 256, 256, 4]);
  });

  it('a replica killed under load: its calls fail promptly with RUNNER_FAILED, the others keep being served, a replacement serves', async () => {
    const runner = await RunnerPool.start({ tag: 'mlp:1', storeRoot: store.root, replicas: 2 });
    const exits: unknown[] = [];
    runner.on('replica-exit', (e) => exits.push(e));
    try {
      const traffic = load(() => runner.run({ input: { dtype: 'float32', shape: [4, 16], data: new Float32Array(64).fill(0.1) } }), 16);
      await sleep(300);
      const victim = runner.replicas[0]!;
      const held = victim.inFlight;
      const killedAt = performance.now();
      // Mid-run, as the load guarantees: the thread ends as soon as its native run returns (native-gate.ts).
      victim.kill();
      await once(victim.worker, 'exit');
      await sleep(500);
      await traffic.stop();
      const failed = traffic.outcomes.filter((o) => !o.ok);
      assert.ok(held > 0, 'the killed replica held calls');
      assert.ok(failed.length > 0 && failed.length <= held * 32, `${failed.length} failed`);
      for (const f of failed) {
        assert.ok(isTiffinError(f.error, 'RUNNER_FAILED'), String(f.error));
        assert.match(f.error!.message, /replica 0 of mlp:1 died: its thread exited with code 1; the request was not completed/);
      }
      assert.ok(Math.max(...failed.map((f) => f.ms)) < 1000, 'no call hung');
      assert.ok(traffic.outcomes.filter((o) => o.ok).length > 50, 'the other replica kept serving');
      assert.ok(performance.now() - killedAt < 5000);
      assert.equal(exits.length, 1);
      // The replacement comes up and serves.
      while (runner.status !== 'ready') await once(runner, 'replica-ready');
      assert.equal(runner.stats().restarts, 1);
      assert.notEqual(runner.replicas[0], victim);
      // Full batches (32 rows each), so the dispatcher spreads them over both replicas rather than letting them
      // wait for the busy one.
      await Promise.all(Array.from({ length: 20 }, () => runner.run({ input: { dtype: 'float32', shape: [32, 16], data: new Float32Array(32 * 16) } })));
      assert.ok(runner.replicas[0]!.served > 0, 'the replacement served requests');
    } finally {
      await runner.close();
    }
  });

  it('an uncaught error thrown inside a replica kills only that replica', async () => {
    const runner = await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root, replicas: 2 });
    try {
      const traffic = load(() => runner.call('double', [1, 2, 3]), 8);
      await sleep(200);
      const exit = once(runner, 'replica-exit');
      // The call schedules the throw and returns; its answer and the thread's death travel on different ports,
      // so either may arrive first: the call may fail with RUNNER_FAILED.
      await runner.call('crash', null).catch((e: unknown) => assert.ok(isTiffinError(e, 'RUNNER_FAILED'), String(e)));
      const [info] = (await exit) as [{ reason: string; restartInMs: number }];
      assert.match(info.reason, /boom from a timer/);
      assert.equal(info.restartInMs, 0);
      await sleep(300);
      await traffic.stop();
      const failed = traffic.outcomes.filter((o) => !o.ok);
      assert.ok(failed.every((f) => isTiffinError(f.error, 'RUNNER_FAILED') && /boom from a timer/.test(f.error.message)));
      assert.ok(traffic.outcomes.filter((o) => o.ok).length > 20);
      while (runner.status !== 'ready') await once(runner, 'replica-ready');
      assert.deepEqual(await runner.call('double', [5]), [10]);
    } finally {
      await runner.close();
    }
  });

  it('process.abort() in a replica fails the call, or ends only that thread: never the process', async () => {
    const runner = await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root, replicas: 2 });
    try {
      await assert.rejects(runner.call('abort', 'now'), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /not supported in workers/.test(e.message));
      const exit = once(runner, 'replica-exit');
      await runner.call('abort', 'later');
      const [info] = (await exit) as [{ reason: string }];
      assert.match(info.reason, /process\.abort\(\) is not supported in workers/);
      assert.deepEqual(await runner.call('double', [4]), [8], 'the other replica serves meanwhile');
      while (runner.status !== 'ready') await once(runner, 'replica-ready');
    } finally {
      await runner.close();
    }
  });

  it('a replica that runs out of heap (maxHeapMb) dies alone; the process and the other replica live on', async () => {
    const runner = await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root, replicas: 2, maxHeapMb: 64 });
    try {
      const oom = runner.call('oom', null);
      await assert.rejects(oom, (e) => isTiffinError(e, 'RUNNER_FAILED') && /memory/i.test(e.message));
      assert.deepEqual(await runner.call('double', [1]), [2]);
      while (runner.status !== 'ready') await once(runner, 'replica-ready');
    } finally {
      await runner.close();
    }
  });

  it('closes even when a call never returns: the stuck thread is terminated after its grace', async () => {
    const runner = await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root, replicas: 1 });
    const stuck = runner.call('hang', null);
    const started = performance.now();
    await runner.close({ timeoutMs: 100 });
    // Graceful stop, then kill (deferred: the thread is inside a model call), then terminate: two graces of 5 s.
    assert.ok(performance.now() - started < 15_000);
    await assert.rejects(stuck, (e) => isTiffinError(e, 'SHUTTING_DOWN'));
  });

  it('gives a replica up after replacements keep failing, and reports unhealthy instead of hanging', async () => {
    const flag = join(store.root, '..', 'refuse-now');
    process.env.TIFFIN_TEST_REFUSE_LOAD = flag;
    const runner = await RunnerPool.start({ tag: 'crashy:1', storeRoot: store.root, replicas: 1, restart: { maxFailures: 2, backoffMs: 10 } });
    try {
      await writeFile(flag, '');
      const died = once(runner, 'replica-exit');
      // The call schedules the throw and returns; its answer and the thread's death travel on different ports,
      // so either may arrive first: the call may fail with RUNNER_FAILED.
      await runner.call('crash', null).catch((e: unknown) => assert.ok(isTiffinError(e, 'RUNNER_FAILED'), String(e)));
      await died;
      // Queued while replacements fail to load, until the runner gives up: an error, not a hang.
      await assert.rejects(runner.call('double', [1], { timeoutMs: 60_000 }), (e) => isTiffinError(e, 'RUNNER_FAILED'));
      while (runner.status !== 'unhealthy') await once(runner, 'replica-exit');
      await assert.rejects(runner.call('double', [1]), (e) => isTiffinError(e, 'RUNNER_FAILED') && e.status === 503 && /gave up/.test(e.message));
      assert.equal(runner.stats().replicas[0]!.state, 'given-up');
    } finally {
      delete process.env.TIFFIN_TEST_REFUSE_LOAD;
      await rm(flag, { force: true });
      await runner.close();
    }
  });
});
