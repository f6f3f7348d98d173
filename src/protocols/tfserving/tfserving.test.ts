// Conformance of the TF Serving REST API (status, metadata, predict in row and columnar formats, b64
// binaries, versions and labels, {"error": ...} answers) against a real server and ONNX models.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GraphBuilder, identity, linearRegression, mixedIO } from '../../onnx/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import { getJson, postJson, repositoryOver, saveOnnx, serveProtocols, tempModels, type TestServer } from '../../testing/protocol-serving.ts';

let repository: ModelRepository;
let server: TestServer;
let v1: string;

/** y = x0 + 2·x1 + bias (bias 1 for version 1, 2 for version 2). */
function lr(bias: number): Uint8Array {
  return linearRegression({ weights: [[1], [2]], bias: [bias] });
}

function echoBytes(): Uint8Array {
  return new GraphBuilder('echo_bytes')
    .input('image_bytes', 'string', [-1])
    .node('Identity', ['image_bytes'], ['echo_bytes'])
    .output('echo_bytes', 'string', [-1])
    .build();
}

before(async () => {
  const models = await tempModels();
  await saveOnnx(models, 'lr:1', lr(1));
  await saveOnnx(models, 'lr:2', lr(2));
  await saveOnnx(models, 'mixed:1', mixedIO());
  await saveOnnx(models, 'blob:1', echoBytes());
  await saveOnnx(models, 'pixels:1', identity({ dtype: 'uint8', shape: [-1, -1] }));
  repository = repositoryOver(models, [{ name: 'lr', labels: { stable: '1', canary: '2' } }, { name: 'mixed' }, { name: 'blob' }, { name: 'pixels' }]);
  await repository.start();
  server = await serveProtocols(repository);
  v1 = `${server.url}/v1/models`;
});

after(async () => {
  await server?.close();
  await repository?.close();
});

function errorOf(body: unknown): string {
  assert.deepEqual(Object.keys(body as object), ['error'], JSON.stringify(body));
  return (body as { error: string }).error;
}

test('model status: every version, one version, or a label; unknown ones 404', async () => {
  const all = await getJson(`${v1}/lr`);
  assert.equal(all.status, 200);
  assert.deepEqual(all.body, {
    model_version_status: [
      { version: '2', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
      { version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } },
    ],
  });
  assert.deepEqual((await getJson(`${v1}/lr/versions/1`)).body, { model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }] });
  assert.deepEqual(((await getJson(`${v1}/lr/labels/canary`)).body as { model_version_status: { version: string }[] }).model_version_status[0]!.version, '2');
  for (const path of ['nope', 'lr/versions/9', 'lr/labels/nope', 'lr/bogus/1', 'lr:predict']) {
    const res = await getJson(`${v1}/${path}`);
    assert.equal(res.status, 404, path);
    errorOf(res.body);
  }
});

test('model metadata: the serving_default signature with TF dtypes and shapes', async () => {
  const { status, body } = await getJson(`${v1}/lr/labels/stable/metadata`);
  assert.equal(status, 200);
  assert.deepEqual(body, {
    model_spec: { name: 'lr', signature_name: '', version: '1' },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { input: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '2', name: '' }], unknown_rank: false }, name: 'input' } },
            outputs: { output: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1', name: '' }, { size: '1', name: '' }], unknown_rank: false }, name: 'output' } },
            method_name: 'tensorflow/serving/predict',
          },
        },
      },
    },
  });
  const mixed = (await getJson(`${v1}/mixed/metadata`)).body as { metadata: { signature_def: { signature_def: { serving_default: { inputs: Record<string, { dtype: string }> } } } } };
  assert.deepEqual(Object.values(mixed.metadata.signature_def.signature_def.serving_default.inputs).map((i) => i.dtype), ['DT_FLOAT', 'DT_INT64', 'DT_BOOL', 'DT_STRING']);
});

test('predict, row format: instances in, predictions out; versions and labels pick the model', async () => {
  const body = { instances: [[1, 2], [3, 4]] };
  assert.deepEqual(await postJson(`${v1}/lr:predict`, body).then((r) => r.body), { predictions: [[7], [13]] });
  assert.deepEqual(await postJson(`${v1}/lr/versions/1:predict`, body).then((r) => r.body), { predictions: [[6], [12]] });
  assert.deepEqual(await postJson(`${v1}/lr/labels/stable:predict`, body).then((r) => r.body), { predictions: [[6], [12]] });
  assert.deepEqual(await postJson(`${v1}/lr:predict`, { signature_name: 'serving_default', instances: [{ input: [1, 1] }] }).then((r) => r.body), { predictions: [[5]] });
});

test('predict, columnar format: inputs in, outputs out', async () => {
  assert.deepEqual(await postJson(`${v1}/lr:predict`, { inputs: [[1, 2], [3, 4]] }).then((r) => r.body), { outputs: [[7], [13]] });
  assert.deepEqual(await postJson(`${v1}/lr:predict`, { inputs: { input: [[0, 0]] } }).then((r) => r.body), { outputs: [[2]] });
});

test('predict with several named inputs and outputs, in both formats', async () => {
  const row = await postJson(`${v1}/mixed:predict`, {
    instances: [
      { x: [1, 2, 3], count: [5], flag: [true], text: ['a'] },
      { x: [0, 0, 1], count: [-1], flag: [false], text: ['b'] },
    ],
  });
  assert.equal(row.status, 200);
  assert.deepEqual(row.body, {
    predictions: [
      { sum: [6], doubled: [10], negated: [false], echoed: ['a'] },
      { sum: [1], doubled: [-2], negated: [true], echoed: ['b'] },
    ],
  });
  const columnar = await postJson(`${v1}/mixed:predict`, { inputs: { x: [[1, 2, 3]], count: [[5]], flag: [[true]], text: [['a']] } });
  assert.deepEqual(columnar.body, { outputs: { sum: [[6]], doubled: [[10]], negated: [[false]], echoed: [['a']] } });
});

test('binary values: {"b64": ...} in, and outputs named *_bytes come back base64-encoded', async () => {
  const b64 = (s: string) => ({ b64: Buffer.from(s).toString('base64') });
  const row = await postJson(`${v1}/blob:predict`, { instances: [b64('héllo'), b64('bytes')] });
  assert.deepEqual(row.body, { predictions: [b64('héllo'), b64('bytes')] });
  const columnar = await postJson(`${v1}/blob:predict`, { inputs: { image_bytes: [b64('x')] } });
  assert.deepEqual(columnar.body, { outputs: [b64('x')] });
  // An 8-bit input takes the decoded bytes as its row.
  const pixels = await postJson(`${v1}/pixels:predict`, { instances: [{ b64: Buffer.from([0, 128, 255]).toString('base64') }] });
  assert.deepEqual(pixels.body, { predictions: [[0, 128, 255]] });
});

test('NaN and Infinity tokens are accepted and written as TF Serving does', async () => {
  const res = await fetch(`${v1}/lr:predict`, { method: 'POST', body: '{"instances": [[NaN, 1], [Infinity, 0]]}' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '{"predictions":[[NaN],[Infinity]]}');
});

test('predict errors answer {"error": ...} with the right status', async () => {
  const cases: [string, unknown, number, RegExp][] = [
    [`${v1}/nope:predict`, { instances: [[1, 2]] }, 404, /unknown model "nope"/],
    [`${v1}/lr/versions/9:predict`, { instances: [[1, 2]] }, 404, /unknown version "9"/],
    [`${v1}/lr:predict`, { instances: [[1, 2, 3]] }, 400, /shape \[-1, 2\].*\[1, 3\]/],
    [`${v1}/lr:predict`, { instances: [[1, 2], [3]] }, 400, /does not match the shape/],
    [`${v1}/lr:predict`, { instances: [[1, 2]], inputs: [[1, 2]] }, 400, /exactly one of "instances"/],
    [`${v1}/lr:predict`, {}, 400, /exactly one of "instances"/],
    [`${v1}/lr:predict`, { instances: [] }, 400, /non-empty list/],
    [`${v1}/lr:predict`, { signature_name: 'classify', instances: [[1, 2]] }, 400, /signature "classify" not found/],
    [`${v1}/lr:predict`, { instances: [['a', 'b']] }, 400, /not a valid float32/],
    [`${v1}/mixed:predict`, { instances: [{ x: [1, 2, 3], count: [5], flag: [true] }] }, 400, /no value for input "text"/],
    [`${v1}/mixed:predict`, { instances: [{ x: [1, 2, 3], count: [5], flag: [true], text: ['a'], extra: 1 }] }, 400, /unknown input "extra"/],
    [`${v1}/mixed:predict`, { instances: [[1, 2, 3]] }, 400, /must be an object with a value for each input/],
    [`${v1}/lr:classify`, { examples: [] }, 400, /:classify/],
    [`${v1}/lr:explode`, { instances: [[1, 2]] }, 404, /no TF Serving endpoint/],
    [`${v1}/lr/metadata:predict`, { instances: [[1, 2]] }, 404, /no TF Serving endpoint/],
  ];
  for (const [url, body, status, message] of cases) {
    const res = await postJson(url, body);
    assert.equal(res.status, status, `${url} ${JSON.stringify(body)} → ${JSON.stringify(res.body)}`);
    assert.match(errorOf(res.body), message);
  }
  const broken = await fetch(`${v1}/lr:predict`, { method: 'POST', body: '{"instances": [' });
  assert.equal(broken.status, 400);
  assert.match(errorOf(await broken.json()), /not valid JSON/);
});
