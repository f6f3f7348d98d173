import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { tensor, type Tensors } from '../runtime/tensor.ts';
import { rowCodec } from './codec.ts';
import { concatBatch, concatTensors, sliceTensor, splitBatch } from './tensor-batch.ts';

describe('tensor batching', () => {
  it('stacks and cuts along dimension 0 for typed arrays and strings', () => {
    const a = tensor('float32', [1, 2], new Float32Array([1, 2]));
    const b = tensor('float32', [2, 2], new Float32Array([3, 4, 5, 6]));
    const ab = concatTensors([a, b], 0);
    assert.deepEqual(ab.shape, [3, 2]);
    assert.deepEqual([...(ab.data as Float32Array)], [1, 2, 3, 4, 5, 6]);
    assert.deepEqual([...(sliceTensor(ab, 0, 1, 3).data as Float32Array)], [3, 4, 5, 6]);

    const s = concatTensors([tensor('string', [1], ['x']), tensor('string', [2], ['y', 'z'])], 0);
    assert.deepEqual(s.data, ['x', 'y', 'z']);
    assert.deepEqual(sliceTensor(s, 0, 1, 2).data, ['y']);
  });

  it('stacks and cuts along an inner dimension', () => {
    // [2, 1, 2] and [2, 2, 2] along dimension 1.
    const a = tensor('int32', [2, 1, 2], new Int32Array([1, 2, 10, 20]));
    const b = tensor('int32', [2, 2, 2], new Int32Array([3, 4, 5, 6, 30, 40, 50, 60]));
    const ab = concatTensors([a, b], 1);
    assert.deepEqual(ab.shape, [2, 3, 2]);
    assert.deepEqual([...(ab.data as Int32Array)], [1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60]);
    const mid = sliceTensor(ab, 1, 1, 3);
    assert.deepEqual(mid.shape, [2, 2, 2]);
    assert.deepEqual([...(mid.data as Int32Array)], [3, 4, 5, 6, 30, 40, 50, 60]);
  });

  it('keeps int64 exact', () => {
    const a = tensor('int64', [1], new BigInt64Array([2n ** 62n]));
    const b = tensor('int64', [1], new BigInt64Array([-3n]));
    assert.deepEqual([...(concatTensors([a, b], 0).data as BigInt64Array)], [2n ** 62n, -3n]);
  });

  it('refuses tensors that do not stack', () => {
    const a = tensor('float32', [1, 2], new Float32Array(2));
    const b = tensor('float32', [1, 3], new Float32Array(3));
    assert.throws(() => concatTensors([a, b], 0, 'x'), (e) => isTiffinError(e, 'TENSOR_INVALID') && /"x"/.test(e.message));
  });

  it('splits outputs by row counts, and fails when an output has the wrong number of rows', () => {
    const out: Tensors = {
      y: tensor('float32', [3, 1], new Float32Array([1, 2, 3])),
      label: tensor('string', [3], ['a', 'b', 'c']),
    };
    const [p, q] = splitBatch(out, 0, [1, 2]);
    assert.deepEqual([...(p!.y!.data as Float32Array)], [1]);
    assert.deepEqual(q!.label!.data, ['b', 'c']);
    assert.throws(() => splitBatch(out, 0, [2, 2]), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /output "y"/.test(e.message));
  });

  it('batches named tensors, and arrays of items, through the row codec', () => {
    const codec = rowCodec(0);
    const r1 = { x: tensor('float32', [1, 2], new Float32Array([1, 2])) };
    const r2 = { x: tensor('float32', [2, 2], new Float32Array([3, 4, 5, 6])) };
    assert.equal(codec.rows(r1), 1);
    assert.equal(codec.key(r1), codec.key(r2));
    assert.notEqual(codec.key(r1), codec.key({ x: tensor('float32', [1, 3], new Float32Array(3)) }));
    const batch = codec.concat([r1, r2]) as Tensors;
    assert.deepEqual(batch.x!.shape, [3, 2]);
    assert.deepEqual(concatBatch([r1], 0), r1);

    assert.equal(codec.rows(['a', 'b']), 2);
    assert.deepEqual(codec.concat([['a'], ['b', 'c']]), ['a', 'b', 'c']);
    assert.deepEqual(codec.split(['A', 'B', 'C'], [1, 2]), [['A'], ['B', 'C']]);
    assert.throws(() => codec.split(['A', 'B'], [1, 2]), (e) => isTiffinError(e, 'INFERENCE_FAILED'));
    assert.throws(() => codec.rows({ x: tensor('float32', [2], new Float32Array(2)), y: tensor('float32', [3], new Float32Array(3)) }), (e) => isTiffinError(e, 'TENSOR_INVALID'));
    assert.throws(() => codec.rows(42), (e) => isTiffinError(e, 'BAD_REQUEST'));
  });
});
