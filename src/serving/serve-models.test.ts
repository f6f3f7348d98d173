// serveModels end to end: zero-code serving of store models behind runner pools (worker threads, batching)
// over HTTP protocols and gRPC, and a user service whose models share the repository with the protocols.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { Models } from '../models/index.ts';
import { mlp, mlpForward, mlpParams } from '../onnx/index.ts';
import { loadInferenceProto } from '../protocols/kserve-v2/grpc-proto.ts';
import { inProcessLoader } from '../repository/index.ts';
import { service } from '../service/service.ts';
import { ModelStore } from '../store/index.ts';
import { tempDir } from '../testing/temp-dir.ts';
import { serveModels } from './serve-models.ts';

async function storeWithMlp(seeds: number[]): Promise<Models> {
  const models = new Models(new ModelStore(await tempDir('serving-store')));
  const dir = await tempDir('serving-src');
  for (const [i, seed] of seeds.entries()) {
    const file = join(dir, `mlp-${seed}.onnx`);
    await writeFile(file, mlp({ layers: [4, 8, 3], seed }));
    await models.save(`mlp:${i + 1}`, file, { framework: 'onnx', batchable: true });
  }
  return models;
}

function v2Input(rows: number[][]) {
  return { inputs: [{ name: 'input', datatype: 'FP32', shape: [rows.length, 4], data: rows.flat() }] };
}

function close(actual: number[], expected: ArrayLike<number>): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${v} vs ${expected[i]}`));
}

test('zero-code serving: store models behind runner pools, over V2 REST, TF Serving and gRPC, with server probes', async () => {
  const models = await storeWithMlp([3]);
  const server = await serveModels({
    models: [{ name: 'mlp', batching: { maxLatencyMs: 2 } }],
    store: models.store,
    runner: { replicas: 1 },
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: { port: 0, host: '127.0.0.1' },
  });
  try {
    await server.ready;
    assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
    const params = mlpParams({ layers: [4, 8, 3], seed: 3 });

    // Concurrent single-row requests go through the runner's batcher.
    const rows = Array.from({ length: 16 }, (_, i) => [i, -i, 0.5, 1]);
    const answers = await Promise.all(rows.map(async (row) => {
      const res = await fetch(`${server.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify(v2Input([row])) });
      assert.equal(res.status, 200);
      return (await res.json()) as { model_version: string; outputs: { data: number[] }[] };
    }));
    answers.forEach((a, i) => close(a.outputs[0]!.data, mlpForward(params, rows[i]!, 1)));

    const tf = await fetch(`${server.url}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [rows[1]] }) });
    close(((await tf.json()) as { predictions: number[][] }).predictions[0]!, mlpForward(params, rows[1]!, 1));

    const unknown = await fetch(`${server.url}/nope`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { code: string }).code, 'NOT_FOUND', 'other paths keep the server\'s own error shape');

    const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const ready = await new Promise<unknown>((resolve, reject) => {
      (client as unknown as { ServerReady(r: unknown, cb: (e: Error | null, v: unknown) => void): void }).ServerReady({}, (e, v) => (e ? reject(e) : resolve(v)));
    });
    client.close();
    assert.deepEqual(ready, { ready: true });
  } finally {
    await server.close();
  }
});

test('a service that declares models shares them with the protocol routes; both follow a hot reload', async () => {
  const models = await storeWithMlp([1]);
  const svc = service('scorer', { models: { net: 'mlp' } }).api('score', {
    input: z.object({ x: z.array(z.number()).length(4) }),
    output: z.object({ version: z.string(), y: z.array(z.number()) }),
    handler: async ({ x }, ctx) => {
      const out = await ctx.models.net.run({ input: { dtype: 'float32', shape: [1, 4], data: Float32Array.from(x) } });
      return { version: ctx.models.net.tag, y: [...(out.output!.data as Float32Array)] };
    },
  });
  const server = await serveModels({
    service: svc,
    store: models.store,
    loader: inProcessLoader(models, { intraOpThreads: 1, executionProviders: ['cpu'] }),
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: false,
  });
  try {
    await server.ready;
    const score = async () => (await (await fetch(`${server.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [1, 2, 3, 4] }) })).json()) as { version: string; y: number[] };
    const v2 = async () => (await (await fetch(`${server.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify(v2Input([[1, 2, 3, 4]])) })).json()) as { model_version: string; outputs: { data: number[] }[] };
    const first = await score();
    assert.equal(first.version, 'mlp:1');
    assert.deepEqual((await v2()).outputs[0]!.data, first.y);

    const file = join(await tempDir('serving-src'), 'next.onnx');
    await writeFile(file, mlp({ layers: [4, 8, 3], seed: 2 }));
    await models.save('mlp:2', file, { framework: 'onnx', batchable: true });
    await server.repository.refresh();
    const second = await score();
    assert.equal(second.version, 'mlp:2');
    const viaV2 = await v2();
    assert.equal(viaV2.model_version, '2');
    assert.deepEqual(viaV2.outputs[0]!.data, second.y);
    assert.notDeepEqual(second.y, first.y);
  } finally {
    await server.close();
  }
});
