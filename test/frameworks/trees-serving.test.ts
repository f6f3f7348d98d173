// XGBoost and LightGBM end to end: `tiffin models save ... --framework xgboost|lightgbm` (the real CLI, which runs
// the built dist/) stores files written in each library's own format and refuses a corrupt one; zero-code serving
// answers them over KServe V2 REST (metadata and inference, concurrent requests batched by the runner's worker
// threads), TF Serving REST and gRPC.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { loadInferenceProto, type ModelInferResponse } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { lightgbmText, xgboostJson } from '../../src/runtime/trees/test-fixtures.ts';
import { serveModels } from '../../src/serving/index.ts';
import { Models } from '../../src/models/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { runTiffin as tiffin } from '../../src/testing/cli-process.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';

// churn (XGBoost binary:logistic, base_score 0.5 = margin 0), two features:
//   tree 0: f0 < 1 (missing: left) -> leaf -1 | f1 < 10 (missing: right) -> leaf 0.5 | leaf 2
//   tree 1: f1 < 5 -> leaf -0.25 | leaf 0.25
const CHURN = xgboostJson({
  objective: 'binary:logistic', numFeature: 2, baseScore: '5E-1',
  trees: [
    { left_children: [1, -1, 3, -1, -1], right_children: [2, -1, 4, -1, -1], split_indices: [0, 0, 1, 0, 0], split_conditions: [1, -1, 10, 0.5, 2], default_left: [1, 0, 0, 0, 0] },
    { left_children: [1, -1, -1], right_children: [2, -1, -1], split_indices: [1, 0, 0], split_conditions: [5, -0.25, 0.25], default_left: [0, 0, 0] },
  ],
});
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** What CHURN predicts for a row, by the rules above. */
function churnP([f0, f1]: number[]): number {
  const t0 = Number.isNaN(f0!) || f0! < 1 ? -1 : !Number.isNaN(f1!) && f1! < 10 ? 0.5 : 2;
  const t1 = !Number.isNaN(f1!) && f1! < 5 ? -0.25 : 0.25;
  return sigmoid(t0 + t1);
}

// flowers (LightGBM multiclass, 3 classes, one iteration): tree c is class c's stump on f0.
const FLOWERS = lightgbmText({
  objective: 'multiclass num_class:3', numClass: 3, maxFeatureIdx: 1,
  trees: [0, 1, 2].map((c) => ({ num_leaves: 2, split_feature: [0], threshold: [c + 0.5], decision_type: [2], left_child: [-1], right_child: [-2], leaf_value: [c === 0 ? 1 : 0, c === 0 ? 0 : 1] })),
});
/** Class scores: class 0 gets 1 when f0 <= 0.5; class c > 0 gets 1 when f0 > c + 0.5. */
function flowersP(f0: number): number[] {
  const s = [f0 <= 0.5 ? 1 : 0, f0 > 1.5 ? 1 : 0, f0 > 2.5 ? 1 : 0];
  const z = s.reduce((a, b) => a + Math.exp(b), 0);
  return s.map((v) => Math.exp(v) / z);
}

function near(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < 1e-6, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

async function writeFixtures(): Promise<string> {
  const work = await tempDir('trees-work');
  await writeFile(join(work, 'model.json'), CHURN);
  await writeFile(join(work, 'model.txt'), FLOWERS);
  await writeFile(join(work, 'broken.json'), CHURN.slice(0, 200));
  return work;
}

test('tiffin models save --framework xgboost|lightgbm stores the files; a corrupt or wrong-format file is refused', async () => {
  const home = await tempDir('trees-home');
  const work = await writeFixtures();
  const saved = await tiffin(home, 'models', 'save', 'churn:1', join(work, 'model.json'), '--framework', 'xgboost');
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(saved.stdout, 'churn:1\n');
  assert.equal((await tiffin(home, 'models', 'save', 'flowers:1', join(work, 'model.txt'), '-f', 'lightgbm')).code, 0);
  const broken = await tiffin(home, 'models', 'save', 'broken:1', join(work, 'broken.json'), '-f', 'xgboost');
  assert.equal(broken.code, 2, 'a bad model file is the caller\'s mistake');
  assert.match(broken.stderr, /^error \[MODEL_INVALID\]: broken\.json is not JSON/);
  const wrong = await tiffin(home, 'models', 'save', 'wrong:1', join(work, 'model.json'), '-f', 'lightgbm');
  assert.match(wrong.stderr, /looks like JSON: an XGBoost model\? use --framework xgboost/);
  const got = await tiffin(home, 'models', 'get', 'churn:1');
  assert.match(got.stdout, /framework:\s+xgboost 2\.0\.3/);
  assert.match(got.stdout, /in  input: float32\[-1, 2\]/);
  const list = JSON.parse((await tiffin(home, 'models', 'list', '--json')).stdout) as { name: string; framework: string }[];
  assert.deepEqual(list.map((m) => `${m.name}:${m.framework}`).sort(), ['churn:xgboost', 'flowers:lightgbm']);
});

test('zero-code serving of XGBoost and LightGBM models over V2 REST (metadata, batched inference) and gRPC', async () => {
  const work = await writeFixtures();
  const store = new ModelStore(await tempDir('trees-store'));
  const models = new Models(store);
  await models.save('churn:1', join(work, 'model.json'), { framework: 'xgboost' });
  await models.save('flowers:1', join(work, 'model.txt'), { framework: 'lightgbm' });

  const server = await serveModels({
    models: [{ name: 'churn', batching: { maxLatencyMs: 5 } }, { name: 'flowers' }],
    store,
    runner: { replicas: 1 },
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: { port: 0, host: '127.0.0.1' },
  });
  try {
    await server.ready;
    const meta = await (await fetch(`${server.url}/v2/models/churn`)).json();
    assert.deepEqual(meta, {
      name: 'churn', versions: ['1'], platform: 'tiffin_xgboost',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 2] }],
      outputs: [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 2] }],
    });
    const flowersMeta = (await (await fetch(`${server.url}/v2/models/flowers`)).json()) as { platform: string; outputs: unknown[] };
    assert.equal(flowersMeta.platform, 'tiffin_lightgbm');
    assert.deepEqual(flowersMeta.outputs, [{ name: 'label', datatype: 'INT64', shape: [-1] }, { name: 'probabilities', datatype: 'FP32', shape: [-1, 3] }]);

    // Concurrent single-row requests: the runner stacks them into batches; each answer is its own row's.
    const rows = Array.from({ length: 24 }, (_, i) => [i % 3 === 0 ? 0.5 : 1 + (i % 4), i % 5 === 0 ? 12 : i % 7]);
    const answers = await Promise.all(rows.map(async (row) => {
      const res = await fetch(`${server.url}/v2/models/churn/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 2], data: row }] }),
      });
      assert.equal(res.status, 200);
      return (await res.json()) as { outputs: { name: string; shape: number[]; data: number[] }[] };
    }));
    answers.forEach((a, i) => {
      const p = churnP(rows[i]!);
      const probs = a.outputs.find((o) => o.name === 'probabilities')!;
      assert.deepEqual(probs.shape, [1, 2]);
      near(probs.data, [1 - p, p], `row ${i}`);
      assert.deepEqual(a.outputs.find((o) => o.name === 'label')!.data, [p > 0.5 ? 1 : 0]);
    });

    const bad = await fetch(`${server.url}/v2/models/churn/infer`, {
      method: 'POST', body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /\[-1, 2\]/);

    // TF Serving's REST predict answers the same model (several outputs: one object per instance).
    const tf = await fetch(`${server.url}/v1/models/churn:predict`, { method: 'POST', body: JSON.stringify({ instances: [rows[1]] }) });
    assert.equal(tf.status, 200);
    const [prediction] = ((await tf.json()) as { predictions: { label: number; probabilities: number[] }[] }).predictions;
    near(prediction!.probabilities, [1 - churnP(rows[1]!), churnP(rows[1]!)], 'tfserving');

    // gRPC: three rows of the LightGBM model in one request.
    const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const res = await new Promise<ModelInferResponse>((resolve, reject) => {
      (client as unknown as { ModelInfer(r: unknown, cb: (e: Error | null, v: ModelInferResponse) => void): void }).ModelInfer(
        { model_name: 'flowers', inputs: [{ name: 'input', datatype: 'FP32', shape: [3, 2], contents: { fp32_contents: [0, 9, 2, 9, 3, 9] } }] },
        (e, v) => (e ? reject(e) : resolve(v)),
      );
    });
    client.close();
    const probs = res.outputs.findIndex((o) => o.name === 'probabilities');
    const raw = Buffer.from(res.raw_output_contents[probs]!);
    const values = Array.from({ length: 9 }, (_, i) => raw.readFloatLE(i * 4));
    near(values, [...flowersP(0), ...flowersP(2), ...flowersP(3)], 'grpc probabilities');
    const labels = Buffer.from(res.raw_output_contents[res.outputs.findIndex((o) => o.name === 'label')]!);
    assert.deepEqual([0, 1, 2].map((i) => labels.readBigInt64LE(i * 8)), [0n, 1n, 1n]); // f0 = 3: classes 1 and 2 tie; the first wins
  } finally {
    await server.close();
  }
});
