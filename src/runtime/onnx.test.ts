import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../testing/temp-dir.ts';
import { isTiffinError } from '../errors/index.ts';
import { identity, mixedIO, mlp, mlpForward, mlpParams } from '../onnx/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { onnxRuntime, sessionOptions } from './onnx.ts';
import { tensor, type DType } from './tensor.ts';

async function modelDir(bytes: Uint8Array, file = 'model.onnx'): Promise<string> {
  const dir = await tempDir('onnx');
  await writeFile(join(dir, file), bytes);
  return dir;
}

async function prepareAndLoad(bytes: Uint8Array, batchable = false) {
  const dir = await modelDir(bytes);
  const prepared = await onnxRuntime.prepare({ dir, batchable });
  const manifest: ModelManifest = {
    schemaVersion: 1, name: 'm', version: '1', framework: 'onnx', frameworkVersion: prepared.frameworkVersion, entry: prepared.entry,
    createdAt: new Date().toISOString(), size: 0, labels: {}, metadata: {}, signatures: prepared.signatures, files: [],
  };
  return { prepared, model: await onnxRuntime.load(dir, manifest, { intraOpThreads: 1 }) };
}

test('int64, bool and string tensors map to BigInt64Array, Uint8Array and string[]; dynamic dims are -1', async () => {
  const { prepared, model } = await prepareAndLoad(mixedIO(), true);
  const sig = prepared.signatures.run!;
  assert.equal(sig.batchable, true);
  assert.deepEqual(
    sig.inputs.map((s) => [s.name, s.dtype, s.shape]),
    [['x', 'float32', [-1, 3]], ['count', 'int64', [-1, 1]], ['flag', 'bool', [-1, 1]], ['text', 'string', [-1, 1]]],
  );
  const out = await model.run({
    x: tensor('float32', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6.5])),
    count: tensor('int64', [2, 1], BigInt64Array.from([7n, -9007199254740993n])),
    flag: tensor('bool', [2, 1], Uint8Array.from([1, 0])),
    text: tensor('string', [2, 1], ['héllo', '']),
  });
  assert.deepEqual([...out.get('sum', 'float32').data], [6, 15.5]);
  assert.ok(out.doubled!.data instanceof BigInt64Array);
  assert.deepEqual([...out.get('doubled', 'int64').data], [14n, -18014398509481986n]);
  assert.deepEqual([...out.get('negated', 'bool').data], [0, 1]);
  assert.deepEqual(out.echoed!.data, ['héllo', '']);
  assert.deepEqual(out.echoed!.shape, [2, 1]);

  const only = await model.run(
    {
      x: tensor('float32', [1, 3], Float32Array.from([1, 1, 1])), count: tensor('int64', [1, 1], BigInt64Array.from([1n])),
      flag: tensor('bool', [1, 1], Uint8Array.from([0])), text: tensor('string', [1, 1], ['a']),
    },
    { outputs: ['sum'] },
  );
  assert.deepEqual(Object.keys(only), ['sum']);
  await model.dispose();
});

test('every numeric dtype passes through an Identity model unchanged', async () => {
  const samples: Partial<Record<DType, () => ReturnType<typeof tensor>>> = {
    float16: () => tensor('float16', [2], Uint16Array.from([0x3c00, 0xc000])), // 1.0, -2.0
    float64: () => tensor('float64', [2], Float64Array.from([Math.PI, -1e300])),
    int8: () => tensor('int8', [2], Int8Array.from([-128, 127])),
    int16: () => tensor('int16', [2], Int16Array.from([-32768, 32767])),
    int32: () => tensor('int32', [2], Int32Array.from([-(2 ** 31), 2 ** 31 - 1])),
    uint8: () => tensor('uint8', [2], Uint8Array.from([0, 255])),
    uint16: () => tensor('uint16', [2], Uint16Array.from([0, 65535])),
    uint32: () => tensor('uint32', [2], Uint32Array.from([0, 2 ** 32 - 1])),
    uint64: () => tensor('uint64', [2], BigUint64Array.from([0n, 2n ** 64n - 1n])),
  };
  for (const [dtype, make] of Object.entries(samples)) {
    const { prepared, model } = await prepareAndLoad(identity({ dtype: dtype as DType, shape: [-1] }));
    assert.equal(prepared.signatures.run!.inputs[0]!.dtype, dtype);
    const input = make();
    const out = await model.run({ input });
    assert.equal(out.output!.dtype, dtype, dtype);
    assert.deepEqual([...(out.output!.data as ArrayLike<unknown> as unknown[])], [...(input.data as ArrayLike<unknown> as unknown[])], dtype);
    await model.dispose();
  }
});

test('an MLP with a dynamic batch matches a plain-JS forward pass', async () => {
  const params = mlpParams({ layers: [8, 16, 3], seed: 7 });
  const { model } = await prepareAndLoad(mlp(params), true);
  assert.deepEqual(model.inputs[0]!.shape, [-1, 8]);
  for (const batch of [1, 5]) {
    const x = Float32Array.from({ length: batch * 8 }, (_, i) => Math.sin(i));
    const out = await model.run({ input: tensor('float32', [batch, 8], x) });
    const expected = mlpForward(params, x, batch);
    assert.deepEqual(out.output!.shape, [batch, 3]);
    (out.output!.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - expected[i]!) < 1e-4, `${v} vs ${expected[i]}`));
  }
  await model.dispose();
});

test('bad requests are TENSOR_INVALID errors that name the tensor', async () => {
  const { model } = await prepareAndLoad(mlp({ layers: [4, 2], seed: 1 }));
  const cases: [Parameters<typeof model.run>[0], RegExp][] = [
    [{}, /missing input "input"/],
    [{ input: tensor('float32', [1, 5], new Float32Array(5)) }, /shape \[-1, 4\].*got \[1, 5\]/],
    [{ input: tensor('float64', [1, 4], new Float64Array(4)) }, /must be float32, got float64/],
    [{ input: tensor('float32', [1, 4], new Float32Array(4)), extra: tensor('float32', [1], new Float32Array(1)) }, /unknown input "extra"/],
    [{ input: { dtype: 'float32', shape: [2, 4], data: new Float32Array(4) } }, /needs 8 elements, data has 4/],
  ];
  for (const [feeds, message] of cases) {
    await assert.rejects(model.run(feeds), (e) => isTiffinError(e, 'TENSOR_INVALID') && message.test(e.message));
  }
  await assert.rejects(model.run({ input: tensor('float32', [1, 4], new Float32Array(4)) }, { outputs: ['nope'] }), /unknown output "nope"/);
});

test('invalid files fail at save time, not at serve time', async () => {
  const garbage = await modelDir(new TextEncoder().encode('this is not a protobuf'));
  await assert.rejects(onnxRuntime.prepare({ dir: garbage }), (e) => isTiffinError(e, 'MODEL_INVALID') && /could not load/.test(e.message));
  const none = await tempDir('onnx');
  await assert.rejects(onnxRuntime.prepare({ dir: none }), /no \.onnx file/);
  const fixed = await modelDir(identity({ dtype: 'float32', shape: [2, 2] }));
  await assert.rejects(onnxRuntime.prepare({ dir: fixed, batchable: true }), /cannot be batchable.*dimension 0 is not dynamic/);
});

test('session options: CPU by default, thread counts and optimisation level pass through', () => {
  assert.deepEqual(sessionOptions({}).executionProviders, ['cpu']);
  const o = sessionOptions({ intraOpThreads: 2, interOpThreads: 1, graphOptimization: 'basic', executionProviders: ['cuda', 'cpu'] });
  assert.equal(o.intraOpNumThreads, 2);
  assert.equal(o.interOpNumThreads, 1);
  assert.equal(o.graphOptimizationLevel, 'basic');
  assert.deepEqual(o.executionProviders, ['cuda', 'cpu']);
});
