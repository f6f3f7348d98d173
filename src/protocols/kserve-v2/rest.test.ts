// Conformance of the V2 REST API (KServe Open Inference Protocol, binary tensor data and model
// repository extensions) against a real fastify server and ONNX models in a temporary store.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { identity, linearRegression, mixedIO } from '../../onnx/index.ts';
import type { Models } from '../../models/index.ts';
import { inProcessLoader, type ModelLoader, type ModelRepository } from '../../repository/index.ts';
import type { DType } from '../../runtime/tensor.ts';
import { getJson, postJson, repositoryOver, saveOnnx, serveProtocols, tempModels, type TestServer } from '../../testing/protocol-serving.ts';
import { datatypeOfDtype } from './datatypes.ts';

/** Datatypes onnxruntime can run through Identity (BF16 cannot be loaded by onnxruntime-node 1.30). */
const SAMPLES: Partial<Record<DType, unknown[]>> = {
  bool: [true, false, true, false],
  uint8: [0, 1, 254, 255],
  uint16: [0, 1, 65534, 65535],
  uint32: [0, 1, 4294967294, 4294967295],
  uint64: [0, 1, 2, 3],
  int8: [-128, -1, 0, 127],
  int16: [-32768, -1, 0, 32767],
  int32: [-2147483648, -1, 0, 2147483647],
  int64: [-5, -1, 0, 9007199254740991],
  float16: [0.5, -2, 65504, 0],
  float32: [1.5, -0.25, 3.4028234663852886e38, 0],
  float64: [Math.PI, -1e300, 5e-324, 0],
  string: ['a', '', 'héllo', 'x y'],
};

let models: Models;
let repository: ModelRepository;
let server: TestServer;
let v2: string;

before(async () => {
  models = await tempModels();
  await saveOnnx(models, 'mixed:1', mixedIO());
  await saveOnnx(models, 'mixed:2', mixedIO());
  for (const dtype of Object.keys(SAMPLES) as DType[]) await saveOnnx(models, `id-${dtype}:1`, identity({ dtype, shape: [-1, 2] }));
  repository = repositoryOver(models, [
    { name: 'mixed', versions: 'all' },
    ...Object.keys(SAMPLES).map((dtype) => ({ name: `id-${dtype}` })),
  ]);
  await repository.start();
  server = await serveProtocols(repository, { bodyLimit: 1024 * 1024 });
  v2 = `${server.url}/v2`;
});

after(async () => {
  await server?.close();
  await repository?.close();
});

function mixedInputs(rows = 2) {
  return [
    { name: 'x', datatype: 'FP32', shape: [rows, 3], data: Array.from({ length: rows * 3 }, (_, i) => i + 0.5) },
    { name: 'count', datatype: 'INT64', shape: [rows, 1], data: Array.from({ length: rows }, (_, i) => i - 1) },
    { name: 'flag', datatype: 'BOOL', shape: [rows, 1], data: Array.from({ length: rows }, (_, i) => i % 2 === 0) },
    { name: 'text', datatype: 'BYTES', shape: [rows, 1], data: Array.from({ length: rows }, (_, i) => `row ${i}`) },
  ];
}

async function rawPost(url: string, body: Buffer | string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** A binary request: the JSON (each input with its binary_data_size) then the inputs' bytes. */
function binaryRequest(json: Record<string, unknown>, blobs: Uint8Array[]): { body: Buffer; headers: Record<string, string> } {
  const head = Buffer.from(JSON.stringify(json));
  return { body: Buffer.concat([head, ...blobs]), headers: { 'inference-header-content-length': String(head.byteLength), 'content-type': 'application/octet-stream' } };
}

function splitResponse(res: { headers: Headers; body: Buffer }): { json: Record<string, unknown> & { outputs: { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: { binary_data_size: number } }[] }; binary: Buffer } {
  const n = res.headers.get('inference-header-content-length');
  const end = n === null ? res.body.byteLength : Number(n);
  return { json: JSON.parse(res.body.subarray(0, end).toString()), binary: res.body.subarray(end) };
}

function errorOf(body: unknown): string {
  assert.equal(typeof body, 'object');
  const keys = Object.keys(body as object);
  assert.deepEqual(keys, ['error'], `an error body holds only "error", got ${JSON.stringify(body)}`);
  return (body as { error: string }).error;
}

test('health: live and ready answer 200; server metadata names the extensions', async () => {
  assert.deepEqual(await getJson(`${v2}/health/live`), { status: 200, body: { live: true } });
  assert.deepEqual(await getJson(`${v2}/health/ready`), { status: 200, body: { ready: true } });
  const meta = await getJson(v2);
  assert.equal(meta.status, 200);
  const body = meta.body as { name: string; version: string; extensions: string[] };
  assert.equal(body.name, 'tiffin');
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.ok(body.extensions.includes('binary_tensor_data') && body.extensions.includes('model_repository'));
  assert.equal((await getJson(`${v2}/`)).status, 200);
});

test('model metadata: platform, versions, inputs and outputs with V2 datatypes and -1 for dynamic dimensions', async () => {
  const { status, body } = await getJson(`${v2}/models/mixed`);
  assert.equal(status, 200);
  assert.deepEqual(body, {
    name: 'mixed',
    versions: ['2', '1'],
    platform: 'onnxruntime_onnx',
    inputs: [
      { name: 'x', datatype: 'FP32', shape: [-1, 3] }, { name: 'count', datatype: 'INT64', shape: [-1, 1] },
      { name: 'flag', datatype: 'BOOL', shape: [-1, 1] }, { name: 'text', datatype: 'BYTES', shape: [-1, 1] },
    ],
    outputs: [
      { name: 'sum', datatype: 'FP32', shape: [-1, 1] }, { name: 'doubled', datatype: 'INT64', shape: [-1, 1] },
      { name: 'negated', datatype: 'BOOL', shape: [-1, 1] }, { name: 'echoed', datatype: 'BYTES', shape: [-1, 1] },
    ],
  });
  const v1 = await getJson(`${v2}/models/mixed/versions/1`);
  assert.deepEqual((v1.body as { versions: string[] }).versions, ['1']);
  const id16 = await getJson(`${v2}/models/id-float16`);
  assert.deepEqual((id16.body as { inputs: unknown[] }).inputs, [{ name: 'input', datatype: 'FP16', shape: [-1, 2] }]);
});

test('model readiness per model and per version; unknown ones are 404', async () => {
  assert.deepEqual(await getJson(`${v2}/models/mixed/ready`), { status: 200, body: { name: 'mixed', ready: true } });
  assert.deepEqual(await getJson(`${v2}/models/mixed/versions/1/ready`), { status: 200, body: { name: 'mixed', ready: true } });
  const unknown = await getJson(`${v2}/models/nope/ready`);
  assert.equal(unknown.status, 404);
  assert.match(errorOf(unknown.body), /unknown model "nope"/);
  assert.equal((await getJson(`${v2}/models/mixed/versions/9/ready`)).status, 404);
});

test('inference in JSON: every output by default, model_version of the default version, id echoed, nested data accepted', async () => {
  const inputs = mixedInputs();
  inputs[0]!.data = [[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]] as unknown as number[];
  const res = await postJson(`${v2}/models/mixed/infer`, { id: 'req-42', inputs });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  assert.deepEqual(res.body, {
    model_name: 'mixed',
    model_version: '2',
    id: 'req-42',
    outputs: [
      { name: 'sum', datatype: 'FP32', shape: [2, 1], data: [4.5, 13.5] },
      { name: 'doubled', datatype: 'INT64', shape: [2, 1], data: [-2, 0] },
      { name: 'negated', datatype: 'BOOL', shape: [2, 1], data: [false, true] },
      { name: 'echoed', datatype: 'BYTES', shape: [2, 1], data: ['row 0', 'row 1'] },
    ],
  });
  const pinned = await postJson(`${v2}/models/mixed/versions/1/infer`, { inputs: mixedInputs(1) });
  assert.equal((pinned.body as { model_version: string }).model_version, '1');
  assert.equal((pinned.body as { id?: string }).id, undefined, 'no id in the request, none in the response');
});

test('requested outputs: only those, in the order asked; parameters are accepted and checked', async () => {
  const res = await postJson(`${v2}/models/mixed/infer`, {
    inputs: mixedInputs(1),
    outputs: [{ name: 'echoed' }, { name: 'sum' }],
    parameters: { priority: 1, timeout: 5_000_000, custom: 'ignored' },
  });
  assert.equal(res.status, 200);
  assert.deepEqual((res.body as { outputs: { name: string }[] }).outputs.map((o) => o.name), ['echoed', 'sum']);
  const bad = await postJson(`${v2}/models/mixed/infer`, { inputs: mixedInputs(1), parameters: { priority: 'high' } });
  assert.equal(bad.status, 400);
  assert.match(errorOf(bad.body), /priority/);
  const unknown = await postJson(`${v2}/models/mixed/infer`, { inputs: mixedInputs(1), outputs: [{ name: 'nope' }] });
  assert.equal(unknown.status, 400);
  assert.match(errorOf(unknown.body), /unknown output "nope"/);
});

test('64-bit integers travel exactly (as numbers beyond 2^53 in responses, strings accepted in requests)', async () => {
  const inputs = mixedInputs(2);
  inputs[1]!.data = ['4611686018427387903', '-4611686018427387904'] as unknown as number[];
  const res = await rawPost(`${v2}/models/mixed/infer`, JSON.stringify({ inputs, outputs: [{ name: 'doubled' }] }), { 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  assert.match(res.body.toString(), /"data":\[9223372036854775806,-9223372036854775808\]/);
});

test('every datatype: JSON and binary forms give identical results, equal to the input', async () => {
  for (const [dtype, values] of Object.entries(SAMPLES) as [DType, unknown[]][]) {
    const datatype = datatypeOfDtype(dtype);
    const url = `${v2}/models/id-${dtype}/infer`;
    const json = await postJson(url, { inputs: [{ name: 'input', datatype, shape: [2, 2], data: values }] });
    assert.equal(json.status, 200, `${dtype}: ${JSON.stringify(json.body)}`);
    const jsonOut = (json.body as { outputs: { datatype: string; shape: number[]; data: unknown[] }[] }).outputs[0]!;
    assert.equal(jsonOut.datatype, datatype);
    assert.deepEqual(jsonOut.shape, [2, 2]);
    assert.deepEqual(jsonOut.data, values, `${dtype} JSON round trip`);

    // The same values sent as binary, answered in binary.
    const first = await postJson(url, { inputs: [{ name: 'input', datatype, shape: [2, 2], data: values }], parameters: { binary_data_output: true } });
    assert.equal(first.status, 200);
    const raw = await rawPost(url, JSON.stringify({ inputs: [{ name: 'input', datatype, shape: [2, 2], data: values }], parameters: { binary_data_output: true } }), { 'content-type': 'application/json' });
    const { json: head, binary } = splitResponse(raw);
    assert.equal(raw.headers.get('content-type'), 'application/octet-stream');
    assert.equal(head.outputs[0]!.parameters!.binary_data_size, binary.byteLength);
    assert.equal(head.outputs[0]!.data, undefined);

    const request = binaryRequest({ inputs: [{ name: 'input', datatype, shape: [2, 2], parameters: { binary_data_size: binary.byteLength } }], parameters: { binary_data_output: true } }, [binary]);
    const bin = await rawPost(url, request.body, request.headers);
    assert.equal(bin.status, 200, `${dtype}: ${bin.body.toString()}`);
    const split = splitResponse(bin);
    assert.deepEqual(split.json.outputs[0]!.shape, [2, 2]);
    assert.ok(split.binary.equals(binary), `${dtype}: binary in, binary out, same bytes`);

    // Binary in, JSON out: the same JSON as the all-JSON request.
    const mixedForm = binaryRequest({ inputs: [{ name: 'input', datatype, shape: [2, 2], parameters: { binary_data_size: binary.byteLength } }] }, [binary]);
    const back = await rawPost(url, mixedForm.body, mixedForm.headers);
    assert.equal(back.headers.get('inference-header-content-length'), null);
    assert.deepEqual(JSON.parse(back.body.toString()), json.body, `${dtype}: binary request, JSON response`);
  }
});

test('binary_data per requested output overrides binary_data_output; binary outputs follow the JSON in output order', async () => {
  const res = await rawPost(`${v2}/models/mixed/infer`, JSON.stringify({
    inputs: mixedInputs(2),
    parameters: { binary_data_output: true },
    outputs: [{ name: 'sum' }, { name: 'negated', parameters: { binary_data: false } }, { name: 'echoed' }],
  }), { 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  const { json, binary } = splitResponse(res);
  assert.deepEqual(json.outputs.map((o) => [o.name, o.parameters?.binary_data_size ?? null, o.data ?? null]), [
    ['sum', 8, null], ['negated', null, [false, true]], ['echoed', 18, null],
  ]);
  assert.deepEqual([...new Float32Array(binary.buffer.slice(binary.byteOffset, binary.byteOffset + 8))], [4.5, 13.5]);
  const text = binary.subarray(8);
  assert.equal(text.readUInt32LE(0), 5);
  assert.equal(text.subarray(4, 9).toString(), 'row 0');
  assert.equal(text.readUInt32LE(9), 5);
  assert.equal(text.subarray(13).toString(), 'row 1');
});

test('errors: unknown model or version 404; wrong shape, wrong datatype, BF16 the model lacks, missing input 400', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    [`${v2}/models/nope/infer`, { inputs: mixedInputs(1) }, 404, /unknown model "nope"/],
    [`${v2}/models/mixed/versions/9/infer`, { inputs: mixedInputs(1) }, 404, /unknown version "9"/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }, 400, /shape \[1, 3\] does not match the model's \[-1, 2\]/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'FP64', shape: [1, 2], data: [1, 2] }] }, 400, /datatype FP64 does not match the model's FP32/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'BF16', shape: [1, 2], data: [1, 2] }] }, 400, /datatype BF16 does not match the model's FP32/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [2], data: [1, 2] }] }, 400, /shape \[2\] does not match/],
    [`${v2}/models/mixed/infer`, { inputs: mixedInputs(1).slice(1) }, 400, /missing input "x"/],
    [`${v2}/models/mixed/infer`, { inputs: [...mixedInputs(1), { name: 'extra', datatype: 'FP32', shape: [1], data: [1] }] }, 400, /unknown input "extra"/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 'x'] }] }, 400, /element 1 \("x"\) is not a valid float32/],
    [`${v2}/models/id-float32/infer`, { inputs: [{ name: 'input', datatype: 'FP99', shape: [1, 2], data: [1, 2] }] }, 400, /unknown datatype "FP99"/],
    [`${v2}/models/id-float32/infer`, { inputs: [] }, 400, /"inputs" must be a non-empty list/],
    [`${v2}/models/id-float32/infer`, [1, 2], 400, /must be a JSON object/],
  ];
  for (const [url, body, status, message] of cases) {
    const res = await postJson(url, body);
    assert.equal(res.status, status, `${url} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.match(errorOf(res.body), message);
  }
  const notJson = await rawPost(`${v2}/models/id-float32/infer`, '{"inputs": [', { 'content-type': 'application/json' });
  assert.equal(notJson.status, 400);
  assert.match(errorOf(JSON.parse(notJson.body.toString())), /not valid JSON/);
  const noRoute = await getJson(`${v2}/nothing/here`);
  assert.equal(noRoute.status, 404);
  errorOf(noRoute.body);
});

test('errors: malformed binary header and binary sizes that do not add up are 400', async () => {
  const blob = Buffer.from(new Float32Array([1, 2]).buffer);
  const good = binaryRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }] }, [blob]);
  assert.equal((await rawPost(`${v2}/models/id-float32/infer`, good.body, good.headers)).status, 200);
  const variants: [Record<string, string>, Buffer, RegExp][] = [
    [{ ...good.headers, 'inference-header-content-length': 'ten' }, good.body, /must be a byte count/],
    [{ ...good.headers, 'inference-header-content-length': String(good.body.byteLength + 10) }, good.body, /but the body has/],
    [{ ...good.headers, 'inference-header-content-length': '5' }, good.body, /not valid JSON/],
    [good.headers, Buffer.concat([good.body, Buffer.from([0, 0, 0, 0])]), /add up to 8/],
    [good.headers, good.body.subarray(0, good.body.byteLength - 4), /runs past the end/],
  ];
  for (const [headers, body, message] of variants) {
    const res = await rawPost(`${v2}/models/id-float32/infer`, body, headers);
    assert.equal(res.status, 400, message.source);
    assert.match(errorOf(JSON.parse(res.body.toString())), message);
  }
  const wrongSize = binaryRequest({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 4 } }] }, [blob.subarray(0, 4)]);
  const res = await rawPost(`${v2}/models/id-float32/infer`, wrongSize.body, wrongSize.headers);
  assert.equal(res.status, 400);
  assert.match(errorOf(JSON.parse(res.body.toString())), /needs 8 bytes, got 4/);
});

test('errors: a body over the limit is 413 with the V2 error shape', async () => {
  const big = JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: [1, 2] }], pad: 'x'.repeat(1024 * 1024 + 1) });
  const res = await rawPost(`${v2}/models/id-float32/infer`, big, { 'content-type': 'application/json' });
  assert.equal(res.status, 413);
  assert.match(errorOf(JSON.parse(res.body.toString())), /too large/);
});

test('model repository extension: index lists versions with state, unload and load through the API', async () => {
  const index = await postJson(`${v2}/repository/index`, {});
  assert.equal(index.status, 200);
  const rows = index.body as { name: string; version?: string; state: string; reason: string }[];
  assert.deepEqual(rows.filter((r) => r.name === 'mixed'), [
    { name: 'mixed', version: '2', state: 'READY', reason: '' },
    { name: 'mixed', version: '1', state: 'READY', reason: '' },
  ]);
  assert.equal(rows.length, 2 + Object.keys(SAMPLES).length);

  assert.equal((await postJson(`${v2}/repository/models/id-int8/unload`, {})).status, 200);
  const notReady = await getJson(`${v2}/models/id-int8/ready`);
  assert.equal(notReady.status, 400);
  assert.equal((notReady.body as { ready: boolean }).ready, false);
  const infer = await postJson(`${v2}/models/id-int8/infer`, { inputs: [{ name: 'input', datatype: 'INT8', shape: [1, 2], data: [1, 2] }] });
  assert.equal(infer.status, 503);
  assert.match(errorOf(infer.body), /not ready|no ready version/);
  const after = (await postJson(`${v2}/repository/index`, {})).body as { name: string; state: string; reason: string }[];
  assert.ok(after.some((r) => r.name === 'id-int8' && r.state === 'UNAVAILABLE' && r.reason === 'unloaded'));
  const readyOnly = (await postJson(`${v2}/repository/index`, { ready: true })).body as { name: string }[];
  assert.ok(!readyOnly.some((r) => r.name === 'id-int8'));

  const load = await rawPost(`${v2}/repository/models/id-int8/load`, '');
  assert.equal(load.status, 200);
  assert.equal((await getJson(`${v2}/models/id-int8/ready`)).status, 200);
  const missing = await postJson(`${v2}/repository/models/ghost/load`, {});
  assert.equal(missing.status, 404);
  errorOf(missing.body);
});

test('hot reload and load failures: a new version is served without a restart; a corrupt model is FAILED in the index while the others serve', async () => {
  const store = await tempModels();
  await saveOnnx(store, 'hot:1', linearRegression({ weights: [[1]], bias: [1] }));
  await saveOnnx(store, 'steady:1', linearRegression({ weights: [[1]], bias: [0] }));
  const manifest = await saveOnnx(store, 'broken:1', linearRegression({ weights: [[1]], bias: [0] }));
  // Corrupt the stored model file by hand, as a bad disk or a bad copy would.
  const dir = join(store.store.root, manifest.name, manifest.version);
  await writeFile(join(dir, manifest.entry), 'not an onnx model');

  // Calls to version 1 of `hot` wait on a gate while it is set, to hold one in flight across the reload.
  let gate: Promise<void> | undefined;
  const inProcess = inProcessLoader(store, { intraOpThreads: 1, executionProviders: ['cpu'] });
  const loader: ModelLoader = async (tag, context) => {
    const model = await inProcess(tag, context);
    if (tag !== 'hot:1') return model;
    const run = model.run;
    return { ...model, run: async (feeds, options) => {
      await gate;
      return run(feeds, options);
    } };
  };
  const repo = repositoryOver(store, [{ name: 'hot' }, { name: 'steady' }, { name: 'broken' }], { pollIntervalMs: 100, loader });
  await repo.start();
  const live = await serveProtocols(repo);
  try {
    const infer = (model: string) => postJson(`${live.url}/v2/models/${model}/infer`, { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 1], data: [1] }] });
    const first = (await infer('hot')).body as { model_version: string; outputs: { data: number[] }[] };
    assert.deepEqual([first.model_version, first.outputs[0]!.data], ['1', [2]]);

    const index = (await postJson(`${live.url}/v2/repository/index`, {})).body as { name: string; version?: string; state: string; reason: string }[];
    const broken = index.find((r) => r.name === 'broken');
    assert.equal(broken?.state, 'FAILED');
    assert.match(broken?.reason ?? '', /could not load/);
    assert.equal((await getJson(`${live.url}/v2/health/ready`)).status, 400, 'strict readiness: a failed model makes the server unready');
    assert.equal((await infer('steady')).status, 200, 'the other models keep serving');
    const brokenInfer = await infer('broken');
    assert.equal(brokenInfer.status, 503);
    assert.match(errorOf(brokenInfer.body), /could not load/);

    let open!: () => void;
    gate = new Promise<void>((resolve) => { open = resolve; });
    const held = infer('hot');
    await sleep(50);

    await saveOnnx(store, 'hot:2', linearRegression({ weights: [[1]], bias: [2] }));
    // Wait (without calling version 1, whose calls are held) until the poller has version 2 READY.
    for (let i = 0; i < 200; i++) {
      const meta = (await getJson(`${live.url}/v2/models/hot`)).body as { versions: string[] };
      if (meta.versions[0] === '2') break;
      await sleep(50);
    }
    const now = (await infer('hot')).body as typeof first;
    assert.deepEqual([now.model_version, now.outputs[0]!.data], ['2', [3]]);
    const during = (await postJson(`${live.url}/v2/repository/index`, {})).body as { name: string; version?: string; state: string }[];
    assert.deepEqual(during.filter((r) => r.name === 'hot').map((r) => [r.version, r.state]), [['2', 'READY'], ['1', 'UNLOADING']], 'version 1 drains its in-flight call');

    open();
    const finished = await held;
    assert.equal(finished.status, 200);
    assert.deepEqual([(finished.body as typeof first).model_version, (finished.body as typeof first).outputs[0]!.data], ['1', [2]], 'the in-flight call completed on version 1');
    let versions: string[] = [];
    for (let i = 0; i < 100; i++) {
      versions = ((await postJson(`${live.url}/v2/repository/index`, {})).body as { name: string; version?: string }[]).filter((r) => r.name === 'hot').map((r) => r.version ?? '');
      if (versions.length === 1) break;
      await sleep(20);
    }
    assert.deepEqual(versions, ['2'], 'version 1 unloads once drained');
    const meta = await getJson(`${live.url}/v2/models/hot`);
    assert.deepEqual((meta.body as { versions: string[] }).versions, ['2']);
  } finally {
    await live.close();
    await repo.close();
  }
});
