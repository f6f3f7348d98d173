// Each builder's bytes are loaded by onnxruntime-node and run; outputs are checked against values
// worked out by hand or by the plain-JS references, at batch sizes 1 and several.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import type { DType } from '../runtime/tensor.ts';
import {
  identity, linearRegression, logisticRegression, mixedIO, mlp, mlpForward, mlpParams,
  treeEnsembleClassifier, treeEnsemblePredict, type TreeEnsembleOptions,
} from './builders.ts';
import { toFloat16Bits } from '../runtime/half.ts';
import { decodeModel } from './proto.ts';
import { mulberry32 } from './random.ts';
import { writeModel } from './writer.ts';

let dir = '';
before(async () => { dir = await mkdtemp(join(tmpdir(), 'tiffin-onnx-')); });
after(async () => { await rm(dir, { recursive: true, force: true }); });

let files = 0;
async function load(bytes: Uint8Array): Promise<ort.InferenceSession> {
  const path = join(dir, `model${files++}.onnx`);
  await writeModel(path, bytes);
  return ort.InferenceSession.create(path);
}

async function runOnce(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<[ort.InferenceSession, ort.InferenceSession.OnnxValueMapType]> {
  const session = await load(bytes);
  return [session, await session.run(feeds)];
}

function f32(rows: number[][]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, 'length');
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    assert.ok(Math.abs(a - e) <= tol * Math.max(1, Math.abs(e)), `index ${i}: ${a} vs ${e}`);
  }
}

function shapeOf(session: ort.InferenceSession, io: 'input' | 'output', name: string): (number | string)[] {
  const meta = (io === 'input' ? session.inputMetadata : session.outputMetadata).find((m) => m.name === name);
  assert.ok(meta?.isTensor, `${io} ${name} is a tensor`);
  return [...meta.shape];
}

describe('linearRegression', () => {
  const weights = [[1, 2], [3, 4], [5, 6]];
  const bias = [0.5, -1];
  const expected = (row: number[]) => [0, 1].map((j) => row.reduce((s, x, i) => s + x * weights[i]![j]!, bias[j]!));

  for (const rows of [[[1, 1, 1]], [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, -2, 3]]]) {
    test(`batch ${rows.length}`, async () => {
      const [session, out] = await runOnce(linearRegression({ weights, bias }), { input: f32(rows) });
      assert.deepEqual(session.inputNames, ['input']);
      assert.deepEqual(session.outputNames, ['output']);
      assert.equal(typeof shapeOf(session, 'input', 'input')[0], 'string', 'batch dim is dynamic');
      assert.deepEqual(out.output!.dims, [rows.length, 2]);
      assertClose(out.output!.data as Float32Array, rows.flatMap(expected));
      await session.release();
    });
  }

  test('rejects ragged weights and a wrong-size bias', () => {
    assert.throws(() => linearRegression({ weights: [[1, 2], [3]], bias: [0, 0] }), { code: 'MODEL_INVALID' });
    assert.throws(() => linearRegression({ weights: [[1, 2]], bias: [0] }), { code: 'MODEL_INVALID' });
  });
});

describe('logisticRegression', () => {
  const weights = [[1, -1, 0], [0.5, 0.5, -2]];
  const bias = [0, 0.1, -0.1];
  const softmax = (row: number[]) => {
    const z = [0, 1, 2].map((j) => row.reduce((s, x, i) => s + x * weights[i]![j]!, bias[j]!));
    const e = z.map((v) => Math.exp(v - Math.max(...z)));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  };

  for (const rows of [[[2, 0]], [[2, 0], [-2, 1], [0, -1], [0, 0]]]) {
    test(`batch ${rows.length}`, async () => {
      const [session, out] = await runOnce(logisticRegression({ weights, bias }), { input: f32(rows) });
      assert.deepEqual(session.outputNames, ['label', 'probabilities']);
      const probs = rows.map(softmax);
      assertClose(out.probabilities!.data as Float32Array, probs.flat());
      assert.deepEqual(out.probabilities!.dims, [rows.length, 3]);
      assert.equal(out.label!.type, 'int64');
      assert.deepEqual(out.label!.dims, [rows.length]);
      assert.deepEqual([...(out.label!.data as BigInt64Array)], probs.map((p) => BigInt(p.indexOf(Math.max(...p)))));
      await session.release();
    });
  }
});

describe('mlp', () => {
  const options = { layers: [8, 16, 16, 4], seed: 7 };

  for (const batch of [1, 5]) {
    test(`matches mlpForward at batch ${batch}`, async () => {
      const rand = mulberry32(99);
      const input = Float32Array.from({ length: batch * 8 }, () => rand() * 4 - 2);
      const [session, out] = await runOnce(mlp(options), { input: new ort.Tensor('float32', input, [batch, 8]) });
      assert.deepEqual(shapeOf(session, 'input', 'input'), ['batch', 8]);
      assert.deepEqual(shapeOf(session, 'output', 'output'), ['batch', 4]);
      assert.deepEqual(out.output!.dims, [batch, 4]);
      assertClose(out.output!.data as Float32Array, mlpForward(mlpParams(options), input, batch), 1e-4);
      await session.release();
    });
  }

  test('weights depend only on the seed', () => {
    assert.deepEqual(mlp(options), mlp(options));
    assert.notDeepEqual(mlp(options), mlp({ ...options, seed: 8 }));
  });

  test('tanh and sigmoid activations', async () => {
    for (const activation of ['tanh', 'sigmoid'] as const) {
      const params = mlpParams({ layers: [3, 5, 2], seed: 1, activation });
      const input = Float32Array.from([0.1, -0.4, 2, 1, 1, 1]);
      const [session, out] = await runOnce(mlp(params), { input: new ort.Tensor('float32', input, [2, 3]) });
      assertClose(out.output!.data as Float32Array, mlpForward(params, input, 2), 1e-4);
      await session.release();
    }
  });

  test('a benchmark-sized network stays finite', async () => {
    const params = mlpParams({ layers: [256, 1024, 1024, 10], seed: 42 });
    const rand = mulberry32(3);
    const input = Float32Array.from({ length: 2 * 256 }, () => rand() * 2 - 1);
    const [session, out] = await runOnce(mlp(params), { input: new ort.Tensor('float32', input, [2, 256]) });
    const y = out.output!.data as Float32Array;
    assert.ok(y.every((v) => Number.isFinite(v) && Math.abs(v) < 100), 'outputs are finite and moderate');
    assertClose(y, mlpForward(params, input, 2), 1e-3);
    await session.release();
  });
});

describe('treeEnsembleClassifier', () => {
  const forest: TreeEnsembleOptions = {
    features: 2,
    trees: [
      { feature: 0, threshold: 0.5, left: { leaf: [1, 0, 0] },
        right: { feature: 1, threshold: 0.5, left: { leaf: [0, 1, 0] }, right: { leaf: [0, 0, 1] } } },
      { feature: 1, threshold: 0, left: { leaf: [0.5, 0.5, 0] }, right: { leaf: [0, 0.5, 0.5] } },
    ],
  };
  // Worked by hand: the mean of the two leaves each row reaches (a value equal to the threshold goes left).
  const rows = [[0, -1], [1, 0.2], [1, 1], [0.5, 5]];
  const probabilities = [[0.75, 0.25, 0], [0, 0.75, 0.25], [0, 0.25, 0.75], [0.5, 0.25, 0.25]];
  const labels = [0, 1, 2, 0];

  test('imports ai.onnx.ml opset 3', () => {
    const model = decodeModel(treeEnsembleClassifier(forest));
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 17 }, { domain: 'ai.onnx.ml', version: 3 }]);
  });

  for (const n of [1, 4]) {
    test(`batch ${n}`, async () => {
      const [session, out] = await runOnce(treeEnsembleClassifier(forest), { input: f32(rows.slice(0, n)) });
      assert.deepEqual(session.outputNames, ['label', 'probabilities']);
      assertClose(out.probabilities!.data as Float32Array, probabilities.slice(0, n).flat());
      assert.deepEqual([...(out.label!.data as BigInt64Array)], labels.slice(0, n).map(BigInt));
      rows.slice(0, n).forEach((row, i) => {
        const ref = treeEnsemblePredict(forest, row);
        assert.equal(ref.label, labels[i]);
        assertClose(ref.probabilities, probabilities[i]!);
      });
      await session.release();
    });
  }

  test('custom int64 labels', async () => {
    const [session, out] = await runOnce(treeEnsembleClassifier({ ...forest, labels: [10, 20, 30] }), { input: f32(rows) });
    assert.deepEqual([...(out.label!.data as BigInt64Array)], [10n, 20n, 30n, 10n]);
    assert.equal(treeEnsemblePredict({ ...forest, labels: [10, 20, 30] }, rows[2]!).label, 30);
    await session.release();
  });

  test('two classes: the label is the larger score', async () => {
    const binary: TreeEnsembleOptions = { features: 1, trees: [{ feature: 0, threshold: 0.5, left: { leaf: [0.8, 0.2] }, right: { leaf: [0.3, 0.7] } }] };
    const [session, out] = await runOnce(treeEnsembleClassifier(binary), { input: f32([[0], [1]]) });
    assertClose(out.probabilities!.data as Float32Array, [0.8, 0.2, 0.3, 0.7]);
    assert.deepEqual([...(out.label!.data as BigInt64Array)], [0n, 1n]);
    await session.release();
  });

  test('rejects leaves of different widths and out-of-range features', () => {
    assert.throws(() => treeEnsembleClassifier({ features: 1, trees: [{ leaf: [1, 0] }, { leaf: [1, 0, 0] }] }), { code: 'MODEL_INVALID' });
    assert.throws(() => treeEnsembleClassifier({ features: 1, trees: [{ feature: 1, threshold: 0, left: { leaf: [1, 0] }, right: { leaf: [0, 1] } }] }), { code: 'MODEL_INVALID' });
  });
});

describe('mixedIO', () => {
  for (const batch of [1, 2]) {
    test(`batch ${batch}`, async () => {
      const x = [[1, 2, 3], [-1, 0.5, 0.25]].slice(0, batch);
      const count = [3n, -7n].slice(0, batch);
      const flag = [1, 0].slice(0, batch);
      const text = ['héllo, wörld', ''].slice(0, batch);
      const [session, out] = await runOnce(mixedIO(), {
        x: f32(x),
        count: new ort.Tensor('int64', BigInt64Array.from(count), [batch, 1]),
        flag: new ort.Tensor('bool', Uint8Array.from(flag), [batch, 1]),
        text: new ort.Tensor('string', text, [batch, 1]),
      });
      assert.deepEqual(session.inputNames, ['x', 'count', 'flag', 'text']);
      assert.deepEqual(session.outputNames, ['sum', 'doubled', 'negated', 'echoed']);
      assert.deepEqual(session.inputMetadata.map((m) => m.isTensor && m.type), ['float32', 'int64', 'bool', 'string']);
      assertClose(out.sum!.data as Float32Array, x.map((r) => r[0]! + r[1]! + r[2]!));
      assert.deepEqual(out.sum!.dims, [batch, 1]);
      assert.deepEqual([...(out.doubled!.data as BigInt64Array)], count.map((c) => c * 2n));
      assert.deepEqual([...(out.negated!.data as Uint8Array)], flag.map((f) => (f ? 0 : 1)));
      assert.equal(out.negated!.type, 'bool');
      assert.deepEqual(out.echoed!.data, text);
      await session.release();
    });
  }
});

describe('identity', () => {
  // bfloat16 is left out: onnxruntime-node 1.30 crashes the process loading such a model.
  const samples: [DType, ort.Tensor.DataType][] = [
    ['float16', Uint16Array.from([1, -2.5, 65504, 0.1], toFloat16Bits)],
    ['float32', Float32Array.from([1.5, -0, 3e38, -1e-30])],
    ['float64', Float64Array.from([Math.PI, -1e300, 0, 2 ** -1074])],
    ['int8', Int8Array.from([-128, 127, 0, 1])],
    ['int16', Int16Array.from([-32768, 32767, 0, 1])],
    ['int32', Int32Array.from([-(2 ** 31), 2 ** 31 - 1, 0, 1])],
    ['int64', BigInt64Array.from([-(2n ** 63n), 2n ** 63n - 1n, 0n, 1n])],
    ['uint8', Uint8Array.from([0, 255, 1, 2])],
    ['uint16', Uint16Array.from([0, 65535, 1, 2])],
    ['uint32', Uint32Array.from([0, 2 ** 32 - 1, 1, 2])],
    ['uint64', BigUint64Array.from([0n, 2n ** 64n - 1n, 1n, 2n])],
    ['bool', Uint8Array.from([1, 0, 0, 1])],
    ['string', ['a', '', 'ünïcode', 'd']],
  ];
  for (const [dtype, data] of samples) {
    test(dtype, async () => {
      const [session, out] = await runOnce(identity({ dtype, shape: ['batch', 2] }), {
        input: new ort.Tensor(dtype as ort.Tensor.Type, data, [2, 2]),
      });
      assert.equal(out.output!.type, dtype);
      assert.deepEqual(out.output!.dims, [2, 2]);
      assert.deepEqual(out.output!.data, data);
      await session.release();
    });
  }
});
