// TF Serving's predict bodies: the row format (`instances`, one entry per row, answered with
// `predictions`) and the columnar format (`inputs`, whole tensors, answered with `outputs`). Values are
// nested JSON arrays typed by the model's declared inputs; {"b64": ...} carries binary strings, and
// string outputs whose name ends in `_bytes` go back base64-encoded the same way.
import { TiffinError } from '../../errors/index.ts';
import { DEFAULT_LIMITS, TensorBudget, checkStrings, type RequestLimits } from '../../limits/index.ts';
import { OFFLOAD_MIN_BYTES, OFFLOAD_MIN_ELEMENTS, bufferOf, offload, ownBuffer, plainTensor } from '../../offload/index.ts';
import { elementCount, type DType, type Tensor, type TensorSpec, type Tensors } from '../../runtime/tensor.ts';
import { flattenNested, jsonToTensorData, nestedJson, nestedShape } from '../json-tensor.ts';
import { parseJsonBody } from '../lenient-json.ts';

export type PredictFormat = 'row' | 'columnar';

export interface DecodedPredict {
  format: PredictFormat;
  feeds: Tensors;
  /** Rows in a row-format request (the length of `instances`). */
  rows: number;
}

/** Signature names a predict request may give: TF's default, or the ONNX method name. */
const SIGNATURES = new Set(['', 'serving_default', 'run']);

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isB64(value: unknown): value is { b64: string } {
  return isObject(value) && typeof value.b64 === 'string' && Object.keys(value).length === 1;
}

function invalid(message: string): TiffinError {
  return new TiffinError('TENSOR_INVALID', message);
}

/** Replaces {"b64": ...} by its bytes: a UTF-8 string for string inputs, a list of byte values for 8-bit ones. */
function unwrapB64(value: unknown, dtype: DType, where: string): unknown {
  if (Array.isArray(value)) return value.map((v) => unwrapB64(v, dtype, where));
  if (!isB64(value)) return value;
  const bytes = Buffer.from(value.b64, 'base64');
  if (dtype === 'string') return bytes.toString('utf8');
  if (dtype === 'uint8') return [...bytes];
  if (dtype === 'int8') return [...new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)];
  throw invalid(`${where}: {"b64": ...} values need a string or 8-bit input, this one is ${dtype}`);
}

function tensorFromValue(value: unknown, spec: TensorSpec, budget: TensorBudget, limits: RequestLimits): Tensor {
  const where = `input "${spec.name}"`;
  const v = unwrapB64(value, spec.dtype, where);
  const shape = nestedShape(v);
  budget.addInput(spec.dtype, shape);
  const flat = shape.length === 0 ? [v] : flattenNested(v, shape, where);
  const data = jsonToTensorData(spec.dtype, flat, where);
  if (spec.dtype === 'string') checkStrings(data as string[], limits, where);
  return { dtype: spec.dtype, shape, data };
}

/** Objects (other than {"b64": ...}) map input names to values; anything else is the value of the only input. */
function isNamed(value: unknown): value is Json {
  return isObject(value) && !isB64(value);
}

function rowValue(instance: unknown, spec: TensorSpec, single: boolean, i: number): unknown {
  if (isNamed(instance)) {
    if (!(spec.name in instance)) throw invalid(`instances[${i}] has no value for input "${spec.name}"`);
    return instance[spec.name];
  }
  if (single) return instance;
  throw invalid(`instances[${i}] must be an object with a value for each input`);
}

function checkKeys(value: Json, specs: readonly TensorSpec[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!specs.some((s) => s.name === key)) throw invalid(`${where}: unknown input "${key}"; the model's inputs are ${specs.map((s) => s.name).join(', ')}`);
  }
}

/** Reads a predict body against the model's declared inputs, within `limits`. */
export function decodePredict(body: unknown, specs: readonly TensorSpec[], limits: RequestLimits = DEFAULT_LIMITS): DecodedPredict {
  const budget = new TensorBudget(limits);
  const tensorOf = (value: unknown, spec: TensorSpec) => tensorFromValue(value, spec, budget, limits);
  if (!isObject(body)) throw new TiffinError('BAD_REQUEST', 'the predict request must be a JSON object');
  const signature = body.signature_name ?? '';
  if (typeof signature !== 'string' || !SIGNATURES.has(signature)) {
    throw new TiffinError('BAD_REQUEST', `serving signature ${JSON.stringify(signature)} not found; use serving_default`);
  }
  if (specs.length === 0) throw new TiffinError('BAD_REQUEST', 'this model declares no inputs, so TF Serving requests cannot be mapped to it');
  const hasRows = 'instances' in body;
  const hasColumns = 'inputs' in body;
  if (hasRows === hasColumns) throw new TiffinError('BAD_REQUEST', 'give exactly one of "instances" (row format) or "inputs" (columnar format)');
  const single = specs.length === 1;
  const feeds: Tensors = {};

  if (hasRows) {
    const instances = body.instances;
    if (!Array.isArray(instances) || instances.length === 0) throw new TiffinError('BAD_REQUEST', '"instances" must be a non-empty list');
    instances.forEach((inst, i) => {
      if (isNamed(inst)) checkKeys(inst, specs, `instances[${i}]`);
    });
    for (const spec of specs) feeds[spec.name] = tensorOf(instances.map((inst, i) => rowValue(inst, spec, single, i)), spec);
    return { format: 'row', feeds, rows: instances.length };
  }

  const inputs = body.inputs;
  if (single && !isNamed(inputs)) {
    feeds[specs[0]!.name] = tensorOf(inputs, specs[0]!);
  } else {
    if (!isObject(inputs)) throw invalid('"inputs" must be an object with a value for each input');
    checkKeys(inputs, specs, '"inputs"');
    for (const spec of specs) {
      if (!(spec.name in inputs)) throw invalid(`"inputs" has no value for input "${spec.name}"`);
      feeds[spec.name] = tensorOf(inputs[spec.name], spec);
    }
  }
  return { format: 'columnar', feeds, rows: 0 };
}

function b64Leaf(t: Tensor, name: string): ((i: number) => string) | undefined {
  if (t.dtype !== 'string' || !name.endsWith('_bytes')) return undefined;
  const data = t.data as string[];
  return (i) => `{"b64":"${Buffer.from(data[i]!, 'utf8').toString('base64')}"}`;
}

function rowJson(t: Tensor, name: string, row: number): string {
  const shape = t.shape.slice(1);
  const stride = shape.reduce((a, b) => a * b, 1);
  const leaf = b64Leaf(t, name);
  return nestedJson(t, { shape, offset: row * stride, nonFinite: 'token', ...(leaf ? { leaf } : {}) });
}

function columnJson(t: Tensor, name: string): string {
  const leaf = b64Leaf(t, name);
  return nestedJson(t, { nonFinite: 'token', ...(leaf ? { leaf } : {}) });
}

/** The predict answer: `predictions` for the row format, `outputs` for the columnar one; one output loses its name. */
export function encodePredict(decoded: DecodedPredict, outputs: readonly { name: string; tensor: Tensor }[]): string {
  const single = outputs.length === 1;
  if (decoded.format === 'columnar') {
    if (single) return `{"outputs":${columnJson(outputs[0]!.tensor, outputs[0]!.name)}}`;
    return `{"outputs":{${outputs.map((o) => `${JSON.stringify(o.name)}:${columnJson(o.tensor, o.name)}`).join(',')}}}`;
  }
  for (const o of outputs) {
    if (o.tensor.shape[0] !== decoded.rows) {
      throw invalid(`output "${o.name}" has shape [${o.tensor.shape.join(', ')}], not ${decoded.rows} rows as the instances; use the columnar format ("inputs")`);
    }
  }
  const rows: string[] = [];
  for (let r = 0; r < decoded.rows; r++) {
    rows.push(single
      ? rowJson(outputs[0]!.tensor, outputs[0]!.name, r)
      : `{${outputs.map((o) => `${JSON.stringify(o.name)}:${rowJson(o.tensor, o.name, r)}`).join(',')}}`);
  }
  return `{"predictions":[${rows.join(',')}]}`;
}

/** The raw body, parsed (NaN and Infinity allowed, nesting within limits) and decoded; plain in and out, for a worker. */
export function decodePredictBody(body: Uint8Array, specs: readonly TensorSpec[], limits: RequestLimits): DecodedPredict {
  return decodePredict(parseJsonBody(body, limits.maxJsonDepth), specs, limits);
}

/** decodePredictBody, in an offload worker for a body large enough to hold the event loop. */
export function readPredictBody(body: Buffer, specs: readonly TensorSpec[], limits: RequestLimits): DecodedPredict | Promise<DecodedPredict> {
  if (body.byteLength < OFFLOAD_MIN_BYTES) return decodePredictBody(body, specs, limits);
  return offload<DecodedPredict>(import.meta.url, 'decodePredictBody', [body, specs, limits], ownBuffer(body));
}

/** encodePredict as UTF-8 bytes, for a worker: the bytes come back transferred, where a string would be copied and
 * then encoded on the event loop. */
export function encodePredictBytes(decoded: DecodedPredict, outputs: readonly { name: string; tensor: Tensor }[]): Buffer {
  return Buffer.from(encodePredict(decoded, outputs));
}

/** encodePredict, in an offload worker when the outputs hold many elements. */
export async function writePredict(decoded: DecodedPredict, outputs: readonly { name: string; tensor: Tensor }[]): Promise<string | Buffer> {
  const elements = outputs.reduce((n, o) => n + elementCount(o.tensor.shape), 0);
  if (elements < OFFLOAD_MIN_ELEMENTS) return encodePredict(decoded, outputs);
  const plain = outputs.map((o) => ({ name: o.name, tensor: plainTensor(o.tensor) }));
  return bufferOf(await offload<Uint8Array>(import.meta.url, 'encodePredictBytes', [{ format: decoded.format, rows: decoded.rows, feeds: {} }, plain]));
}
