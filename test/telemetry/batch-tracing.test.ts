// Queue and batch spans from real requests, end to end: a real server (serveModels, an ONNX model in a
// RunnerPool with batching), tracing into an in-memory exporter, real HTTP requests carrying a `traceparent`.
// A request's span tree is SERVER -> tiffin.inference -> tiffin.queue and tiffin.batch -> tiffin.model.run;
// requests batched together share one batch span, linked to each of them. The same holds for zero-code
// serving (KServe V2, TF Serving, TorchServe routes), whose prediction logs use the id the client sees.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { z } from 'zod';
import { Models } from '../../src/models/index.ts';
import { mlp } from '../../src/onnx/index.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { runnerPoolLoader, type ModelLoader } from '../../src/repository/index.ts';
import { tensor } from '../../src/runtime/tensor.ts';
import { service } from '../../src/service/service.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { Telemetry } from '../../src/telemetry/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

const WIDTH = 8;
const row = (i: number) => Array.from({ length: WIDTH }, (_, j) => (i + j) / 10);

/** A W3C traceparent from the caller, sampled, and the ids in it. */
function caller(n: number): { traceId: string; spanId: string; traceparent: string } {
  const traceId = n.toString(16).padStart(32, 'a');
  const spanId = n.toString(16).padStart(16, 'b');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/**
 * Holds model calls while armed and lets them go together once `n` have arrived: they then reach the runner's
 * dispatcher in one event-loop turn, and leave in one batch (as concurrent requests do under load).
 */
class Gate {
  private want = 0;
  private readonly held: (() => void)[] = [];

  arm(n: number): void {
    this.want = n;
  }

  async pass(): Promise<void> {
    if (this.want === 0) return;
    await new Promise<void>((resolve) => {
      this.held.push(resolve);
      if (this.held.length < this.want) return;
      this.want = 0;
      for (const r of this.held.splice(0)) r();
    });
  }
}

/** The production loader (a RunnerPool per version: one replica thread, batching), its calls passing `gate` first. */
function gatedLoader(store: ModelStore, gate: Gate): ModelLoader {
  const load = runnerPoolLoader(store, { replicas: 1, batching: { maxBatchSize: 8, maxLatencyMs: 5 } });
  return async (tag, context) => {
    const pool = await load(tag, context);
    const run = pool.run.bind(pool);
    pool.run = async (feeds, options) => {
      await gate.pass();
      return run(feeds, options);
    };
    return pool;
  };
}

async function waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const spanId = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;

/** The spans of one trace, once its SERVER span (which ends last, after the response) is there. */
async function traceOf(exporter: InMemorySpanExporter, traceId: string): Promise<{ server: ReadableSpan; named(name: string): ReadableSpan[] }> {
  const inTrace = () => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
  const server = await waitFor(`the server span of ${traceId}`, () => inTrace().find((s) => s.kind === SpanKind.SERVER));
  const spans = inTrace();
  return { server, named: (name) => spans.filter((s) => s.name === name) };
}

/** Checks one request's tree: SERVER -> tiffin.inference -> tiffin.queue and tiffin.batch -> tiffin.model.run. */
async function assertRequestTree(exporter: InMemorySpanExporter, who: ReturnType<typeof caller>, key: string): Promise<ReadableSpan> {
  const { server, named } = await traceOf(exporter, who.traceId);
  assert.equal(parentOf(server), who.spanId, 'the server span continues the caller\'s trace');
  const [inference, ...more] = named('tiffin.inference');
  assert.ok(inference, 'the model call has its span');
  assert.equal(more.length, 0);
  assert.equal(parentOf(inference), spanId(server));
  assert.equal(inference.attributes['tiffin.model'], 'mlp:1');
  assert.equal(inference.attributes['tiffin.model.key'], key);
  const [queue] = named('tiffin.queue');
  assert.ok(queue, 'the wait in the batching queue has its span');
  assert.equal(parentOf(queue), spanId(inference));
  assert.equal(queue.attributes['tiffin.model'], 'mlp');
  assert.equal(queue.attributes['tiffin.model.version'], '1');
  const [batch] = named('tiffin.batch');
  assert.ok(batch, 'the batch has its span');
  assert.equal(parentOf(batch), spanId(inference));
  assert.deepEqual(batch.links.map((l) => l.context.spanId), [spanId(inference)]);
  assert.equal(batch.attributes['tiffin.batch.size'], 1);
  assert.equal(batch.attributes['tiffin.batch.reason'], 'idle');
  const [run] = named('tiffin.model.run');
  assert.ok(run, 'the model run has its span');
  assert.equal(parentOf(run), spanId(batch));
  assert.equal(run.attributes['tiffin.batch.size'], 1);
  return inference;
}

/** Checks that two requests batched together share one batch span, child of the first and linked to both. */
async function assertSharedBatch(exporter: InMemorySpanExporter, callers: ReturnType<typeof caller>[]): Promise<void> {
  const inferences: ReadableSpan[] = [];
  for (const who of callers) {
    const { named } = await traceOf(exporter, who.traceId);
    const [inference] = named('tiffin.inference');
    assert.ok(inference);
    const [queue] = named('tiffin.queue');
    assert.equal(queue && parentOf(queue), spanId(inference), 'each request has its own queue span');
    inferences.push(inference);
  }
  const batches = exporter.getFinishedSpans().filter((s) => s.name === 'tiffin.batch');
  assert.equal(batches.length, 1, 'one batch for both requests');
  const batch = batches[0]!;
  assert.equal(batch.attributes['tiffin.batch.size'], 2);
  assert.deepEqual(batch.links.map((l) => l.context.spanId).sort(), inferences.map(spanId).sort(), 'linked to every request in it');
  const first = inferences.find((s) => spanId(s) === parentOf(batch));
  assert.ok(first, 'child of one of its requests (the first)');
  assert.equal(batch.spanContext().traceId, first.spanContext().traceId);
  const runs = exporter.getFinishedSpans().filter((s) => s.name === 'tiffin.model.run');
  assert.equal(runs.length, 1);
  assert.equal(parentOf(runs[0]!), spanId(batch));
  assert.equal(runs[0]!.attributes['tiffin.batch.size'], 2);
}

let store: ModelStore;

before(async () => {
  const models = new Models(new ModelStore(await tempDir('batch-tracing-store')));
  const file = join(await tempDir('batch-tracing-src'), 'mlp.onnx');
  await writeFile(file, mlp({ layers: [WIDTH, 16, 3], seed: 7 }));
  await models.save('mlp:1', file, { framework: 'onnx', batchable: true });
  store = models.store;
});

describe('a service\'s model calls', () => {
  const exporter = new InMemorySpanExporter();
  const gate = new Gate();
  let server: ModelServer;
  let telemetry: Telemetry;

  before(async () => {
    telemetry = new Telemetry({
      service: 'traced',
      config: { metrics: { gpu: false }, logging: { level: 'silent' } },
      tracing: { exporter, processor: 'simple', registerGlobal: false, env: {} },
    });
    const svc = service('traced', { models: { net: 'mlp:1' } }).api('predict', {
      input: z.object({ input: z.array(z.number()).length(WIDTH) }),
      output: z.object({ output: z.array(z.number()) }),
      handler: async ({ input }, ctx) => {
        const out = await ctx.models.net.run({ input: tensor('float32', [1, WIDTH], Float32Array.from(input)) }, { signal: ctx.signal });
        return { output: Array.from(out.output!.data as Float32Array) };
      },
    });
    server = await serveModels({ service: svc, store, loader: gatedLoader(store, gate), pollIntervalMs: 0, grpc: false, http: { port: 0, docs: false }, telemetry });
    await server.ready;
  });

  after(async () => {
    await server?.close();
    await telemetry?.close();
  });

  const predict = (i: number, traceparent: string) =>
    fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json', traceparent }, body: JSON.stringify({ input: row(i) }) });

  it('trace the request: server span -> tiffin.inference -> tiffin.queue, tiffin.batch -> tiffin.model.run', async () => {
    exporter.reset();
    const who = caller(1);
    const res = await predict(1, who.traceparent);
    assert.equal(res.status, 200);
    await res.json();
    await assertRequestTree(exporter, who, 'net');
  });

  it('share one batch span between requests batched together, linked to both', async () => {
    exporter.reset();
    const callers = [caller(2), caller(3)];
    gate.arm(2);
    const responses = await Promise.all(callers.map((who, i) => predict(i, who.traceparent)));
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
    await Promise.all(responses.map((r) => r.json()));
    await assertSharedBatch(exporter, callers);
  });
});

describe('zero-code serving', () => {
  const exporter = new InMemorySpanExporter();
  const gate = new Gate();
  let server: ModelServer;
  let telemetry: Telemetry;

  before(async () => {
    telemetry = new Telemetry({
      service: 'models',
      config: { metrics: { gpu: false }, logging: { level: 'silent' }, monitoring: { dir: await tempDir('batch-tracing-monitoring'), sampleRate: 0 } },
      tracing: { exporter, processor: 'simple', registerGlobal: false, env: {} },
    });
    server = await serveModels({
      models: [{ name: 'mlp', monitor: { sampleRate: 1 } }],
      store,
      loader: gatedLoader(store, gate),
      pollIntervalMs: 0,
      grpc: { port: 0, host: '127.0.0.1' },
      http: { port: 0, docs: false },
      telemetry,
    });
    await server.ready;
  });

  after(async () => {
    await server?.close();
    await telemetry?.close();
  });

  const v2Infer = (i: number, headers: Record<string, string>) =>
    fetch(`${server.url}/v2/models/mlp/infer`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, WIDTH], data: row(i) }] }),
    });

  it('traces a KServe V2 infer request: server span -> tiffin.inference -> tiffin.queue, tiffin.batch -> tiffin.model.run', async () => {
    exporter.reset();
    const who = caller(11);
    const res = await v2Infer(1, { traceparent: who.traceparent });
    assert.equal(res.status, 200);
    await res.json();
    await assertRequestTree(exporter, who, 'mlp');
    const { server: span } = await traceOf(exporter, who.traceId);
    assert.equal(span.attributes['http.route'], '/v2/models/:model/infer');
  });

  it('shares one batch span between V2 requests batched together, linked to both', async () => {
    exporter.reset();
    const callers = [caller(12), caller(13)];
    gate.arm(2);
    const responses = await Promise.all(callers.map((who, i) => v2Infer(i, { traceparent: who.traceparent })));
    assert.deepEqual(responses.map((r) => r.status), [200, 200]);
    await Promise.all(responses.map((r) => r.json()));
    await assertSharedBatch(exporter, callers);
  });

  it('traces TF Serving and TorchServe requests the same way', async () => {
    exporter.reset();
    const tf = caller(14);
    const torch = caller(15);
    const a = await fetch(`${server.url}/v1/models/mlp:predict`, { method: 'POST', headers: { traceparent: tf.traceparent }, body: JSON.stringify({ instances: [row(1)] }) });
    assert.equal(a.status, 200);
    await a.json();
    const b = await fetch(`${server.url}/predictions/mlp`, { method: 'POST', headers: { traceparent: torch.traceparent }, body: JSON.stringify(row(2)) });
    assert.equal(b.status, 200);
    await b.json();
    await assertRequestTree(exporter, tf, 'mlp');
    await assertRequestTree(exporter, torch, 'mlp');
  });

  it('traces a KServe V2 gRPC ModelInfer call that brings a traceparent in its metadata', async () => {
    exporter.reset();
    const who = caller(16);
    const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const metadata = new grpc.Metadata();
    metadata.set('traceparent', who.traceparent);
    const infer = (client as unknown as Record<string, (r: unknown, m: grpc.Metadata, cb: (e: Error | null) => void) => void>).ModelInfer!;
    await new Promise<void>((resolve, reject) => {
      infer.call(client, { model_name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, WIDTH], contents: { fp32_contents: row(7) } }] }, metadata, (e) => (e ? reject(e) : resolve()));
    });
    client.close();
    await assertRequestTree(exporter, who, 'mlp');
    const { server: span } = await traceOf(exporter, who.traceId);
    assert.equal(span.name, 'inference.GRPCInferenceService/ModelInfer');
    assert.equal(span.attributes['rpc.system'], 'grpc');
    assert.equal(span.attributes['rpc.method'], 'ModelInfer');
  });

  it('logs predictions under the id the client sees: x-request-id, the server\'s own id, the gRPC request id', async () => {
    const given = await v2Infer(3, { 'x-request-id': 'client-id-1' });
    assert.equal(given.status, 200);
    await given.json();
    const made = await v2Infer(4, {});
    assert.equal(made.status, 200);
    await made.json();
    const madeId = made.headers.get('x-request-id');
    assert.ok(madeId, 'the server tells the client the id it made up');
    const tf = await fetch(`${server.url}/v1/models/mlp:predict`, { method: 'POST', headers: { 'x-request-id': 'client-id-tf' }, body: JSON.stringify({ instances: [row(5)] }) });
    assert.equal(tf.status, 200);
    await tf.json();

    const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const modelInfer = (request: Record<string, unknown>) =>
      new Promise<{ id: string; metadataId: string | undefined }>((resolve, reject) => {
        let metadataId: string | undefined;
        const call = (client as unknown as Record<string, (r: unknown, cb: (e: Error | null, v: { id: string }) => void) => grpc.ClientUnaryCall>).ModelInfer!.call(
          client,
          {
            model_name: 'mlp',
            inputs: [{ name: 'input', datatype: 'FP32', shape: [1, WIDTH], contents: { fp32_contents: row(6) } }],
            ...request,
          },
          (e, v) => (e ? reject(e) : resolve({ id: v.id, metadataId })),
        );
        call.on('metadata', (md: grpc.Metadata) => (metadataId = md.get('x-request-id')[0]?.toString()));
      });
    const withId = await modelInfer({ id: 'grpc-id-7' });
    assert.equal(withId.id, 'grpc-id-7');
    const withoutId = await modelInfer({});
    client.close();
    assert.ok(withoutId.metadataId, 'a gRPC request without an id is told the one it was logged under');

    await telemetry.predictions!.flush();
    const text = await readFile(join(telemetry.config.monitoring.dir!, 'mlp', 'data.1.jsonl'), 'utf8');
    const ids = text.trim().split('\n').map((l) => (JSON.parse(l) as { request_id: string }).request_id);
    for (const id of ['client-id-1', madeId, 'client-id-tf', 'grpc-id-7', withoutId.metadataId]) {
      assert.ok(ids.includes(id), `a record under ${id} (records: ${ids.join(', ')})`);
    }
  });
});
