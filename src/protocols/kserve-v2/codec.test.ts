// The V2 tensor codecs on their own (no runtime): every datatype, BF16 included, decodes to the same
// tensor from JSON and from binary, and encodes back to what the specification says.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTiffinError } from '../../errors/index.ts';
import { toBFloat16Bits, toFloat16Bits } from '../../runtime/half.ts';
import type { Tensor } from '../../runtime/tensor.ts';
import { V2_DATATYPES, dtypeOfDatatype, type V2Datatype } from './datatypes.ts';
import { encodeInferResponse, parseInferBody } from './rest-codec.ts';
import { tensorFromRaw, tensorToRaw } from './raw-tensor.ts';

/** Two elements per datatype, at the edges of each range, with their exact binary encoding. */
const SAMPLES: Record<V2Datatype, { json: unknown[]; bytes: number[] }> = {
  BOOL: { json: [true, false], bytes: [1, 0] },
  UINT8: { json: [0, 255], bytes: [0, 255] },
  UINT16: { json: [1, 65535], bytes: [1, 0, 255, 255] },
  UINT32: { json: [1, 4294967295], bytes: [1, 0, 0, 0, 255, 255, 255, 255] },
  UINT64: { json: [1, '18446744073709551615'], bytes: [1, 0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255] },
  INT8: { json: [-128, 127], bytes: [128, 127] },
  INT16: { json: [-32768, 2], bytes: [0, 128, 2, 0] },
  INT32: { json: [-1, 2147483647], bytes: [255, 255, 255, 255, 255, 255, 255, 127] },
  INT64: { json: ['-9223372036854775808', 3], bytes: [0, 0, 0, 0, 0, 0, 0, 128, 3, 0, 0, 0, 0, 0, 0, 0] },
  FP16: { json: [1, -2], bytes: [0x00, 0x3c, 0x00, 0xc0] },
  BF16: { json: [1, -2], bytes: [0x80, 0x3f, 0x00, 0xc0] },
  FP32: { json: [1.5, -2], bytes: [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0] },
  FP64: { json: [1, 'Infinity'], bytes: [0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f] },
  BYTES: { json: ['ab', 'é'], bytes: [2, 0, 0, 0, 97, 98, 2, 0, 0, 0, 0xc3, 0xa9] },
};

function jsonBody(datatype: V2Datatype, data: unknown): Buffer {
  return Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype, shape: [2], data }] }));
}

function binaryBody(datatype: V2Datatype, bytes: number[], extra: Record<string, unknown> = {}): { body: Buffer; header: string } {
  const json = Buffer.from(JSON.stringify({ ...extra, inputs: [{ name: 'in', datatype, shape: [2], parameters: { binary_data_size: bytes.length } }] }));
  return { body: Buffer.concat([json, Buffer.from(bytes)]), header: String(json.byteLength) };
}

function plain(t: Tensor): unknown[] {
  return Array.from(t.data as ArrayLike<unknown>);
}

test('every V2 datatype decodes to the same tensor from JSON data and from binary data', () => {
  assert.equal(V2_DATATYPES.length, 14);
  for (const datatype of V2_DATATYPES) {
    const { json, bytes } = SAMPLES[datatype];
    const fromJson = parseInferBody(jsonBody(datatype, json), undefined).request.inputs[0]!.tensor;
    const { body, header } = binaryBody(datatype, bytes);
    const fromBinary = parseInferBody(body, header).request.inputs[0]!.tensor;
    assert.equal(fromJson.dtype, dtypeOfDatatype(datatype, 'in'), datatype);
    assert.deepEqual(fromBinary.shape, [2]);
    assert.deepEqual(plain(fromBinary), plain(fromJson), datatype);
    assert.equal(fromBinary.data.constructor, fromJson.data.constructor, datatype);
    assert.deepEqual([...tensorToRaw(fromJson)], bytes, `${datatype} encodes back to the same bytes`);
  }
});

test('FP16 and BF16 JSON numbers become their 16-bit patterns, and come back as numbers', () => {
  const fp16 = parseInferBody(jsonBody('FP16', [0.5, 65504]), undefined).request.inputs[0]!.tensor;
  assert.deepEqual(plain(fp16), [toFloat16Bits(0.5), toFloat16Bits(65504)]);
  const bf16 = parseInferBody(jsonBody('BF16', [0.5, 3.140625]), undefined).request.inputs[0]!.tensor;
  assert.deepEqual(plain(bf16), [toBFloat16Bits(0.5), toBFloat16Bits(3.140625)]);
  const out = encodeInferResponse({ modelName: 'm', modelVersion: '1', outputs: [{ name: 'o', datatype: 'BF16', tensor: bf16 }] }, undefined, () => false);
  assert.deepEqual(JSON.parse(out.body.toString()).outputs[0].data, [0.5, 3.140625]);
});

test('nested data is flattened row-major and must match the shape', () => {
  const body = Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'INT32', shape: [2, 2], data: [[1, 2], [3, 4]] }] }));
  assert.deepEqual(plain(parseInferBody(body, undefined).request.inputs[0]!.tensor), [1, 2, 3, 4]);
  const ragged = Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'INT32', shape: [2, 2], data: [[1, 2], [3]] }] }));
  assert.throws(() => parseInferBody(ragged, undefined), (e) => isTiffinError(e, 'TENSOR_INVALID') && /does not match the shape/.test(e.message));
  const short = Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'FP32', shape: [3], data: [1, 2] }] }));
  assert.throws(() => parseInferBody(short, undefined), /needs 3 elements, "data" has 2/);
});

test('values that do not fit their datatype are rejected with the element named', () => {
  const cases: [V2Datatype, unknown[], RegExp][] = [
    ['UINT8', [256, 0], /element 0 \(256\)/],
    ['INT8', [1.5, 0], /element 0 \(1.5\)/],
    ['BOOL', [1, 0], /not a valid bool/],
    ['INT64', [1, 2 ** 60], /element 1/],
    ['UINT64', [-1, 0], /not a valid uint64/],
    ['BYTES', [1, 'a'], /not a valid string/],
    ['FP32', ['1.5', 2], /not a valid float32/],
  ];
  for (const [datatype, data, message] of cases) {
    assert.throws(() => parseInferBody(jsonBody(datatype, data), undefined), (e) => isTiffinError(e, 'TENSOR_INVALID') && message.test(e.message), datatype);
  }
  assert.throws(() => parseInferBody(jsonBody('FP8' as V2Datatype, [1, 2]), undefined), /unknown datatype "FP8"/);
});

test('malformed binary requests: bad header length, sizes that do not add up, truncated BYTES', () => {
  const { body, header } = binaryBody('FP32', [0, 0, 0xc0, 0x3f, 0, 0, 0, 0xc0]);
  const bad = (b: Buffer, h: string | undefined, message: RegExp) =>
    assert.throws(() => parseInferBody(b, h), (e) => isTiffinError(e) && e.status === 400 && message.test(e.message), String(message));
  bad(body, 'abc', /must be a byte count/);
  bad(body, '-5', /must be a byte count/);
  bad(body, String(body.byteLength + 1), /but the body has/);
  bad(body, '0', /Inference-Header-Content-Length is 0/);
  bad(body, String(Number(header) - 3), /not valid JSON/);
  bad(Buffer.concat([body, Buffer.from([1, 2, 3])]), header, /binary data holds 11 bytes but the inputs' binary_data_size add up to 8/);
  bad(body.subarray(0, body.byteLength - 2), header, /runs past the end of the binary data/);
  bad(body, undefined, /not valid JSON/);
  const noHeader = Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'FP32', shape: [1], parameters: { binary_data_size: 4 } }] }));
  bad(noHeader, undefined, /no Inference-Header-Content-Length header/);
  const withData = Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'UINT8', shape: [2], data: [1, 2], parameters: { binary_data_size: 2 } }] }));
  bad(Buffer.concat([withData, Buffer.from([1, 2])]), String(withData.byteLength), /both "data" and a "binary_data_size"/);
});

test('raw BYTES elements need their 4-byte length prefixes to add up exactly', () => {
  assert.throws(() => tensorFromRaw('string', [2], Uint8Array.from([1, 0, 0, 0, 97, 9, 0, 0, 0, 98]), 'in'), /claims 9 bytes/);
  assert.throws(() => tensorFromRaw('string', [2], Uint8Array.from([1, 0, 0, 0, 97]), 'in'), /ends after 1 of 2 elements/);
  assert.throws(() => tensorFromRaw('string', [1], Uint8Array.from([1, 0, 0, 0, 97, 0]), 'in'), /1 bytes left over/);
  assert.throws(() => tensorFromRaw('float32', [2], new Uint8Array(7), 'in'), /needs 8 bytes, got 7/);
});

test('responses: flat JSON data with exact 64-bit integers, binary outputs after the JSON with their sizes, id echoed', () => {
  const big: Tensor = { dtype: 'int64', shape: [2], data: BigInt64Array.from([9007199254740993n, -1n]) };
  const f: Tensor = { dtype: 'float32', shape: [1, 2], data: Float32Array.from([0.5, Number.NaN]) };
  const result = { modelName: 'm', modelVersion: '7', outputs: [{ name: 'big', datatype: 'INT64' as const, tensor: big }, { name: 'f', datatype: 'FP32' as const, tensor: f }] };
  const json = encodeInferResponse(result, 'req-1', () => false);
  assert.equal(json.headerLength, undefined);
  const text = json.body.toString();
  assert.match(text, /"data":\[9007199254740993,-1\]/);
  assert.match(text, /"data":\[0.5,"NaN"\]/);
  assert.deepEqual(JSON.parse(text).id, 'req-1');
  assert.deepEqual(JSON.parse(text).model_version, '7');

  const mixed = encodeInferResponse(result, undefined, (name) => name === 'f');
  const head = JSON.parse(mixed.body.subarray(0, mixed.headerLength).toString());
  assert.equal(head.id, undefined);
  assert.deepEqual(head.outputs[1], { name: 'f', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } });
  assert.deepEqual(head.outputs[0].data, [9007199254740993, -1]);
  const tail = mixed.body.subarray(mixed.headerLength!);
  assert.deepEqual([...new Float32Array(tail.buffer.slice(tail.byteOffset, tail.byteOffset + 8))].map(String), ['0.5', 'NaN']);
});

test('requested outputs and binary_data / binary_data_output choose the binary outputs', () => {
  const request = (extra: Record<string, unknown>) =>
    parseInferBody(Buffer.from(JSON.stringify({ inputs: [{ name: 'in', datatype: 'BOOL', shape: [1], data: [true] }], ...extra })), undefined);
  const all = request({ parameters: { binary_data_output: true } });
  assert.equal(all.binaryOutput('anything'), true);
  assert.equal(all.request.outputs, undefined);
  const some = request({ parameters: { binary_data_output: true }, outputs: [{ name: 'a', parameters: { binary_data: false } }, { name: 'b' }] });
  assert.deepEqual(some.request.outputs, ['a', 'b']);
  assert.equal(some.binaryOutput('a'), false);
  assert.equal(some.binaryOutput('b'), true);
  const none = request({ outputs: [{ name: 'a', parameters: { binary_data: true } }], id: 'x' });
  assert.equal(none.binaryOutput('a'), true);
  assert.equal(none.request.id, 'x');
  assert.throws(() => request({ id: 3 }), /"id" must be a string/);
  assert.throws(() => request({ outputs: [{ name: 'a', parameters: { binary_data: 'yes' } }] }), /"binary_data" must be true or false/);
});
