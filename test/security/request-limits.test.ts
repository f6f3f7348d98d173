// Request limits from the outside: a real server (V2 REST and gRPC, TF Serving, TorchServe, a service API) with
// small limits. Each breach answers 413 (gRPC RESOURCE_EXHAUSTED) with LIMIT_EXCEEDED naming its tiffin.yaml key,
// runs no inference, and the server keeps serving valid requests afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { DEFAULT_LIMITS, type RequestLimits } from '../../src/limits/index.ts';
import { identity } from '../../src/onnx/index.ts';
import { startGrpcServer, type RunningGrpcServer } from '../../src/protocols/grpc-server.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { inProcessLoader, ModelRepository } from '../../src/repository/index.ts';
import { startServer, type RunningServer } from '../../src/serving/index.ts';
import { service } from '../../src/service/index.ts';
import { io } from '../../src/service/io.ts';
import { saveOnnx, serveProtocols, tempModels, type TestServer } from '../../src/testing/protocol-serving.ts';

const limits: RequestLimits = {
  ...DEFAULT_LIMITS,
  maxInputs: 2,
  maxOutputs: 2,
  maxTensorElements: 1000,
  maxTensorBytes: 6000,
  maxStringBytes: 64,
  maxJsonDepth: 8,
  maxParts: 3,
  maxPartSize: 1024,
};

let runs = 0;
let repository: ModelRepository;
let protocols: TestServer;
let grpcServer: RunningGrpcServer;
let api: RunningServer;

before(async () => {
  const models = await tempModels();
  await saveOnnx(models, 'f32:1', identity({ dtype: 'float32', shape: [-1, 2] }));
  await saveOnnx(models, 'str:1', identity({ dtype: 'string', shape: [-1, 1] }));
  const inner = inProcessLoader(models, { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] });
  // Counts every model call, so a test can prove a refused request ran none.
  const counting: typeof inner = async (tag, ctx) => {
    const loaded = await inner(tag, ctx);
    const run = loaded.run.bind(loaded);
    return Object.assign(Object.create(loaded), { run: (...args: Parameters<typeof run>) => (runs++, run(...args)) });
  };
  repository = new ModelRepository({ store: models.store, loader: counting, models: [{ name: 'f32' }, { name: 'str' }], pollIntervalMs: 0 });
  await repository.start();
  protocols = await serveProtocols(repository, { limits });
  grpcServer = await startGrpcServer({ repository, port: 0, host: '127.0.0.1', limits });
  const svc = service('limits')
    .api('sum', { input: io.tensor({ dtype: 'float32' }), output: io.json(z.number()), handler: (t) => (t.data as Float32Array).reduce((a, b) => a + b, 0) })
    .api('echo', { input: io.json(z.unknown()), output: io.json(z.unknown()), handler: (v) => v })
    .api('form', { input: io.multipart({ a: z.string(), b: io.file() }), output: io.json(z.number()), handler: (f) => f.a.length + f.b.data.length });
  api = await startServer(svc, { port: 0, host: '127.0.0.1', limits, maxHeaderSize: 4096, logLevel: 'silent' });
});

after(async () => {
  await api?.close();
  await grpcServer?.close();
  await protocols?.close();
  await repository?.close();
});

async function post(url: string, body: string | Buffer | FormData, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(url, { method: 'POST', body, headers: body instanceof FormData ? {} : headers });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

/** A refusal in a protocol's error shape ({"error"} or TorchServe's {"message"}) or Tiffin's ({"code", "message"}). */
function assertRefused(res: { status: number; body: Record<string, unknown> }, key: string): void {
  assert.equal(res.status, 413, JSON.stringify(res.body));
  const message = String(res.body.message ?? res.body.error);
  assert.ok(message.includes(`limits.${key}`), `expected the message to name limits.${key}: ${message}`);
  if (res.body.code !== undefined && typeof res.body.code === 'string') assert.equal(res.body.code, 'LIMIT_EXCEEDED');
}

const f32 = (rows: number, name = 'input') => ({ name, datatype: 'FP32', shape: [rows, 2], data: Array.from({ length: rows * 2 }, (_, i) => i) });
const deep = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;

test('V2 REST: inputs, outputs, elements, bytes, string length and JSON depth over their limits are refused before inference', async () => {
  const v2 = `${protocols.url}/v2/models`;
  const before = runs;
  assertRefused(await post(`${v2}/f32/infer`, JSON.stringify({ inputs: [f32(1), f32(1, 'b'), f32(1, 'c')] })), 'maxInputs');
  assertRefused(await post(`${v2}/f32/infer`, JSON.stringify({ inputs: [f32(1)], outputs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] })), 'maxOutputs');
  assertRefused(await post(`${v2}/f32/infer`, JSON.stringify({ inputs: [f32(501)] })), 'maxTensorElements');
  // Declared far beyond the limit with no data at all: refused on the shape, before anything is allocated.
  const head = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1e9, 2], parameters: { binary_data_size: 8 } }] });
  assertRefused(await post(`${v2}/f32/infer`, Buffer.concat([Buffer.from(head), Buffer.alloc(8)]), { 'inference-header-content-length': String(head.length) }), 'maxTensorElements');
  const longs = { name: 'input', datatype: 'BYTES', shape: [1, 1], data: ['x'.repeat(65)] };
  assertRefused(await post(`${v2}/str/infer`, JSON.stringify({ inputs: [longs] })), 'maxStringBytes');
  const wide = { name: 'input', datatype: 'FP64', shape: [400, 2], data: Array.from({ length: 800 }, () => 1) };
  assertRefused(await post(`${v2}/f32/infer`, JSON.stringify({ inputs: [wide] })), 'maxTensorBytes');
  assertRefused(await post(`${v2}/f32/infer`, `{"inputs":${deep(10)}}`), 'maxJsonDepth');
  assert.equal(runs, before, 'no refused request reached the model');
  const ok = await post(`${v2}/f32/infer`, JSON.stringify({ inputs: [f32(500)] }));
  assert.equal(ok.status, 200);
  assert.equal(runs, before + 1);
});

test('TF Serving and TorchServe: elements and JSON depth over their limits are refused', async () => {
  const row = [1, 2];
  assertRefused(await post(`${protocols.url}/v1/models/f32:predict`, JSON.stringify({ instances: Array.from({ length: 501 }, () => row) })), 'maxTensorElements');
  assertRefused(await post(`${protocols.url}/v1/models/f32:predict`, `{"instances":${deep(9)}}`), 'maxJsonDepth');
  assertRefused(await post(`${protocols.url}/predictions/f32`, JSON.stringify(Array.from({ length: 501 }, () => row))), 'maxTensorElements');
  assertRefused(await post(`${protocols.url}/predictions/f32`, deep(9)), 'maxJsonDepth');
  assert.equal((await post(`${protocols.url}/v1/models/f32:predict`, JSON.stringify({ instances: [row] }))).status, 200);
});

test('gRPC ModelInfer: too many inputs or elements answers RESOURCE_EXHAUSTED naming the limit', async (t) => {
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${grpcServer.port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const infer = (inputs: unknown[]) =>
    new Promise<{ code: number; details: string }>((resolve) => {
      (client as unknown as { ModelInfer: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => void }).ModelInfer({ model_name: 'f32', inputs }, (err) =>
        resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
      );
    });
  const input = (rows: number, name = 'input') => ({ name, datatype: 'FP32', shape: [rows, 2], contents: { fp32_contents: Array.from({ length: rows * 2 }, () => 1) } });
  const many = await infer([input(1), input(1, 'b'), input(1, 'c')]);
  assert.equal(many.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(many.details, /limits\.maxInputs/);
  const big = await infer([{ name: 'input', datatype: 'FP32', shape: [1e9, 2], contents: {} }]);
  assert.equal(big.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(big.details, /limits\.maxTensorElements/);
  assert.equal((await infer([input(2)])).code, 0);
});

test('service APIs: tensor elements, JSON depth, multipart parts and part size; headers over server.maxHeaderSize answer 431', async () => {
  assertRefused(await post(`${api.url}/sum`, JSON.stringify(Array.from({ length: 1001 }, () => 1))), 'maxTensorElements');
  assertRefused(await post(`${api.url}/sum`, Buffer.alloc(4 * 1001), { 'content-type': 'application/octet-stream', 'x-tensor-shape': '1001' }), 'maxTensorElements');
  assertRefused(await post(`${api.url}/echo`, deep(9)), 'maxJsonDepth');
  const parts = new FormData();
  for (const name of ['a', 'x', 'y', 'z']) parts.append(name, 'v');
  assertRefused(await post(`${api.url}/form`, parts), 'maxParts');
  const big = new FormData();
  big.append('a', 'v');
  big.append('b', new Blob([Buffer.alloc(2048)]), 'b.bin');
  assertRefused(await post(`${api.url}/form`, big), 'maxPartSize');
  const longField = new FormData();
  longField.append('a', 'v'.repeat(2048));
  longField.append('b', new Blob([Buffer.alloc(4)]), 'b.bin');
  assertRefused(await post(`${api.url}/form`, longField), 'maxPartSize');

  const headers = await fetch(`${api.url}/sum`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-big': 'h'.repeat(8000) }, body: '[1]' });
  assert.equal(headers.status, 431);
  const body = (await headers.json()) as { code: string; message: string };
  assert.equal(body.code, 'HEADERS_TOO_LARGE');
  assert.match(body.message, /server\.maxHeaderSize/);

  const ok = await post(`${api.url}/sum`, JSON.stringify([1, 2, 3]));
  assert.deepEqual(ok, { status: 200, body: 6 as unknown as Record<string, unknown> });
  const form = new FormData();
  form.append('a', 'abc');
  form.append('b', new Blob([Buffer.alloc(10)]), 'b.bin');
  assert.equal((await post(`${api.url}/form`, form)).status, 200);
});
