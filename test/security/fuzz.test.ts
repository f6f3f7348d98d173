// Property-based fuzzing (fast-check) of what clients send, against one real server: V2 REST JSON and binary
// bodies, TF Serving JSON, a service API's JSON input, and gRPC messages as raw bytes. Whatever arrives, the
// server answers (never hangs), answers a client's mistake with 4xx (never 5xx, never a gRPC INTERNAL or
// UNKNOWN), and serves a valid request correctly afterwards. FUZZ_RUNS raises the count (default 60 per property;
// `npm run fuzz` runs it long).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import fc from 'fast-check';
import { z } from 'zod';
import { linearRegression } from '../../src/onnx/index.ts';
import { loadInferenceProto } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { service, tensor } from '../../src/index.ts';
import { serveModels, type ModelServer } from '../../src/serving/index.ts';
import { saveOnnx, tempModels } from '../../src/testing/protocol-serving.ts';

const RUNS = Number(process.env.FUZZ_RUNS ?? 60);
let server: ModelServer;
let client: grpc.Client;

before(async () => {
  const models = await tempModels();
  await saveOnnx(models, 'lin:1', linearRegression({ weights: [[2], [3]], bias: [1] }));
  const svc = service('fuzz', { models: { lin: 'lin:1' } }).api('predict', {
    input: z.object({ x: z.array(z.number()).length(2), tag: z.string().max(20).optional() }),
    output: z.object({ y: z.number() }),
    handler: async ({ x }, ctx) => ({ y: (await ctx.models.lin.run({ input: tensor('float32', [1, 2], Float32Array.from(x)) })).get('output', 'float32').data[0]! }),
  });
  server = await serveModels({ store: models.store, models: [{ name: 'lin' }], service: svc, inProcess: true, pollIntervalMs: 0, http: { port: 0, logLevel: 'silent' }, grpc: { port: 0 } });
  await server.ready;
  const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await server?.close();
});

async function send(path: string, body: string | Buffer, headers: Record<string, string>): Promise<number> {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status >= 400) {
    const parsed = JSON.parse(text) as Record<string, unknown>; // every error body is JSON
    assert.ok(typeof parsed.error === 'string' || typeof parsed.code === 'string', `error body without a code or error: ${text}`);
  }
  return res.status;
}

const notServerError = (status: number, what: string) => assert.ok(status < 500, `${what} answered ${status}`);

/** A V2 request that is valid, then bent: fields replaced by arbitrary JSON, shapes and data of any size. */
const v2Body = fc.record(
  {
    id: fc.oneof(fc.string(), fc.jsonValue()),
    inputs: fc.oneof(
      fc.array(
        fc.record(
          {
            name: fc.oneof(fc.constant('input'), fc.string()),
            datatype: fc.oneof(fc.constantFrom('FP32', 'FP16', 'INT64', 'BYTES', 'BOOL', 'fp32', ''), fc.jsonValue()),
            shape: fc.oneof(fc.array(fc.integer({ min: -3, max: 5 }), { maxLength: 4 }), fc.jsonValue()),
            data: fc.oneof(fc.array(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.boolean()), { maxLength: 12 }), fc.jsonValue()),
            parameters: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      fc.jsonValue(),
    ),
    outputs: fc.jsonValue(),
    parameters: fc.oneof(fc.record({ timeout: fc.jsonValue(), priority: fc.jsonValue(), binary_data_output: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

async function servesAValidRequest(): Promise<void> {
  const res = await fetch(`${server.url}/v2/models/lin/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 1] }] }),
  });
  assert.equal(res.status, 200);
  assert.deepEqual(((await res.json()) as { outputs: { data: number[] }[] }).outputs[0]!.data, [6]);
}

test('V2 REST JSON: any body gets an answer below 500', async () => {
  await fc.assert(
    fc.asyncProperty(fc.oneof(v2Body, fc.jsonValue()), async (body) => notServerError(await send('/v2/models/lin/infer', JSON.stringify(body), { 'content-type': 'application/json' }), JSON.stringify(body))),
    { numRuns: RUNS },
  );
  await servesAValidRequest();
});

test('V2 REST binary: any JSON header length and bytes get an answer below 500', async () => {
  await fc.assert(
    fc.asyncProperty(v2Body, fc.uint8Array({ maxLength: 64 }), fc.oneof(fc.nat(200), fc.constantFrom('-1', 'x', '1e3', '')), async (header, tail, length) => {
      const json = Buffer.from(JSON.stringify(header));
      const declared = typeof length === 'number' ? String(Math.min(length, json.length + tail.length + 8)) : length;
      const status = await send('/v2/models/lin/infer', Buffer.concat([json, tail]), { 'content-type': 'application/octet-stream', 'inference-header-content-length': declared });
      notServerError(status, `binary body, header length ${declared}`);
    }),
    { numRuns: RUNS },
  );
  await servesAValidRequest();
});

test('TF Serving :predict and the service API: any JSON, or bytes that are not JSON, get an answer below 500', async () => {
  const tfBody = fc.oneof(
    fc.record({ instances: fc.jsonValue(), signature_name: fc.jsonValue() }, { requiredKeys: [] }),
    fc.record({ inputs: fc.jsonValue() }, { requiredKeys: [] }),
    fc.jsonValue(),
  );
  await fc.assert(
    fc.asyncProperty(tfBody, async (body) => notServerError(await send('/v1/models/lin:predict', JSON.stringify(body), { 'content-type': 'application/json' }), JSON.stringify(body))),
    { numRuns: RUNS },
  );
  const apiBody = fc.oneof(fc.record({ x: fc.jsonValue(), tag: fc.jsonValue() }, { requiredKeys: [] }), fc.jsonValue());
  await fc.assert(
    fc.asyncProperty(apiBody, async (body) => {
      const status = await send('/predict', JSON.stringify(body), { 'content-type': 'application/json' });
      notServerError(status, JSON.stringify(body));
    }),
    { numRuns: RUNS },
  );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'), async (bytes, type) => {
      notServerError(await send('/predict', Buffer.from(bytes), { 'content-type': type }), `${bytes.length} bytes as ${type}`);
    }),
    { numRuns: RUNS },
  );
  const ok = await fetch(`${server.url}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ x: [1, 1] }) });
  assert.deepEqual(await ok.json(), { y: 6 });
});

test('gRPC ModelInfer: any bytes get a status other than INTERNAL or UNKNOWN', async () => {
  const raw = (bytes: Buffer) =>
    new Promise<grpc.status>((resolve) =>
      client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, bytes, { deadline: Date.now() + 10_000 }, (err) => resolve(err ? err.code : grpc.status.OK)),
    );
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 128 }), async (bytes) => {
      const code = await raw(Buffer.from(bytes));
      assert.ok(code !== grpc.status.INTERNAL && code !== grpc.status.UNKNOWN && code !== grpc.status.DEADLINE_EXCEEDED, `${Buffer.from(bytes).toString('hex')} answered ${grpc.status[code]}`);
    }),
    { numRuns: RUNS },
  );
  await servesAValidRequest();
});
