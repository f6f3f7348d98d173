// The writer's encoding decoded back with the same schema: attribute types, tensor storage, shapes,
// opset imports, and the errors for malformed graphs. Running models is builders.test.ts's job.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fromBFloat16Bits, fromFloat16Bits, toBFloat16Bits, toFloat16Bits } from '../runtime/half.ts';
import { AttributeType, DataType, decodeModel, type AttributeProtoObject, type TensorProtoObject } from './proto.ts';
import { attr, dtypeFromOnnx, GraphBuilder, ONNX_DATA_TYPE } from './writer.ts';

const utf8 = new TextDecoder();

function identityGraph(): GraphBuilder {
  return new GraphBuilder('g').input('x', 'float32', [-1, 'seq', 3]).node('Identity', ['x'], ['y']).output('y', 'float32');
}

describe('GraphBuilder', () => {
  test('model header, shapes and opset imports', () => {
    const model = decodeModel(identityGraph().build({ metadata: { author: 'tiffin tests' }, docString: 'hi' }));
    assert.equal(model.irVersion, 8);
    assert.equal(model.producerName, 'tiffin');
    assert.equal(model.docString, 'hi');
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 17 }]);
    assert.deepEqual(model.metadataProps, [{ key: 'author', value: 'tiffin tests' }]);
    const input = model.graph?.input?.[0];
    assert.equal(input?.type?.tensorType?.elemType, DataType.FLOAT);
    assert.deepEqual(input?.type?.tensorType?.shape?.dim, [{}, { dimParam: 'seq' }, { dimValue: 3 }]);
    assert.equal(model.graph?.output?.[0]?.type?.tensorType?.shape, undefined, 'no shape given: unknown rank');
  });

  test('attribute types are inferred, or stated with attr.*', () => {
    const model = decodeModel(identityGraph().node('Custom', ['y'], ['z'], {
      i: 3, f: 0.5, s: 'text', ints: [1, 2], floats: [1, 2.5], strings: ['a', 'b'],
      big: 2n ** 60n, one: attr.float(1), none: attr.ints([]), t: attr.tensor('int64', [2], [1, 2]),
    }, { domain: 'com.example' }).build({ opsets: { 'com.example': 1 } }));
    const attrs = Object.fromEntries((model.graph?.node?.[1]?.attribute ?? []).map((a): [string, AttributeProtoObject] => [a.name ?? '', a]));
    assert.deepEqual(model.opsetImport?.map((o) => o.domain), ['', 'com.example']);
    assert.equal(model.graph?.node?.[1]?.domain, 'com.example');
    assert.deepEqual([attrs.i?.type, attrs.i?.i], [AttributeType.INT, 3]);
    assert.deepEqual([attrs.f?.type, attrs.f?.f], [AttributeType.FLOAT, 0.5]);
    assert.equal(attrs.s?.type, AttributeType.STRING);
    assert.equal(utf8.decode(attrs.s?.s), 'text');
    assert.deepEqual([attrs.ints?.type, attrs.ints?.ints], [AttributeType.INTS, [1, 2]]);
    assert.deepEqual([attrs.floats?.type, attrs.floats?.floats], [AttributeType.FLOATS, [1, 2.5]]);
    assert.deepEqual(attrs.strings?.strings?.map((b) => utf8.decode(b)), ['a', 'b']);
    assert.deepEqual([attrs.big?.type, attrs.big?.i], [AttributeType.INT, 2 ** 60]);
    assert.deepEqual([attrs.one?.type, attrs.one?.f], [AttributeType.FLOAT, 1]);
    assert.equal(attrs.none?.type, AttributeType.INTS);
    assert.equal(attrs.t?.type, AttributeType.TENSOR);
    assert.equal(attrs.t?.t?.dataType, DataType.INT64);
  });

  test('initializers: raw little-endian bytes, strings as UTF-8', () => {
    const model = decodeModel(new GraphBuilder('g')
      .initializer('i64', 'int64', [2], [1n, -2])
      .initializer('f16', 'float16', [2], [1, -2])
      .initializer('b', 'bool', [3], [true, false, true])
      .initializer('s', 'string', [2], ['ä', 'bc'])
      .input('x', 'float32', [1]).node('Identity', ['x'], ['y']).output('y', 'float32', [1])
      .build());
    const byName = Object.fromEntries((model.graph?.initializer ?? []).map((t): [string, TensorProtoObject] => [t.name ?? '', t]));
    assert.deepEqual([...byName.i64!.rawData!], [1, 0, 0, 0, 0, 0, 0, 0, 254, 255, 255, 255, 255, 255, 255, 255]);
    assert.deepEqual([...byName.f16!.rawData!], [0x00, 0x3c, 0x00, 0xc0]);
    assert.deepEqual([...byName.b!.rawData!], [1, 0, 1]);
    assert.deepEqual(byName.s!.stringData!.map((b) => utf8.decode(b)), ['ä', 'bc']);
    assert.deepEqual(byName.s!.dims, [2]);
    assert.equal(byName.s!.dataType, DataType.STRING);
  });

  test('ML nodes import ai.onnx.ml', () => {
    const bytes = new GraphBuilder('g').input('x', 'float32', [-1, 2])
      .node('Normalizer', ['x'], ['y'], { norm: 'L1' }, { domain: 'ai.onnx.ml' }).output('y', 'float32').build({ opset: 15, irVersion: 9 });
    const model = decodeModel(bytes);
    assert.equal(model.irVersion, 9);
    assert.deepEqual(model.opsetImport, [{ domain: '', version: 15 }, { domain: 'ai.onnx.ml', version: 3 }]);
  });

  test('malformed graphs are MODEL_INVALID', () => {
    const invalid = { code: 'MODEL_INVALID' };
    assert.throws(() => new GraphBuilder('g').node('Relu', ['nope'], ['y']), invalid);
    assert.throws(() => new GraphBuilder('g').input('x', 'float32', [1]).input('x', 'float32', [1]), invalid);
    assert.throws(() => new GraphBuilder('g').input('x', 'float32', [-2]), invalid);
    assert.throws(() => new GraphBuilder('g').input('x', 'float32', [1]).output('y', 'float32').build(), invalid);
    assert.throws(() => new GraphBuilder('g').input('x', 'float32', [1]).build(), invalid);
    assert.throws(() => identityGraph().node('Op', ['y'], ['z'], {}, { domain: 'x.y' }).build(), invalid);
    assert.throws(() => identityGraph().node('Op', ['y'], ['z'], { empty: [] }), invalid);
    assert.throws(() => new GraphBuilder('g').initializer('w', 'float32', [2, 2], [1, 2, 3]), invalid);
    assert.throws(() => new GraphBuilder('g').initializer('w', 'int8', [1], [200]), invalid);
    assert.throws(() => new GraphBuilder('g').initializer('w', 'int32', [1], [1.5]), invalid);
  });

  test('every dtype maps to an ONNX data type and back', () => {
    for (const [dtype, code] of Object.entries(ONNX_DATA_TYPE)) assert.equal(dtypeFromOnnx(code), dtype);
    assert.equal(dtypeFromOnnx(DataType.COMPLEX64), undefined);
  });
});

describe('half precision bits', () => {
  test('float16', () => {
    const cases: [number, number][] = [
      [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [Infinity, 0x7c00], [-0, 0x8000],
      [2 ** -24, 0x0001], [2 ** -25, 0x0000], [3 * 2 ** -26, 0x0001], [2 ** -14, 0x0400], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
    ];
    for (const [value, bits] of cases) assert.equal(toFloat16Bits(value), bits, `${value}`);
    assert.ok(Number.isNaN(fromFloat16Bits(toFloat16Bits(Number.NaN))));
    for (const v of [0.5, -3.25, 1024, 2 ** -20]) assert.equal(fromFloat16Bits(toFloat16Bits(v)), v);
  });

  test('bfloat16', () => {
    assert.equal(toBFloat16Bits(1), 0x3f80);
    assert.equal(toBFloat16Bits(-2), 0xc000);
    assert.equal(fromBFloat16Bits(toBFloat16Bits(3.140625)), 3.140625);
    assert.equal(fromBFloat16Bits(toBFloat16Bits(1 + 2 ** -8)), 1, 'ties round to even');
    assert.ok(Number.isNaN(fromBFloat16Bits(toBFloat16Bits(Number.NaN))));
  });
});
