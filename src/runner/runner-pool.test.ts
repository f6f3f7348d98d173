import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { Model } from '../runtime/types.ts';
import { RunnerPool } from './runner-pool.ts';
import { runnerResources } from './resources.ts';
import { saveCrashy, saveLogistic, saveMlp, testStore, type TestStore } from '../testing/runner-fixtures.ts';

const LAYERS = [8, 32, 4];

function rows(n: number, seed: number): Tensors {
  return { input: { dtype: 'float32', shape: [n, 8], data: Float32Array.from({ length: n * 8 }, (_, i) => Math.sin(seed * 100 + i)) } };
}

function assertClose(actual: Float32Array, expected: Float32Array): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-5, `element ${i}: ${actual[i]} vs ${expected[i]}`);
}

describe('RunnerPool', () => {
  let store: TestStore;
  let local: Model;
  let batched: RunnerPool;
  let single: RunnerPool;

  before(async () => {
    store = await testStore('runner');
    await saveMlp(store, 'mlp:1', LAYERS);
    await saveMlp(store, 'mlp-single:1', LAYERS, { batchable: false });
    await saveLogistic(store, 'logistic:1');
    local = await store.models.load('mlp:1');
    // Inline runs off: these cases are about the replicas (inline-runs.test.ts covers the calling thread).
    [batched, single] = await Promise.all([
      RunnerPool.start({ tag: 'mlp', storeRoot: store.root, replicas: 2, inline: false }),
      RunnerPool.start({ tag: 'mlp-single:1', storeRoot: store.root, replicas: 1, inline: false }),
    ]);
  });

  after(async () => {
    await Promise.all([batched?.close(), single?.close(), local?.dispose()]);
  });

  it('serves the model from worker threads, as the in-process model would', async () => {
    assert.equal(batched.tag, 'mlp:1');
    assert.equal(batched.framework, 'onnx');
    assert.deepEqual(batched.inputs, local.inputs);
    assert.equal(batched.signatures.run?.batchable, true);
    // Concurrent calls of different sizes get batched together, then split back, each with its own rows.
    const sizes = [1, 3, 1, 7, 2, 40, 1, 5];
    const outs = await Promise.all(sizes.map((n, i) => batched.run(rows(n, i))));
    for (const [i, n] of sizes.entries()) {
      const expected = await local.run(rows(n, i));
      assert.deepEqual(outs[i]!.output!.shape, [n, 4]);
      assertClose(outs[i]!.get('output', 'float32').data, expected.get('output', 'float32').data);
    }
    const s = batched.stats();
    assert.equal(s.status, 'ready');
    assert.ok(s.methods.run!.batches.total < sizes.length, `batched: ${JSON.stringify(s.methods.run!.batches)}`);
  });

  it('sends calls made one at a time to the replica that was active last, whose thread is awake', async () => {
    const served = () => batched.replicas.map((r) => r!.served);
    const before = served();
    for (let i = 0; i < 10; i++) await batched.run(rows(1, i));
    const sequential = served().map((n, i) => n - before[i]!);
    assert.deepEqual([...sequential].sort((a, b) => a - b), [0, 10], `calls per replica: ${sequential}`);
  });

  it('serves a method that is not batchable through the same call', async () => {
    assert.equal(single.signatures.run?.batchable, false);
    const outs = await Promise.all([1, 2, 3].map((n) => single.run(rows(n, n))));
    for (const [i, n] of [1, 2, 3].entries()) assertClose(outs[i]!.get('output', 'float32').data, (await local.run(rows(n, n))).get('output', 'float32').data);
    assert.deepEqual(single.stats().methods.run!.batchSize.sum, 3, 'one request per run');
  });

  it('computes only the outputs asked for', async () => {
    const runner = await RunnerPool.start({ tag: 'logistic:1', storeRoot: store.root, replicas: 1 });
    try {
      const input = { input: { dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([1, 0, 0, 1]) } };
      const both = runner.run({ input: { ...input.input, data: input.input.data.slice() } });
      const labelOnly = runner.run(input, { outputs: ['label'] });
      assert.deepEqual(Object.keys(await both).sort(), ['label', 'probabilities']);
      assert.deepEqual(Object.keys(await labelOnly), ['label']);
      await assert.rejects(runner.run(rows(1, 0), { outputs: ['nope'] }), (e) => isTiffinError(e, 'TENSOR_INVALID'));
    } finally {
      await runner.close();
    }
  });

  it('fails a bad request alone, before it can spoil a batch', async () => {
    const good = Array.from({ length: 6 }, (_, i) => batched.run(rows(1, i)));
    const wrongWidth = batched.run({ input: { dtype: 'float32', shape: [1, 3], data: new Float32Array(3) } });
    const wrongName = batched.run({ x: { dtype: 'float32', shape: [1, 8], data: new Float32Array(8) } });
    await assert.rejects(wrongWidth, (e) => isTiffinError(e, 'TENSOR_INVALID') && /shape/.test(e.message));
    await assert.rejects(wrongName, (e) => isTiffinError(e, 'TENSOR_INVALID') && /"x"/.test(e.message));
    assert.equal((await Promise.all(good)).length, 6);
    await assert.rejects(batched.call('nope', {}), (e) => isTiffinError(e, 'NOT_FOUND'));
  });

  it('moves large input buffers to the worker instead of copying them, and says so when one is reused', async () => {
    const feeds = rows(200, 1); // 6.4 kB: moved
    const out = await single.run(feeds);
    assert.deepEqual(out.output!.shape, [200, 4]);
    assert.equal((feeds.input!.data as Float32Array).length, 0, 'the buffer was transferred');
    await assert.rejects(single.run(feeds), (e) => isTiffinError(e, 'TENSOR_INVALID') && /moved to a runner/.test(e.message));
    // Small tensors are copied (cheaper than moving), and so is a view into a bigger buffer (a slice, a pooled Buffer).
    const small = rows(1, 1);
    await single.run(small);
    assert.equal((small.input!.data as Float32Array).length, 8);
    const big = new Float32Array(2000).fill(1);
    await single.run({ input: { dtype: 'float32', shape: [200, 8], data: big.subarray(0, 1600) } });
    assert.equal(big.length, 2000);
  });

  it('fails to start with MODEL_LOAD_FAILED and the reason, or MODEL_NOT_FOUND', async () => {
    await saveCrashy(store, 'refuses:1');
    const flag = join(store.root, '..', 'refuse-flag');
    await writeFile(flag, '');
    process.env.TIFFIN_TEST_REFUSE_LOAD = flag;
    try {
      await assert.rejects(RunnerPool.start({ tag: 'refuses:1', storeRoot: store.root, replicas: 1 }),
        (e) => isTiffinError(e, 'MODEL_LOAD_FAILED') && /refusing to load/.test(e.message));
    } finally {
      delete process.env.TIFFIN_TEST_REFUSE_LOAD;
    }
    await assert.rejects(RunnerPool.start({ tag: 'absent:1', storeRoot: store.root }), (e) => isTiffinError(e, 'MODEL_NOT_FOUND'));
  });

  it('takes batching and queue settings per method, and sheds past the queue bound with Retry-After', async () => {
    const runner = await RunnerPool.start({
      tag: 'mlp:1', storeRoot: store.root, replicas: 1,
      batching: { maxQueueSize: 8 }, methods: { run: { maxBatchSize: 4 } },
    });
    try {
      const calls = Array.from({ length: 40 }, (_, i) => runner.run(rows(1, i)).then(() => 'ok', (e: unknown) => e));
      const results = await Promise.all(calls);
      const shed = results.filter((r) => r !== 'ok');
      assert.ok(shed.length > 0 && shed.every((e) => isTiffinError(e, 'OVERLOADED') && e.status === 503 && e.retryAfter! >= 1));
      const s = runner.stats().methods.run!;
      assert.equal(s.shed.queue_full, shed.length);
      assert.ok(s.batchSize.max <= 4);
      await assert.rejects(RunnerPool.start({ tag: 'mlp:1', storeRoot: store.root, methods: { predict: {} } }), (e) => isTiffinError(e, 'CONFIG_INVALID'));
    } finally {
      await runner.close();
    }
  });

  it('drains accepted calls on close, then refuses new ones', async () => {
    const runner = await RunnerPool.start({ tag: 'mlp:1', storeRoot: store.root, replicas: 1 });
    const pending = Array.from({ length: 20 }, (_, i) => runner.run(rows(1, i)));
    const closing = runner.close();
    await assert.rejects(runner.run(rows(1, 0)), (e) => isTiffinError(e, 'SHUTTING_DOWN'));
    assert.equal((await Promise.all(pending)).length, 20);
    await closing;
    assert.equal(runner.status, 'closed');
    assert.ok(runner.replicas.every((r) => r?.state === 'stopped'));
  });
});

describe('runnerResources', () => {
  it('fills the cores with one-thread replicas by default', () => {
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'] }, 16).replicas, 16);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'], intraOpThreads: 4 }, 16).replicas, 4);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'], intraOpThreads: 4 }, 2).replicas, 1);
    assert.equal(runnerResources('custom', {}, 8).replicas, 8);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'], replicas: 3 }, 16).replicas, 3);
  });

  it('starts one replica per GPU and passes the providers through', () => {
    const r = runnerResources('onnx', { executionProviders: ['cuda', 'cpu'] }, 16);
    assert.equal(r.replicas, 1);
    assert.equal(r.gpu, true);
    assert.deepEqual(r.loadOptions.executionProviders, ['cuda', 'cpu']);
    assert.equal(r.loadOptions.intraOpThreads, 1);
  });

  it('busy-polls for results with two cores or more, unless told otherwise', () => {
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'] }, 2).busyPollMs, 2);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'] }, 1).busyPollMs, 0);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'], busyPollMs: 0 }, 8).busyPollMs, 0);
    assert.equal(runnerResources('onnx', { executionProviders: ['cpu'], busyPollMs: 0.5 }, 1).busyPollMs, 0.5);
  });
});
