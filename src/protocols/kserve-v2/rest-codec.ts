// The V2 REST inference body both ways: a JSON object, optionally followed by binary tensor data (the
// binary tensor data extension: the JSON's length in the Inference-Header-Content-Length header, each
// binary input's size in its `binary_data_size` parameter, binary outputs asked for with `binary_data`
// per output or `binary_data_output` for all).
import { TiffinError } from '../../errors/index.ts';
import { DEFAULT_LIMITS, TensorBudget, checkJsonDepth, checkStrings, type RequestLimits } from '../../limits/index.ts';
import { OFFLOAD_MIN_BYTES, OFFLOAD_MIN_ELEMENTS, bufferOf, offload, ownBuffer, plainTensor } from '../../offload/index.ts';
import { elementCount, type Tensor } from '../../runtime/tensor.ts';
import { flatJson, flattenNested, jsonToTensorData } from '../json-tensor.ts';
import { parseLenientJson } from '../lenient-json.ts';
import { dtypeOfDatatype } from './datatypes.ts';
import type { V2InferRequest, V2InferResult, V2Input, V2Parameters } from './infer.ts';
import { tensorFromRaw, tensorToRaw } from './raw-tensor.ts';

export const HEADER_LENGTH_HEADER = 'inference-header-content-length';

/** Which outputs go back as binary data: those named true, and the rest when `all` (binary_data_output) is set. */
export interface BinaryChoice {
  /** [output name, binary_data] pairs (a list, not an object: any name is safe as a key of a Map). */
  byName: [string, boolean][];
  all: boolean;
}

/** What decoding gives, as plain data (it may come back from an offload worker). */
export interface DecodedInferBody {
  request: V2InferRequest;
  binary: BinaryChoice;
}

export interface ParsedInferBody extends DecodedInferBody {
  /** Decides, per output name, whether it goes back as binary data. */
  binaryOutput(name: string): boolean;
}

export interface EncodedInferResponse {
  body: Buffer;
  /** Set when binary data follows the JSON: the JSON's length for Inference-Header-Content-Length. */
  headerLength?: number;
}

type Json = Record<string, unknown>;

function badRequest(message: string): TiffinError {
  return new TiffinError('BAD_REQUEST', message);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parametersOf(value: unknown, where: string): V2Parameters {
  if (value === undefined) return {};
  if (!isObject(value)) throw badRequest(`${where}: "parameters" must be an object`);
  return value;
}

function shapeOf(value: unknown, where: string): number[] {
  if (!Array.isArray(value) || value.some((d) => typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)) {
    throw badRequest(`${where}: "shape" must be a list of non-negative integers`);
  }
  return value as number[];
}

/** Splits the body at the header length, so a malformed header gets a clear 400 before anything is decoded. */
function splitBody(body: Buffer, headerLength: string | undefined): { json: Buffer; binary: Buffer | undefined } {
  if (headerLength === undefined) return { json: body, binary: undefined };
  if (!/^\d+$/.test(headerLength.trim())) {
    throw badRequest(`Inference-Header-Content-Length must be a byte count, got ${JSON.stringify(headerLength)}`);
  }
  const n = Number(headerLength.trim());
  if (n === 0 || n > body.byteLength) {
    throw badRequest(`Inference-Header-Content-Length is ${n}, but the body has ${body.byteLength} bytes`);
  }
  return { json: body.subarray(0, n), binary: body.subarray(n) };
}

function parseJson(bytes: Buffer, limits: RequestLimits): Json {
  checkJsonDepth(bytes, limits.maxJsonDepth);
  let value: unknown;
  try {
    value = parseLenientJson(bytes.toString('utf8'));
  } catch (err) {
    throw badRequest(`the request is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw badRequest('the request must be a JSON object');
  return value;
}

function jsonInput(name: string, dtype: Tensor['dtype'], shape: number[], data: unknown, where: string): Tensor {
  if (!Array.isArray(data)) throw badRequest(`${where}: "data" must be an array`);
  const n = elementCount(shape);
  const flat = data.some(Array.isArray) ? flattenNested(data, shape, where) : data;
  if (flat.length !== n) {
    throw new TiffinError('TENSOR_INVALID', `${where}: shape [${shape.join(', ')}] needs ${n} elements, "data" has ${flat.length}`);
  }
  return { dtype, shape, data: jsonToTensorData(dtype, flat, `input "${name}"`) };
}

/**
 * Decodes an inference request body (JSON, or JSON then binary tensor data) within `limits`: every input's declared
 * shape is counted before its data is decoded. Plain in and out, so an offload worker can run it (where `body`
 * arrives as a Uint8Array).
 */
export function decodeInferBody(body: Uint8Array | undefined, headerLength: string | undefined, limits: RequestLimits): DecodedInferBody {
  if (!body || body.byteLength === 0) throw badRequest('the inference request has no body');
  const { json, binary } = splitBody(Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength), headerLength);
  const doc = parseJson(json, limits);
  const budget = new TensorBudget(limits);
  if (doc.id !== undefined && typeof doc.id !== 'string') throw badRequest('"id" must be a string');
  const parameters = parametersOf(doc.parameters, 'request');
  if (!Array.isArray(doc.inputs) || doc.inputs.length === 0) throw badRequest('"inputs" must be a non-empty list');

  let offset = 0;
  const inputs: V2Input[] = doc.inputs.map((item: unknown, i: number): V2Input => {
    if (!isObject(item) || typeof item.name !== 'string') throw badRequest(`inputs[${i}] must be an object with a "name"`);
    const where = `input "${item.name}"`;
    const dtype = dtypeOfDatatype(item.datatype, where);
    const shape = shapeOf(item.shape, where);
    budget.addInput(dtype, shape);
    const size = parametersOf(item.parameters, where).binary_data_size;
    if (size === undefined) {
      if (item.data === undefined) throw badRequest(`${where} has neither "data" nor a "binary_data_size" parameter`);
      return { name: item.name, tensor: stringsChecked(jsonInput(item.name, dtype, shape, item.data, where), limits, where) };
    }
    if (item.data !== undefined) throw badRequest(`${where} has both "data" and a "binary_data_size" parameter`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw badRequest(`${where}: "binary_data_size" must be a byte count`);
    if (!binary) throw badRequest(`${where} has a "binary_data_size" parameter, but the request has no Inference-Header-Content-Length header`);
    if (offset + size > binary.byteLength) {
      throw badRequest(`${where}: binary_data_size ${size} runs past the end of the binary data (${binary.byteLength - offset} bytes left)`);
    }
    const bytes = binary.subarray(offset, offset + size);
    offset += size;
    return { name: item.name, tensor: stringsChecked(tensorFromRaw(dtype, shape, bytes, where), limits, where) };
  });
  if (binary && offset !== binary.byteLength) {
    throw badRequest(`the binary data holds ${binary.byteLength} bytes but the inputs' binary_data_size add up to ${offset}`);
  }

  let outputs: string[] | undefined;
  const binaryByName: [string, boolean][] = [];
  if (doc.outputs !== undefined) {
    if (!Array.isArray(doc.outputs)) throw badRequest('"outputs" must be a list');
    budget.checkOutputs(doc.outputs.length);
    outputs = doc.outputs.map((item: unknown, i: number) => {
      if (!isObject(item) || typeof item.name !== 'string') throw badRequest(`outputs[${i}] must be an object with a "name"`);
      const wanted = parametersOf(item.parameters, `output "${item.name}"`).binary_data;
      if (wanted !== undefined) {
        if (typeof wanted !== 'boolean') throw badRequest(`output "${item.name}": "binary_data" must be true or false`);
        binaryByName.push([item.name, wanted]);
      }
      return item.name;
    });
    if (outputs.length === 0) outputs = undefined;
  }
  const allBinary = parameters.binary_data_output;
  if (allBinary !== undefined && typeof allBinary !== 'boolean') throw badRequest('"binary_data_output" must be true or false');

  const request: V2InferRequest = { parameters, inputs };
  if (typeof doc.id === 'string') request.id = doc.id;
  if (outputs) request.outputs = outputs;
  return { request, binary: { byName: binaryByName, all: allBinary === true } };
}

function stringsChecked(tensor: Tensor, limits: RequestLimits, where: string): Tensor {
  if (tensor.dtype === 'string') checkStrings(tensor.data as string[], limits, where);
  return tensor;
}

function chooser({ byName, all }: BinaryChoice): (name: string) => boolean {
  const wanted = new Map(byName);
  return (name) => wanted.get(name) ?? all;
}

function withChooser(decoded: DecodedInferBody): ParsedInferBody {
  return { ...decoded, binaryOutput: chooser(decoded.binary) };
}

/** decodeInferBody on the event loop. */
export function parseInferBody(body: Uint8Array | undefined, headerLength: string | undefined, limits: RequestLimits = DEFAULT_LIMITS): ParsedInferBody {
  return withChooser(decodeInferBody(body, headerLength, limits));
}

/** decodeInferBody, in an offload worker when the JSON part is large enough to hold the event loop. */
export async function readInferBody(body: Buffer | undefined, headerLength: string | undefined, limits: RequestLimits): Promise<ParsedInferBody> {
  const jsonBytes = headerLength === undefined ? (body?.byteLength ?? 0) : Number(headerLength) || 0;
  if (jsonBytes < OFFLOAD_MIN_BYTES) return parseInferBody(body, headerLength, limits);
  return withChooser(await offload<DecodedInferBody>(import.meta.url, 'decodeInferBody', [body, headerLength, limits], ownBuffer(body!)));
}

/** encodeInferResponse with the choice as plain data, for an offload worker. */
export function encodeInferResponseFor(result: V2InferResult, id: string | undefined, binary: BinaryChoice): EncodedInferResponse {
  return encodeInferResponse(result, id, chooser(binary));
}

/** encodeInferResponse, in an offload worker when the outputs going back as JSON hold many elements. */
export async function writeInferResponse(result: V2InferResult, parsed: ParsedInferBody): Promise<EncodedInferResponse> {
  let jsonElements = 0;
  for (const o of result.outputs) if (!parsed.binaryOutput(o.name)) jsonElements += elementCount(o.tensor.shape);
  if (jsonElements < OFFLOAD_MIN_ELEMENTS) return encodeInferResponse(result, parsed.request.id, parsed.binaryOutput);
  const plain: V2InferResult = { ...result, outputs: result.outputs.map((o) => ({ name: o.name, datatype: o.datatype, tensor: plainTensor(o.tensor) })) };
  const out = await offload<{ body: Uint8Array; headerLength?: number }>(import.meta.url, 'encodeInferResponseFor', [plain, parsed.request.id, parsed.binary]);
  const body = bufferOf(out.body);
  return out.headerLength === undefined ? { body } : { body, headerLength: out.headerLength };
}

/** Writes the response: JSON alone, or JSON then each binary output's bytes in output order. */
export function encodeInferResponse(result: V2InferResult, id: string | undefined, binaryOutput: (name: string) => boolean): EncodedInferResponse {
  const binaries: Uint8Array[] = [];
  const outputs = result.outputs.map((o) => {
    const head = `{"name":${JSON.stringify(o.name)},"datatype":"${o.datatype}","shape":[${o.tensor.shape.join(',')}]`;
    if (!binaryOutput(o.name)) return `${head},"data":${flatJson(o.tensor)}}`;
    const raw = tensorToRaw(o.tensor);
    binaries.push(raw);
    return `${head},"parameters":{"binary_data_size":${raw.byteLength}}}`;
  });
  const idPart = id === undefined ? '' : `,"id":${JSON.stringify(id)}`;
  const paramsPart = result.parameters === undefined ? '' : `,"parameters":${JSON.stringify(result.parameters)}`;
  const json = `{"model_name":${JSON.stringify(result.modelName)},"model_version":${JSON.stringify(result.modelVersion)}${idPart}${paramsPart},"outputs":[${outputs.join(',')}]}`;
  if (binaries.length === 0) return { body: Buffer.from(json) };
  const head = Buffer.from(json);
  return { body: Buffer.concat([head, ...binaries]), headerLength: head.byteLength };
}
