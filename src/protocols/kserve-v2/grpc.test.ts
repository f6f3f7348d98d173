// Conformance of the V2 gRPC API and grpc.health.v1 with a real @grpc/grpc-js client built from the
// same .proto files, against ONNX models in a temporary store.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { identity, mixedIO } from '../../onnx/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import type { DType } from '../../runtime/tensor.ts';
import { loadHealthProto } from '../grpc-health/health-service.ts';
import { startGrpcServer, type RunningGrpcServer } from '../grpc-server.ts';
import { repositoryOver, saveOnnx, tempModels } from '../../testing/protocol-serving.ts';
import { datatypeOfDtype } from './datatypes.ts';
import { loadInferenceProto, type InferTensorContents, type ModelInferRequest, type ModelInferResponse } from './grpc-proto.ts';
import { tensorFromRaw, tensorToRaw } from './raw-tensor.ts';

type Unary = (request: unknown, callback: (err: grpc.ServiceError | null, response: unknown) => void) => void;

let repository: ModelRepository;
let server: RunningGrpcServer;
let client: grpc.Client;
let health: grpc.Client;

function callOf<T>(target: grpc.Client, method: string, request: unknown): Promise<T> {
  const fn = (target as unknown as Record<string, Unary>)[method]!.bind(target);
  return new Promise((resolve, reject) => fn(request, (err, res) => (err ? reject(err) : resolve(res as T))));
}

function call<T>(method: string, request: unknown = {}): Promise<T> {
  return callOf<T>(client, method, request);
}

async function rejectsWith(promise: Promise<unknown>, code: grpc.status, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: grpc.ServiceError) => {
    assert.equal(err.code, code, `${grpc.status[err.code]}: ${err.details}`);
    assert.match(err.details, message);
    return true;
  });
}

const TYPED: Partial<Record<DType, [keyof InferTensorContents, unknown[]]>> = {
  bool: ['bool_contents', [true, false, false, true]],
  uint8: ['uint_contents', [0, 1, 254, 255]],
  uint16: ['uint_contents', [0, 1, 2, 65535]],
  uint32: ['uint_contents', [0, 1, 2, 4294967295]],
  uint64: ['uint64_contents', ['0', '1', '2', '18446744073709551615']],
  int8: ['int_contents', [-128, -1, 0, 127]],
  int16: ['int_contents', [-32768, -1, 0, 32767]],
  int32: ['int_contents', [-2147483648, -1, 0, 2147483647]],
  int64: ['int64_contents', ['-9223372036854775808', '-1', '0', '9223372036854775807']],
  float32: ['fp32_contents', [1.5, -0.25, 0, 2]],
  float64: ['fp64_contents', [Math.PI, -1e300, 5e-324, 0]],
  string: ['bytes_contents', [Buffer.from('a'), Buffer.from(''), Buffer.from('héllo'), Buffer.from('x y')]],
};

before(async () => {
  const models = await tempModels();
  await saveOnnx(models, 'mixed:1', mixedIO());
  for (const dtype of [...Object.keys(TYPED), 'float16'] as DType[]) await saveOnnx(models, `id-${dtype}:1`, identity({ dtype, shape: [-1, 2] }));
  repository = repositoryOver(models, [{ name: 'mixed' }, ...[...Object.keys(TYPED), 'float16'].map((d) => ({ name: `id-${d}` }))]);
  await repository.start();
  server = await startGrpcServer({ repository, host: '127.0.0.1', port: 0 });
  const address = `127.0.0.1:${server.port}`;
  const inference = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
  client = new inference.inference.GRPCInferenceService(address, grpc.credentials.createInsecure());
  const healthPkg = grpc.loadPackageDefinition(loadHealthProto()) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  health = new healthPkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  health?.close();
  await server?.close();
  await repository?.close();
});

test('ServerLive, ServerReady, ServerMetadata', async () => {
  assert.deepEqual(await call('ServerLive'), { live: true });
  assert.deepEqual(await call('ServerReady'), { ready: true });
  const meta = await call<{ name: string; version: string; extensions: string[] }>('ServerMetadata');
  assert.equal(meta.name, 'tiffin');
  assert.ok(meta.extensions.includes('binary_tensor_data') && meta.extensions.includes('model_repository'));
});

test('ModelReady and ModelMetadata; unknown model NOT_FOUND', async () => {
  assert.deepEqual(await call('ModelReady', { name: 'mixed' }), { ready: true });
  assert.deepEqual(await call('ModelReady', { name: 'mixed', version: '1' }), { ready: true });
  await rejectsWith(call('ModelReady', { name: 'nope' }), grpc.status.NOT_FOUND, /unknown model "nope"/);
  const meta = await call<{ name: string; versions: string[]; platform: string; inputs: { name: string; datatype: string; shape: string[] }[] }>('ModelMetadata', { name: 'mixed' });
  assert.equal(meta.platform, 'onnxruntime_onnx');
  assert.deepEqual(meta.versions, ['1']);
  assert.deepEqual(meta.inputs.map((i) => [i.name, i.datatype, i.shape]), [['x', 'FP32', ['-1', '3']], ['count', 'INT64', ['-1', '1']], ['flag', 'BOOL', ['-1', '1']], ['text', 'BYTES', ['-1', '1']]]);
  await rejectsWith(call('ModelMetadata', { name: 'mixed', version: '7' }), grpc.status.NOT_FOUND, /unknown version "7"/);
});

test('ModelInfer with typed contents: outputs as raw_output_contents, id echoed, requested outputs honoured', async () => {
  const request: ModelInferRequest = {
    model_name: 'mixed',
    id: 'grpc-1',
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [2, 3], contents: { fp32_contents: [1, 2, 3, 4, 5, 6] } },
      { name: 'count', datatype: 'INT64', shape: [2, 1], contents: { int64_contents: ['4611686018427387903', -3] } },
      { name: 'flag', datatype: 'BOOL', shape: [2, 1], contents: { bool_contents: [true, false] } },
      { name: 'text', datatype: 'BYTES', shape: [2, 1], contents: { bytes_contents: [Buffer.from('a'), Buffer.from('bc')] } },
    ],
    outputs: [{ name: 'doubled' }, { name: 'echoed' }],
  };
  const res = await call<ModelInferResponse>('ModelInfer', request);
  assert.equal(res.model_name, 'mixed');
  assert.equal(res.model_version, '1');
  assert.equal(res.id, 'grpc-1');
  assert.deepEqual(res.outputs.map((o) => [o.name, o.datatype, o.shape]), [['doubled', 'INT64', ['2', '1']], ['echoed', 'BYTES', ['2', '1']]]);
  const doubled = Buffer.from(res.raw_output_contents[0]!);
  assert.deepEqual([doubled.readBigInt64LE(0), doubled.readBigInt64LE(8)], [9223372036854775806n, -6n]);
  assert.deepEqual([...res.raw_output_contents[1]!], [1, 0, 0, 0, 97, 2, 0, 0, 0, 98, 99]);
});

test('every datatype: typed contents and raw_input_contents give identical results, equal to the input', async () => {
  for (const [dtype, [field, values]] of Object.entries(TYPED) as [DType, [keyof InferTensorContents, unknown[]]][]) {
    const datatype = datatypeOfDtype(dtype);
    const typed = await call<ModelInferResponse>('ModelInfer', {
      model_name: `id-${dtype}`, inputs: [{ name: 'input', datatype, shape: [2, 2], contents: { [field]: values } }],
    });
    const rawOut = Buffer.from(typed.raw_output_contents[0]!);
    const raw = await call<ModelInferResponse>('ModelInfer', {
      model_name: `id-${dtype}`, inputs: [{ name: 'input', datatype, shape: [2, 2] }], raw_input_contents: [rawOut],
    });
    assert.deepEqual(raw.outputs, typed.outputs, dtype);
    assert.ok(Buffer.from(raw.raw_output_contents[0]!).equals(rawOut), `${dtype}: raw and typed inputs give the same bytes`);
    const decoded = Array.from(tensorFromRaw(dtype, [2, 2], rawOut, 'output').data as ArrayLike<unknown>);
    const expected = values.map((v) => (Buffer.isBuffer(v) ? v.toString() : typeof v === 'boolean' ? Number(v) : typeof v === 'string' ? BigInt(v) : v));
    assert.deepEqual(decoded, expected, `${dtype}: the output is the input`);
  }
  // Spot checks that the bytes are the input values, little-endian.
  const u64 = await call<ModelInferResponse>('ModelInfer', { model_name: 'id-uint64', inputs: [{ name: 'input', datatype: 'UINT64', shape: [2, 2], contents: { uint64_contents: TYPED.uint64![1] } }] });
  assert.equal(Buffer.from(u64.raw_output_contents[0]!).readBigUInt64LE(24), 18446744073709551615n);
  const f64 = await call<ModelInferResponse>('ModelInfer', { model_name: 'id-float64', inputs: [{ name: 'input', datatype: 'FP64', shape: [2, 2], contents: { fp64_contents: TYPED.float64![1] } }] });
  assert.equal(Buffer.from(f64.raw_output_contents[0]!).readDoubleLE(0), Math.PI);
});

test('FP16 travels as raw contents only', async () => {
  const bits = tensorToRaw({ dtype: 'float16', shape: [1, 2], data: Uint16Array.from([0x3c00, 0xc000]) });
  const res = await call<ModelInferResponse>('ModelInfer', { model_name: 'id-float16', inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 2] }], raw_input_contents: [Buffer.from(bits)] });
  assert.deepEqual([...res.raw_output_contents[0]!], [0x00, 0x3c, 0x00, 0xc0]);
  await rejectsWith(
    call('ModelInfer', { model_name: 'id-float16', inputs: [{ name: 'input', datatype: 'FP16', shape: [1, 2], contents: { fp32_contents: [1, 2] } }] }),
    grpc.status.INVALID_ARGUMENT, /FP16 data must be sent in raw_input_contents/,
  );
});

test('ModelInfer errors map to gRPC status codes', async () => {
  const fp32 = (shape: number[], values: number[], extra: Record<string, unknown> = {}) => ({
    model_name: 'id-float32', inputs: [{ name: 'input', datatype: 'FP32', shape, contents: { fp32_contents: values } }], ...extra,
  });
  await rejectsWith(call('ModelInfer', { ...fp32([1, 2], [1, 2]), model_name: 'nope' }), grpc.status.NOT_FOUND, /unknown model/);
  await rejectsWith(call('ModelInfer', { ...fp32([1, 2], [1, 2]), model_version: '3' }), grpc.status.NOT_FOUND, /unknown version "3"/);
  await rejectsWith(call('ModelInfer', fp32([1, 3], [1, 2, 3])), grpc.status.INVALID_ARGUMENT, /shape \[1, 3\] does not match/);
  await rejectsWith(call('ModelInfer', fp32([1, 2], [1])), grpc.status.INVALID_ARGUMENT, /needs 2 elements, fp32_contents has 1/);
  await rejectsWith(
    call('ModelInfer', { model_name: 'id-float32', inputs: [{ name: 'input', datatype: 'INT32', shape: [1, 2], contents: { int_contents: [1, 2] } }] }),
    grpc.status.INVALID_ARGUMENT, /datatype INT32 does not match the model's FP32/,
  );
  await rejectsWith(
    call('ModelInfer', { model_name: 'id-float32', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [Buffer.alloc(4)] }),
    grpc.status.INVALID_ARGUMENT, /needs 8 bytes, got 4/,
  );
  await rejectsWith(
    call('ModelInfer', { model_name: 'id-float32', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2] }], raw_input_contents: [Buffer.alloc(8), Buffer.alloc(8)] }),
    grpc.status.INVALID_ARGUMENT, /raw_input_contents has 2 entries for 1 inputs/,
  );
  await rejectsWith(call('ModelInfer', fp32([1, 2], [1, 2], { outputs: [{ name: 'nope' }] })), grpc.status.INVALID_ARGUMENT, /unknown output "nope"/);
});

test('repository RPCs: index, unload (model then unavailable), load', async () => {
  const index = await call<{ models: { name: string; version: string; state: string; reason: string }[] }>('RepositoryIndex', {});
  assert.deepEqual(index.models.find((m) => m.name === 'mixed'), { name: 'mixed', version: '1', state: 'READY', reason: '' });
  await call('RepositoryModelUnload', { model_name: 'id-int16' });
  assert.deepEqual(await call('ModelReady', { name: 'id-int16' }), { ready: false });
  await rejectsWith(
    call('ModelInfer', { model_name: 'id-int16', inputs: [{ name: 'input', datatype: 'INT16', shape: [1, 2], contents: { int_contents: [1, 2] } }] }),
    grpc.status.UNAVAILABLE, /no ready version/,
  );
  const readyOnly = await call<{ models: { name: string }[] }>('RepositoryIndex', { ready: true });
  assert.ok(!readyOnly.models.some((m) => m.name === 'id-int16'));
  await call('RepositoryModelLoad', { model_name: 'id-int16' });
  assert.deepEqual(await call('ModelReady', { name: 'id-int16' }), { ready: true });
  await rejectsWith(call('RepositoryModelLoad', { model_name: 'ghost' }), grpc.status.NOT_FOUND, /no model named ghost/);
});

test('grpc.health.v1: Check for the server, the inference service and a model; Watch streams changes', async () => {
  assert.deepEqual(await callOf(health, 'Check', { service: '' }), { status: 'SERVING' });
  assert.deepEqual(await callOf(health, 'Check', { service: 'inference.GRPCInferenceService' }), { status: 'SERVING' });
  assert.deepEqual(await callOf(health, 'Check', { service: 'mixed' }), { status: 'SERVING' });
  await rejectsWith(callOf(health, 'Check', { service: 'ghost' }), grpc.status.NOT_FOUND, /unknown service/);

  const stream = (health as unknown as { Watch(req: unknown): grpc.ClientReadableStream<{ status: string }> }).Watch({ service: 'id-uint16' });
  const seen: string[] = [];
  const statuses = new Promise<void>((resolve) => {
    stream.on('data', (msg: { status: string }) => {
      seen.push(msg.status);
      if (seen.length === 3) resolve();
    });
  });
  stream.on('error', () => {});
  while (seen.length === 0) await new Promise((r) => setTimeout(r, 10));
  await call('RepositoryModelUnload', { model_name: 'id-uint16' });
  await call('RepositoryModelLoad', { model_name: 'id-uint16' });
  await statuses;
  stream.cancel();
  assert.deepEqual(seen, ['SERVING', 'NOT_SERVING', 'SERVING']);
});

test('a request that is not valid protobuf answers INVALID_ARGUMENT, and the server serves the next call', async () => {
  const raw = (bytes: Buffer) =>
    new Promise<unknown>((resolve, reject) =>
      client.makeUnaryRequest('/inference.GRPCInferenceService/ModelInfer', (b: Buffer) => b, (b: Buffer) => b, bytes, (err, res) => (err ? reject(err) : resolve(res))),
    );
  // A field with wire type 7 (there is none); then a varint field cut short.
  await rejectsWith(raw(Buffer.from([0x0f])), grpc.status.INVALID_ARGUMENT, /ModelInfer request is not a valid protobuf message/);
  await rejectsWith(raw(Buffer.from([0x10, 0xff, 0xff])), grpc.status.INVALID_ARGUMENT, /not a valid protobuf/);
  const ok = await call<ModelInferResponse>('ModelInfer', {
    model_name: 'id-float32', inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], contents: { fp32_contents: [1, 2] } }],
  });
  assert.equal(ok.model_name, 'id-float32');
});

test('ModelStreamInfer (Triton\'s streaming extension): answers in request order, a failed request answers its error and the stream goes on', async () => {
  const stream = (client as unknown as { ModelStreamInfer: () => grpc.ClientDuplexStream<ModelInferRequest, { error_message: string; infer_response?: ModelInferResponse }> }).ModelStreamInfer();
  const answers: { error_message: string; infer_response?: ModelInferResponse }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    stream.on('data', (a) => answers.push(a));
    stream.on('end', resolve);
    stream.on('error', reject);
  });
  const n = 20;
  for (let i = 0; i < n; i++) {
    const model_name = i === 7 ? 'no-such-model' : 'id-float32';
    stream.write({ model_name, id: `r${i}`, inputs: [{ name: 'input', datatype: 'FP32', shape: ['1', '2'], contents: { fp32_contents: [i, i * 2] } }] });
  }
  stream.end();
  await done;
  assert.equal(answers.length, n);
  answers.forEach((a, i) => {
    if (i === 7) {
      assert.match(a.error_message, /no-such-model/);
      assert.equal(a.infer_response, null);
      return;
    }
    assert.equal(a.error_message, '');
    assert.equal(a.infer_response!.id, `r${i}`, 'answers keep the order of the requests');
    const out = a.infer_response!;
    assert.deepEqual(Array.from(tensorFromRaw('float32', [1, 2], Buffer.from(out.raw_output_contents[0]!), 'output').data as Float32Array), [i, i * 2]);
  });
});
