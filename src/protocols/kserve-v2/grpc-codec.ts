// ModelInfer messages to and from the transport-neutral V2 request and result: typed `contents` or
// `raw_input_contents` in, `raw_output_contents` out (as Triton answers).
import { TiffinError } from '../../errors/index.ts';
import { DEFAULT_LIMITS, TensorBudget, checkStrings, type RequestLimits } from '../../limits/index.ts';
import { elementCount, type DType, type Tensor } from '../../runtime/tensor.ts';
import { jsonToTensorData } from '../json-tensor.ts';
import { dtypeOfDatatype } from './datatypes.ts';
import type { InferParameter, InferTensorContents, Int64, ModelInferRequest, ModelInferResponse } from './grpc-proto.ts';
import type { V2InferRequest, V2InferResult, V2Input, V2Parameters } from './infer.ts';
import { tensorFromRaw, tensorToRaw } from './raw-tensor.ts';

/** The `contents` list that carries each dtype; float16 and bfloat16 have none (raw only). */
const CONTENTS_FIELD: Record<DType, keyof InferTensorContents | undefined> = {
  bool: 'bool_contents',
  int8: 'int_contents', int16: 'int_contents', int32: 'int_contents',
  int64: 'int64_contents',
  uint8: 'uint_contents', uint16: 'uint_contents', uint32: 'uint_contents',
  uint64: 'uint64_contents',
  float32: 'fp32_contents', float64: 'fp64_contents',
  string: 'bytes_contents',
  float16: undefined, bfloat16: undefined,
};

const utf8 = new TextDecoder('utf-8');

function invalid(message: string): TiffinError {
  return new TiffinError('TENSOR_INVALID', message);
}

/** A parameter map's values, with 64-bit integers as numbers when they fit exactly. */
export function parameterValues(map: Record<string, InferParameter> | undefined): V2Parameters {
  const out: V2Parameters = {};
  for (const [key, p] of Object.entries(map ?? {})) {
    const field = p.parameter_choice;
    if (!field) continue;
    const value = p[field];
    if ((field === 'int64_param' || field === 'uint64_param') && typeof value === 'string') {
      const n = Number(value);
      out[key] = Number.isSafeInteger(n) ? n : value;
    } else out[key] = value;
  }
  return out;
}

function shapeOf(shape: readonly Int64[], where: string): number[] {
  return shape.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n) || n < 0) throw invalid(`${where}: shape must hold non-negative integers, got ${String(d)}`);
    return n;
  });
}

function hasContents(c: InferTensorContents | null | undefined): boolean {
  return !!c && Object.values(c).some((list) => Array.isArray(list) && list.length > 0);
}

function fromContents(dtype: DType, shape: number[], contents: InferTensorContents | null | undefined, datatype: string, where: string): Tensor {
  const field = CONTENTS_FIELD[dtype];
  if (field === undefined) throw invalid(`${where}: ${datatype} data must be sent in raw_input_contents (it has no typed contents field)`);
  const values = contents?.[field] ?? [];
  const n = elementCount(shape);
  if (values.length !== n) {
    throw invalid(`${where}: shape [${shape.join(', ')}] needs ${n} elements, ${field} has ${values.length}`);
  }
  if (dtype === 'string') return { dtype, shape, data: (values as Uint8Array[]).map((b) => utf8.decode(b)) };
  return { dtype, shape, data: jsonToTensorData(dtype, values as unknown[], where) };
}

/** Decodes a ModelInferRequest within `limits`; TENSOR_INVALID or BAD_REQUEST for anything malformed. */
export function decodeInferRequest(message: ModelInferRequest, limits: RequestLimits = DEFAULT_LIMITS): V2InferRequest {
  const budget = new TensorBudget(limits);
  budget.checkOutputs(message.outputs?.length ?? 0);
  const raw = message.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== message.inputs.length) {
    throw new TiffinError('BAD_REQUEST', `raw_input_contents has ${raw.length} entries for ${message.inputs.length} inputs; give one per input, in order`);
  }
  if (message.inputs.length === 0) throw new TiffinError('BAD_REQUEST', 'the request has no inputs');
  const inputs: V2Input[] = message.inputs.map((input, i) => {
    const where = `input "${input.name}"`;
    const dtype = dtypeOfDatatype(input.datatype, where);
    const shape = shapeOf(input.shape, where);
    budget.addInput(dtype, shape);
    let tensor: Tensor;
    if (raw.length > 0) {
      if (hasContents(input.contents)) throw new TiffinError('BAD_REQUEST', `${where} has contents, but the request uses raw_input_contents`);
      tensor = tensorFromRaw(dtype, shape, raw[i]!, where);
    } else tensor = fromContents(dtype, shape, input.contents, input.datatype, where);
    if (dtype === 'string') checkStrings(tensor.data as string[], limits, where);
    return { name: input.name, tensor };
  });
  const request: V2InferRequest = { parameters: parameterValues(message.parameters), inputs };
  if (message.id) request.id = message.id;
  const outputs = (message.outputs ?? []).map((o) => o.name);
  if (outputs.length > 0) request.outputs = outputs;
  return request;
}

/** Response parameters as InferParameters: strings, booleans, integers (int64) and other numbers (double). */
function encodeParameters(parameters: V2Parameters): Record<string, InferParameter> {
  const out: Record<string, InferParameter> = {};
  for (const [key, value] of Object.entries(parameters)) {
    if (typeof value === 'string') out[key] = { string_param: value };
    else if (typeof value === 'boolean') out[key] = { bool_param: value };
    else if (typeof value === 'number') out[key] = Number.isSafeInteger(value) ? { int64_param: value } : { double_param: value };
  }
  return out;
}

/** The response, every output as raw bytes (a view, not a copy, for fixed-width dtypes); the result's parameters
 * (traffic routing's variant and routing) as the response's parameters. */
export function encodeInferResponse(result: V2InferResult, id: string | undefined): ModelInferResponse {
  const response: ModelInferResponse = {
    model_name: result.modelName,
    model_version: result.modelVersion,
    id: id ?? '',
    outputs: result.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.tensor.shape })),
    raw_output_contents: result.outputs.map((o) => tensorToRaw(o.tensor)),
  };
  if (result.parameters) response.parameters = encodeParameters(result.parameters);
  return response;
}
