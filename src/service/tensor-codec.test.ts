// Tensors on the wire, below HTTP: JSON forms with per-element issues, dtype ranges, 16-bit floats,
// 64-bit integers and the binary form's byte order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseShapeHeader, tensorBytes, tensorDataFromBytes, tensorDataToJson, tensorFromJson } from './tensor-codec.ts';

test('nested arrays and { shape, data } give the same tensor', () => {
  const a = tensorFromJson([[1, 2, 3], [4, 5, 6]], 'int32');
  const b = tensorFromJson({ shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, 'int32');
  assert.ok('tensor' in a && 'tensor' in b);
  assert.deepEqual(a.tensor.shape, [2, 3]);
  assert.deepEqual(a.tensor, b.tensor);
  assert.ok(a.tensor.data instanceof Int32Array);
  const scalar = tensorFromJson(7.5, 'float64');
  assert.ok('tensor' in scalar);
  assert.deepEqual(scalar.tensor.shape, []);
});

test('each bad element is reported at its path, within range rules per dtype', () => {
  const r = tensorFromJson([[1, 300], [-1, 2.5]], 'uint8');
  assert.ok('issues' in r);
  assert.deepEqual(r.issues.map((i) => i.path), [[0, 1], [1, 0], [1, 1]]);
  assert.match(r.issues[0]!.message, /integer from 0 to 255 \(uint8\)/);
  const ragged = tensorFromJson([[1, 2], [3]], 'float32');
  assert.ok('issues' in ragged);
  assert.deepEqual(ragged.issues[0]?.path, [1]);
  const wrongDtype = tensorFromJson({ dtype: 'int8', shape: [1], data: [1] }, 'float32');
  assert.ok('issues' in wrongDtype);
  assert.deepEqual(wrongDtype.issues[0]?.path, ['dtype']);
  const count = tensorFromJson({ shape: [2, 2], data: [1, 2, 3] }, 'float32');
  assert.ok('issues' in count);
  assert.match(count.issues[0]!.message, /needs 4 elements, got 3/);
});

test('bools, strings, 16-bit floats and 64-bit integers', () => {
  const bools = tensorFromJson([true, false, 1], 'bool');
  assert.ok('tensor' in bools);
  assert.deepEqual([...(bools.tensor.data as Uint8Array)], [1, 0, 1]);
  assert.deepEqual(tensorDataToJson(bools.tensor), [true, false, true]);
  const half = tensorFromJson([1.5, -2, 65504], 'float16');
  assert.ok('tensor' in half);
  assert.deepEqual(tensorDataToJson(half.tensor), [1.5, -2, 65504]);
  const bf = tensorFromJson([1, 3.140625], 'bfloat16');
  assert.ok('tensor' in bf);
  assert.deepEqual(tensorDataToJson(bf.tensor), [1, 3.140625]);
  const big = tensorFromJson([1, '-9223372036854775808', '18446744073709551615'], 'int64');
  assert.ok('issues' in big, 'uint64 max does not fit int64');
  const ok = tensorFromJson([1, '-9223372036854775808'], 'int64');
  assert.ok('tensor' in ok);
  assert.deepEqual(tensorDataToJson(ok.tensor), [1, '-9223372036854775808']);
  const strings = tensorFromJson([['a', 'b']], 'string');
  assert.ok('tensor' in strings);
  assert.deepEqual(strings.tensor.data, ['a', 'b']);
});

test('binary is little-endian and copied into an aligned array', () => {
  const bytes = Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]); // 1.0, 2.0 as float32 LE
  const unaligned = Buffer.concat([Buffer.from([9]), bytes]).subarray(1);
  const data = tensorDataFromBytes('float32', unaligned);
  assert.ok(data instanceof Float32Array);
  assert.deepEqual([...data], [1, 2]);
  assert.deepEqual([...tensorBytes({ dtype: 'float32', shape: [2], data })], [...bytes]);
  assert.deepEqual(parseShapeHeader('2, 4'), [2, 4]);
  assert.deepEqual(parseShapeHeader(''), []);
  assert.equal(parseShapeHeader('2,-1'), undefined);
});
