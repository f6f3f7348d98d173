// TensorFlow.js models served without code: the MobileNetV2 classifier shipped in the pinned nsfwjs package
// (unpacked from its JS modules into a plain model folder by src/testing/tfjs-fixtures.ts) and a small layers model
// saved by tfjs itself, each in a runner replica behind KServe V2 REST. The classifier's answer is checked against
// nsfwjs's own loading and preprocessing of the same image in this process; the small model's against the hand
// computation, with concurrent requests batched by the runner.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { Models } from '../../src/models/index.ts';
import { serveModels } from '../../src/serving/index.ts';
import { ModelStore } from '../../src/store/index.ts';
import { tempDir } from '../../src/testing/temp-dir.ts';
import { expectedDense, writeDenseModel, writeNsfwMobileNet } from '../../src/testing/tfjs-fixtures.ts';

const SIZE = 224;

/** A deterministic 224×224 RGB picture: gradients and stripes, as 0-255 values in HWC order. */
function picture(): Uint8Array {
  const px = new Uint8Array(SIZE * SIZE * 3);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const i = (y * SIZE + x) * 3;
      px[i] = x;
      px[i + 1] = (y * 3) % 256;
      px[i + 2] = (x + y) % 32 < 16 ? 230 : 20;
    }
  }
  return px;
}

interface V2Answer { outputs: { name: string; datatype: string; shape: number[]; data: number[] }[] }

test('nsfwjs MobileNetV2 and a tfjs-saved layers model serve over V2 with real metadata and right answers', { timeout: 170_000 }, async () => {
  const work = await tempDir('tfjs-work');
  const { classes } = await writeNsfwMobileNet(join(work, 'mobilenet'));
  await writeDenseModel(join(work, 'dense'));
  const store = new ModelStore(await tempDir('tfjs-store'));
  const models = new Models(store);
  await models.save('nsfw:1', join(work, 'mobilenet'), { framework: 'tfjs', batchable: true, metadata: { source: 'nsfwjs@4.4.0 MobileNetV2' } });
  await models.save('dense:1', join(work, 'dense'), { framework: 'tfjs', batchable: true });

  const server = await serveModels({
    models: [{ name: 'nsfw' }, { name: 'dense', batching: { maxLatencyMs: 20 } }],
    store,
    runner: { replicas: 1 },
    pollIntervalMs: 0,
    http: { port: 0, logLevel: 'silent', docs: false },
    grpc: false,
  });
  try {
    await server.ready;
    const meta = (await (await fetch(`${server.url}/v2/models/nsfw`)).json()) as { platform: string; inputs: unknown[]; outputs: unknown[] };
    assert.equal(meta.platform, 'tiffin_tfjs');
    assert.deepEqual(meta.inputs, [{ name: 'input_1', datatype: 'FP32', shape: [-1, 224, 224, 3] }]);
    assert.deepEqual(meta.outputs, [{ name: 'dense_3', datatype: 'FP32', shape: [-1, 5] }]);

    const px = picture();
    const res = await fetch(`${server.url}/v2/models/nsfw/infer`, {
      method: 'POST',
      body: JSON.stringify({ inputs: [{ name: 'input_1', datatype: 'FP32', shape: [1, SIZE, SIZE, 3], data: Array.from(px, (v) => v / 255) }] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const probs = ((await res.json()) as V2Answer).outputs[0]!;
    assert.deepEqual(probs.shape, [1, 5]);
    assert.ok(Math.abs(probs.data.reduce((a, b) => a + b, 0) - 1) < 1e-4, 'softmax probabilities');

    // The same picture through nsfwjs itself: its bundled model, its own loader and its preprocessing (÷255).
    const tf = (await import('@tensorflow/tfjs')) as unknown as typeof import('@tensorflow/tfjs-core');
    tf.env().set('PROD', true);
    const nsfwjs = (await import('nsfwjs')) as unknown as { load(name: string, o?: object): Promise<{ classify(img: unknown, k?: number): Promise<{ className: string; probability: number }[]> }> };
    const console_info = console.info;
    console.info = () => {};
    const reference = await nsfwjs.load('MobileNetV2', { size: SIZE }).finally(() => (console.info = console_info));
    const expected = await reference.classify(tf.tensor3d(px, [SIZE, SIZE, 3], 'int32'), 5);
    for (const { className, probability } of expected) {
      const got = probs.data[classes.indexOf(className)]!;
      assert.ok(Math.abs(got - probability) < 1e-4, `${className}: ${got} vs nsfwjs ${probability}`);
    }

    // The small model: 16 concurrent one-row requests, each answer as computed by hand.
    const rows = Array.from({ length: 16 }, (_, i) => [i / 4 - 2, (i % 5) - 1, 1 - i / 8]);
    const answers = await Promise.all(rows.map(async (row) => {
      const r = await fetch(`${server.url}/v2/models/dense/infer`, {
        method: 'POST',
        body: JSON.stringify({ inputs: [{ name: 'hidden_input', datatype: 'FP32', shape: [1, 3], data: row }] }),
      });
      assert.equal(r.status, 200, await r.clone().text());
      return ((await r.json()) as V2Answer).outputs[0]!.data[0]!;
    }));
    rows.forEach((row, i) => assert.ok(Math.abs(answers[i]! - expectedDense(row)) < 1e-5, `row ${i}`));
    const metrics = (await (await fetch(`${server.url}/metrics`)).text()).split('\n');
    const series = (kind: string) => Number(metrics.find((l) => l.startsWith(`tiffin_inference_batch_size_${kind}{`) && l.includes('model="dense"'))?.split(' ').pop());
    assert.equal(series('sum'), 16, 'every row went through the runner');
    assert.ok(series('count') < 16, `16 requests ran in fewer batches (${series('count')})`);
  } finally {
    await server.close();
  }
});
