// Owns: loading onnx.proto with protobufjs, the plain-object shapes of its messages, and encoding or
// decoding a whole ModelProto. Knows nothing about graph building; writer.ts fills these objects.
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { TiffinError, messageOf } from '../errors/index.ts';

/** TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0, FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT16: 5, INT32: 6, INT64: 7,
  STRING: 8, BOOL: 9, FLOAT16: 10, DOUBLE: 11, UINT32: 12, UINT64: 13,
  COMPLEX64: 14, COMPLEX128: 15, BFLOAT16: 16,
} as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0, FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, GRAPH: 5,
  FLOATS: 6, INTS: 7, STRINGS: 8, TENSORS: 9, GRAPHS: 10,
  SPARSE_TENSOR: 11, SPARSE_TENSORS: 12, TYPE_PROTO: 13, TYPE_PROTOS: 14,
} as const;

/**
 * int64 fields: a number when it fits in 2^53, otherwise a decimal string (protobufjs parses it with
 * `long`). Decoding always yields numbers.
 */
export type Int64 = number | string;

// Field names are protobufjs's camelCase forms of the .proto names.
export interface TensorProtoObject {
  name?: string;
  dims?: Int64[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: Int64[];
  doubleData?: number[];
  uint64Data?: Int64[];
  stringData?: Uint8Array[];
  rawData?: Uint8Array;
  docString?: string;
}

export interface DimensionObject {
  dimValue?: Int64;
  dimParam?: string;
}

export interface TypeProtoObject {
  tensorType?: { elemType?: number; shape?: { dim?: DimensionObject[] } };
}

export interface ValueInfoProtoObject {
  name?: string;
  type?: TypeProtoObject;
  docString?: string;
}

export interface AttributeProtoObject {
  name?: string;
  type?: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProtoObject;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  docString?: string;
}

export interface NodeProtoObject {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: AttributeProtoObject[];
  docString?: string;
}

export interface GraphProtoObject {
  name?: string;
  node?: NodeProtoObject[];
  initializer?: TensorProtoObject[];
  input?: ValueInfoProtoObject[];
  output?: ValueInfoProtoObject[];
  valueInfo?: ValueInfoProtoObject[];
  docString?: string;
}

export interface OperatorSetIdObject {
  domain?: string;
  version?: Int64;
}

export interface ModelProtoObject {
  irVersion?: Int64;
  opsetImport?: OperatorSetIdObject[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph?: GraphProtoObject;
  metadataProps?: { key?: string; value?: string }[];
}

let modelType: protobuf.Type | undefined;

/** The ModelProto type, parsed from onnx.proto on first use. */
function model(): protobuf.Type {
  if (!modelType) {
    const root = protobuf.loadSync(fileURLToPath(new URL('./onnx.proto', import.meta.url)));
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

export function encodeModel(value: ModelProtoObject): Uint8Array {
  const type = model();
  try {
    return type.encode(type.fromObject(value as Record<string, unknown>)).finish();
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `cannot encode ONNX model: ${messageOf(err)}`, { cause: err });
  }
}

/** Decodes .onnx bytes (only the fields in onnx.proto); int64s come back as numbers. */
export function decodeModel(bytes: Uint8Array): ModelProtoObject {
  const type = model();
  try {
    return type.toObject(type.decode(bytes), { longs: Number, arrays: true }) as ModelProtoObject;
  } catch (err) {
    throw new TiffinError('MODEL_INVALID', `cannot decode ONNX model: ${messageOf(err)}`, { cause: err });
  }
}
