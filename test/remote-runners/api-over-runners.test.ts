// serveModels with remoteRunners (what `tiffin serve --role api` runs), in one process against a runner that is
// itself a serveModels with gRPC on loopback: zero-code V2 and TF Serving routes and a service's ctx.models work
// unchanged over the remote handle, the API's readiness and errors follow the runner's, and a request's trace
// continues in the runner.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { Models } from '../../src/models/index.ts';
import { mlp, mlpForward, mlpParams } from '../../src/onnx/index.ts';
import { RemoteRunners } from '../../src/remote-runners/index.ts';
import { tensor } from '../../src/runtime/tensor.ts';
import { service } from '../../src/service/service.ts';
import { serveModels } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { Telemetry } from '../../src/telemetry/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const PARAMS = mlpParams({ layers: [4, 8, 3], seed: 5 });

function near(actual: number[], expected: ArrayLike<number>): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${v} vs ${expected[i]}`));
}

test('an API server whose model runs in a remote runner: V2, TF Serving and a service over the same handle; readiness and errors follow the runner', async () => {
  const models = new Models(new ModelStore(await tempDir('remote-api-store')));
  const file = join(await tempDir('remote-api-src'), 'mlp.onnx');
  await writeFile(file, mlp(PARAMS));
  await models.save('mlp:1', file, { framework: 'onnx', batchable: true });

  const runner = await serveModels({
    models: [{ name: 'mlp', batching: { maxLatencyMs: 2 } }], store: models.store, runner: { replicas: 1 }, pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false }, grpc: { port: 0, host: '127.0.0.1' },
  });
  await runner.ready;
  const svc = service('scorer', { models: { net: 'mlp:latest' } }).api('score', {
    input: z.object({ row: z.array(z.number()).length(4) }),
    output: z.object({ y: z.array(z.number()) }),
    handler: async ({ row }, ctx) => ({ y: Array.from((await ctx.models.net.run({ input: tensor('float32', [1, 4], Float32Array.from(row)) })).get('output', 'float32').data) }),
  });
  const remoteRunners = new RemoteRunners({ mlp: { endpoints: [`127.0.0.1:${runner.grpc!.port}`] } }, { pollMs: 100 });
  const api = await serveModels({ service: svc, store: models.store, pollIntervalMs: 0, http: { port: 0, logLevel: 'silent', docs: false }, grpc: false, remoteRunners });
  let runnerOpen = true;
  try {
    await api.ready;
    for (let i = 0; i < 30 && (await fetch(`${api.url}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await fetch(`${api.url}/readyz`)).status, 200);

    const rows = Array.from({ length: 8 }, (_, i) => [i, 1 - i, 0.25, -2]);
    const v2 = await Promise.all(rows.map(async (row) => {
      const res = await fetch(`${api.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: row }] }) });
      assert.equal(res.status, 200);
      return (await res.json()) as { model_version: string; outputs: { name: string; data: number[] }[] };
    }));
    v2.forEach((a, i) => near(a.outputs[0]!.data, mlpForward(PARAMS, rows[i]!, 1)));
    assert.equal(v2[0]!.model_version, '1');
    const tf = await fetch(`${api.url}/v1/models/mlp:predict`, { method: 'POST', body: JSON.stringify({ instances: [rows[2]] }) });
    assert.equal(tf.status, 200);
    near(((await tf.json()) as { predictions: number[][] }).predictions[0]!, mlpForward(PARAMS, rows[2]!, 1));
    const scored = await fetch(`${api.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ row: rows[3] }) });
    assert.equal(scored.status, 200);
    near(((await scored.json()) as { y: number[] }).y, mlpForward(PARAMS, rows[3]!, 1));
    // Metadata comes from the API's store: a request with the wrong shape is refused before it crosses the wire.
    const bad = await fetch(`${api.url}/v2/models/mlp/infer`, { method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }) });
    assert.equal(bad.status, 400);

    // The runner goes away: readiness says which runner, and calls get a clear 503 naming it.
    await runner.close();
    runnerOpen = false;
    let ready: Response | undefined;
    for (let i = 0; i < 30; i++) {
      ready = await fetch(`${api.url}/readyz`);
      if (ready.status === 503) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ready!.status, 503);
    assert.match(((await ready!.json()) as { message: string }).message, /remote runner of model mlp has no ready endpoint/);
    const gone = await fetch(`${api.url}/score`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ row: rows[0] }) });
    assert.equal(gone.status, 503);
    const body = (await gone.json()) as { code: string; message: string };
    assert.equal(body.code, 'RUNNER_UNAVAILABLE');
    assert.match(body.message, new RegExp(`model mlp.*127\\.0\\.0\\.1:${runner.grpc!.port}`));
    assert.ok(gone.headers.get('retry-after'), 'a Retry-After to come back');
  } finally {
    await api.close();
    if (runnerOpen) await runner.close();
  }
});

test('the W3C trace crosses to the runner: its ModelInfer span is a child of the API call\'s tiffin.inference span', async () => {
  const models = new Models(new ModelStore(await tempDir('remote-trace-store')));
  const file = join(await tempDir('remote-trace-src'), 'mlp.onnx');
  await writeFile(file, mlp(PARAMS));
  await models.save('mlp:1', file, { framework: 'onnx', batchable: true });
  const exporter = new InMemorySpanExporter();
  const telemetry = (name: string) => new Telemetry({ service: name, config: { metrics: { gpu: false }, logging: { level: 'silent' } }, tracing: { exporter, processor: 'simple', registerGlobal: false, env: {} } });
  const runnerTelemetry = telemetry('runner');
  const apiTelemetry = telemetry('api');
  const runner = await serveModels({
    models: [{ name: 'mlp' }], store: models.store, inProcess: true, pollIntervalMs: 0, telemetry: runnerTelemetry,
    http: { port: 0, docs: false }, grpc: { port: 0, host: '127.0.0.1' },
  });
  const svc = service('scorer', { models: { net: 'mlp:latest' } }).api('score', {
    input: z.object({ row: z.array(z.number()).length(4) }),
    output: z.object({ y: z.array(z.number()) }),
    handler: async ({ row }, ctx) => ({ y: Array.from((await ctx.models.net.run({ input: tensor('float32', [1, 4], Float32Array.from(row)) })).get('output', 'float32').data) }),
  });
  const remoteRunners = new RemoteRunners({ mlp: { endpoints: [`127.0.0.1:${runner.grpc!.port}`] } }, { pollMs: 100 });
  const api = await serveModels({ service: svc, store: models.store, pollIntervalMs: 0, telemetry: apiTelemetry, http: { port: 0, docs: false }, grpc: false, remoteRunners });
  try {
    await Promise.all([runner.ready, api.ready]);
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const res = await fetch(`${api.url}/score`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: `00-${traceId}-b7ad6b7169203331-01`, 'x-request-id': 'trace-me-1' },
      body: JSON.stringify({ row: [1, 2, 3, 4] }),
    });
    assert.equal(res.status, 200);
    let spans: ReadableSpan[] = [];
    for (let i = 0; i < 50; i++) {
      spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
      if (spans.filter((s) => s.kind === SpanKind.SERVER).length >= 2) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // The API's HTTP SERVER span, its tiffin.inference span (the runner makes one of its own under its ModelInfer span).
    const http = spans.find((s) => s.kind === SpanKind.SERVER && s.name.startsWith('POST'));
    assert.ok(http, `the API's request span among ${spans.map((s) => s.name).join(', ')}`);
    const inference = spans.find((s) => s.name === 'tiffin.inference' && s.parentSpanContext?.spanId === http.spanContext().spanId);
    const rpc = spans.find((s) => s.kind === SpanKind.SERVER && s.name === 'inference.GRPCInferenceService/ModelInfer');
    assert.ok(inference, `the API's model call span among ${spans.map((s) => s.name).join(', ')}`);
    assert.ok(rpc, `the runner's ModelInfer span among ${spans.map((s) => s.name).join(', ')}`);
    assert.equal(rpc.parentSpanContext?.spanId, inference.spanContext().spanId);
  } finally {
    await api.close();
    await runner.close();
    await Promise.all([apiTelemetry.close(), runnerTelemetry.close()]);
  }
});
