// Transformers.js pipelines end to end, on a tiny model folder the test writes (src/testing/transformers-fixtures.ts):
// `tiffin models save ... --framework transformers` (the real CLI, which runs the built dist/) stores it or refuses a
// corrupt file, and `tiffin serve --models` answers the encoder (saved with CLS pooling) over KServe V2 REST; in process, a service handler calls the
// encoder through ctx.models while the zero-code routes serve it and the classifier over V2 REST and gRPC, and
// concurrent requests are batched by the runner (its batch-size metric shows batches of several rows) with answers
// equal to the independent computation and to each text run alone.
import assert from 'node:assert/strict';
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { Models } from '../../src/models/index.ts';
import { loadInferenceProto, type ModelInferResponse } from '../../src/protocols/kserve-v2/grpc-proto.ts';
import { tensor } from '../../src/runtime/tensor.ts';
import { serveModels } from '../../src/serving/index.ts';
import { service } from '../../src/service/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { runTiffin as tiffin, startTiffin } from '../../src/testing/cli-process.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';
import { DIM, LABELS, expectedEmbedding, expectedScores, writeTinyModel } from '../../src/testing/transformers-fixtures.ts';

function near(actual: ArrayLike<number>, expected: readonly number[], what: string, eps = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) assert.ok(Math.abs(actual[i]! - expected[i]!) < eps, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

interface V2Answer {
  model_name: string;
  outputs: { name: string; datatype: string; shape: number[]; data: (number | string)[] }[];
}

async function infer(url: string, model: string, texts: string[]): Promise<V2Answer> {
  const res = await fetch(`${url}/v2/models/${model}/infer`, {
    method: 'POST',
    body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [texts.length], data: texts }] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  return (await res.json()) as V2Answer;
}

const output = (a: V2Answer, name: string) => a.outputs.find((o) => o.name === name)!;

/** Texts of 1 to 9 words (3 to 11 tokens with [CLS] and [SEP]), with unknown words among them. */
const SENTENCES = Array.from({ length: 24 }, (_, i) => {
  const words = ['good', 'bad', 'movie', 'very', 'plot', 'boring', 'great', 'the', 'zebra'];
  return Array.from({ length: 1 + (i % 9) }, (_, j) => words[(i * 7 + j * 5) % words.length]).join(' ');
});

test('tiffin models save --framework transformers stores a model folder or refuses a corrupt one; tiffin serve --models answers it', async (t) => {
  const home = await tempDir('tf-cli-home');
  const encoder = await writeTinyModel(await tempDir('tf-cli-enc'), 'feature-extraction');
  const classifier = await writeTinyModel(await tempDir('tf-cli-cls'), 'text-classification');
  const broken = join(await tempDir('tf-cli-broken'), 'model');
  await cp(encoder, broken, { recursive: true });
  await writeFile(join(broken, 'tokenizer.json'), '{"model": {"type": "WordLevel", "vocab": {');
  const started = performance.now();
  const [saved, savedClassifier, refused] = await Promise.all([
    tiffin(home, 'models', 'save', 'enc:1', encoder, '--framework', 'transformers', '--metadata', 'pooling=cls', '--metadata', 'normalize=false'),
    tiffin(home, 'models', 'save', 'sentiment:1', classifier, '-f', 'transformers'),
    tiffin(home, 'models', 'save', 'broken:1', broken, '-f', 'transformers'),
  ]);
  t.diagnostic(`three concurrent saves: ${(performance.now() - started).toFixed(0)} ms`);
  assert.equal(saved.code, 0, saved.stderr);
  assert.equal(saved.stdout, 'enc:1\n');
  assert.equal(savedClassifier.code, 0, savedClassifier.stderr);
  assert.equal(refused.code, 2, 'a bad model folder is the caller\'s mistake');
  assert.match(refused.stderr, /^error \[MODEL_INVALID\]: tokenizer\.json is not valid JSON/);

  const got = await tiffin(home, 'models', 'get', 'enc:1');
  assert.match(got.stdout, /framework:\s+transformers 4\.\d+\.\d+/);
  assert.match(got.stdout, /in  text: string\[-1\]/);
  assert.match(got.stdout, /metadata: .*"normalize":false.*"task":"feature-extraction"/, 'the checked settings are in the manifest');
  assert.match(got.stdout, new RegExp(`out embeddings: float32\\[-1, ${DIM}\\]`));
  const list = JSON.parse((await tiffin(home, 'models', 'list', '--json')).stdout) as { name: string; framework: string }[];
  assert.deepEqual(list.map((m) => `${m.name}:${m.framework}`).sort(), ['enc:transformers', 'sentiment:transformers']);

  const serving = performance.now();
  const server = startTiffin(t, ['serve', '--models', 'enc', '--port', '0', '--no-grpc'], { cwd: home, env: { TIFFIN_HOME: home, TIFFIN_LOG_LEVEL: 'warn' } });
  const [, url] = await server.waitFor(/ready at (http:\/\/127\.0\.0\.1:\d+)/);
  t.diagnostic(`tiffin serve ready after ${(performance.now() - serving).toFixed(0)} ms`);
  const texts = ['good movie', 'the plot was boring'];
  const emb = output(await infer(url!, 'enc', texts), 'embeddings');
  assert.deepEqual(emb.shape, [2, DIM]);
  near(emb.data as number[], texts.flatMap((x) => expectedEmbedding(x, 'cls', false)), 'cls embeddings');
  server.child.kill('SIGTERM');
  assert.equal(await server.exit, 0);
});

/** Sum and count of the runner's batch-size histogram for `model`, from /metrics. */
async function batchSizes(url: string, model: string): Promise<{ rows: number; batches: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (series: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`tiffin_inference_batch_size_${series}{`) && l.includes(`model="${model}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };
  return { rows: value('sum'), batches: value('count') };
}

test('served from runner replicas: V2 metadata, a service handler through ctx.models, batched padded texts equal to texts alone, gRPC', async (t) => {
  const store = new ModelStore(await tempDir('tf-serve-store'));
  const models = new Models(store);
  await models.save('enc:1', await writeTinyModel(await tempDir('tf-serve-enc'), 'feature-extraction'), { framework: 'transformers' });
  await models.save('sentiment:1', await writeTinyModel(await tempDir('tf-serve-cls'), 'text-classification'), { framework: 'transformers' });

  const search = service('search', { models: { emb: 'enc' } }).api('similarity', {
    input: z.object({ a: z.string(), b: z.string() }),
    output: z.object({ cosine: z.number() }),
    handler: async ({ a, b }, ctx) => {
      const out = await ctx.models.emb.run({ text: tensor('string', [2], [a, b]) });
      const e = out.get('embeddings', 'float32').data; // normalized rows: their dot product is the cosine
      let dot = 0;
      for (let d = 0; d < DIM; d++) dot += e[d]! * e[DIM + d]!;
      return { cosine: dot };
    },
  });
  const server = await serveModels({
    service: search,
    models: [{ name: 'enc', batching: { maxLatencyMs: 20 } }, { name: 'sentiment' }],
    store,
    runner: { replicas: 1 },
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: { port: 0, host: '127.0.0.1' },
  });
  try {
    await server.ready;
    assert.deepEqual(await (await fetch(`${server.url}/v2/models/enc`)).json(), {
      name: 'enc', versions: ['1'], platform: 'tiffin_transformers',
      inputs: [{ name: 'text', datatype: 'BYTES', shape: [-1] }],
      outputs: [{ name: 'embeddings', datatype: 'FP32', shape: [-1, DIM] }],
    });
    const sentimentMeta = (await (await fetch(`${server.url}/v2/models/sentiment`)).json()) as { outputs: unknown[] };
    assert.deepEqual(sentimentMeta.outputs, [
      { name: 'label', datatype: 'BYTES', shape: [-1] }, { name: 'score', datatype: 'FP32', shape: [-1] }, { name: 'scores', datatype: 'FP32', shape: [-1, 2] },
    ]);

    const sim = await fetch(`${server.url}/similarity`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ a: 'good movie', b: 'great movie' }) });
    assert.equal(sim.status, 200);
    const [ea, eb] = [expectedEmbedding('good movie', 'mean', true), expectedEmbedding('great movie', 'mean', true)];
    near([((await sim.json()) as { cosine: number }).cosine], [ea.reduce((s, x, d) => s + x * eb[d]!, 0)], 'cosine');

    // Each text alone first (one row per batch: nothing to pad), then all of them at once from concurrent requests.
    const alone = new Map<string, number[]>();
    for (const s of SENTENCES) alone.set(s, output(await infer(server.url, 'enc', [s]), 'embeddings').data as number[]);
    const before = await batchSizes(server.url, 'enc');
    let batchedOnce = false;
    for (let round = 0; round < 5 && !batchedOnce; round++) {
      const start = await batchSizes(server.url, 'enc');
      const answers = await Promise.all(SENTENCES.map((s) => infer(server.url, 'enc', [s])));
      answers.forEach((a, i) => {
        const s = SENTENCES[i]!;
        const emb = output(a, 'embeddings');
        assert.deepEqual(emb.shape, [1, DIM]);
        near(emb.data as number[], expectedEmbedding(s, 'mean', true), `"${s}" by hand`);
        near(emb.data as number[], alone.get(s)!, `"${s}" in a batch vs alone`, 1e-6);
      });
      const end = await batchSizes(server.url, 'enc');
      assert.equal(end.rows - start.rows, SENTENCES.length, 'every text went through the runner once');
      batchedOnce = end.batches - start.batches < SENTENCES.length;
      t.diagnostic(`round ${round}: ${SENTENCES.length} concurrent requests ran in ${end.batches - start.batches} batches`);
    }
    assert.ok(batchedOnce, 'concurrent requests were stacked into batches of several texts');
    assert.ok(before.batches >= SENTENCES.length, 'the texts alone ran one batch each');

    const bad = await fetch(`${server.url}/v2/models/enc/infer`, {
      method: 'POST', body: JSON.stringify({ inputs: [{ name: 'text', datatype: 'FP32', shape: [1], data: [1] }] }),
    });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /text/);

    // gRPC: two texts of the classifier in one request, BYTES in and out.
    const pkg = grpc.loadPackageDefinition(loadInferenceProto()) as unknown as { inference: { GRPCInferenceService: grpc.ServiceClientConstructor } };
    const client = new pkg.inference.GRPCInferenceService(`127.0.0.1:${server.grpc!.port}`, grpc.credentials.createInsecure());
    const texts = ['good movie', 'the plot was very very boring and bad'];
    const res = await new Promise<ModelInferResponse>((resolve, reject) => {
      (client as unknown as { ModelInfer(r: unknown, cb: (e: Error | null, v: ModelInferResponse) => void): void }).ModelInfer(
        { model_name: 'sentiment', inputs: [{ name: 'text', datatype: 'BYTES', shape: [2], contents: { bytes_contents: texts.map((x) => Buffer.from(x)) } }] },
        (e, v) => (e ? reject(e) : resolve(v)),
      );
    });
    client.close();
    const raw = (name: string) => Buffer.from(res.raw_output_contents[res.outputs.findIndex((o) => o.name === name)]!);
    const scores = raw('scores');
    near(Array.from({ length: 4 }, (_, i) => scores.readFloatLE(i * 4)), texts.flatMap(expectedScores), 'grpc scores');
    const labels: string[] = [];
    for (let at = 0, bytes = raw('label'); at < bytes.length; at += 4 + bytes.readUInt32LE(at)) labels.push(bytes.subarray(at + 4, at + 4 + bytes.readUInt32LE(at)).toString());
    assert.deepEqual(labels, texts.map((x) => LABELS[expectedScores(x)[1]! > 0.5 ? 1 : 0]));
    assert.deepEqual(labels, ['positive', 'negative'], 'the two texts get different labels');
  } finally {
    await server.close();
  }
});
