// TorchServe predictions bodies for Tiffin's generic handler: a JSON object of input name → nested array (or, for a
// one-input model, the nested array itself) in; one output's value, or several by name, out. Large bodies and
// answers are decoded and encoded in an offload worker.
import { TiffinError } from '../../errors/index.ts';
import { TensorBudget, checkStrings, type RequestLimits } from '../../limits/index.ts';
import { OFFLOAD_MIN_BYTES, OFFLOAD_MIN_ELEMENTS, bufferOf, offload, ownBuffer, plainTensor } from '../../offload/index.ts';
import { elementCount, type Tensor, type TensorSpec, type Tensors } from '../../runtime/tensor.ts';
import { flattenNested, jsonToTensorData, nestedJson, nestedShape } from '../json-tensor.ts';
import { parseJsonBody } from '../lenient-json.ts';

export interface DecodedPredictions {
  feeds: Tensors;
  /** Every input was one row short, so the answer drops the batch dimension again. */
  unbatch: boolean;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The tensor for one input, and whether a batch dimension of 1 was added to it. */
function tensorOf(value: unknown, spec: TensorSpec, budget: TensorBudget, limits: RequestLimits): { tensor: Tensor; added: boolean } {
  const where = `input "${spec.name}"`;
  let shape = nestedShape(value);
  budget.addInput(spec.dtype, shape);
  const flat = shape.length === 0 ? [value] : flattenNested(value, shape, where);
  const added = shape.length === spec.shape.length - 1 && spec.shape[0] === -1;
  if (added) shape = [1, ...shape];
  const data = jsonToTensorData(spec.dtype, flat, where);
  if (spec.dtype === 'string') checkStrings(data as string[], limits, where);
  return { tensor: { dtype: spec.dtype, shape, data }, added };
}

function decode(body: unknown, specs: readonly TensorSpec[], limits: RequestLimits): DecodedPredictions {
  const budget = new TensorBudget(limits);
  if (specs.length === 0) throw new TiffinError('BAD_REQUEST', 'this model declares no inputs; call it through a service instead');
  const values: Record<string, unknown> = {};
  if (specs.length === 1 && !(isObject(body) && specs[0]!.name in body)) values[specs[0]!.name] = body;
  else if (isObject(body)) {
    for (const key of Object.keys(body)) {
      if (!specs.some((s) => s.name === key)) throw new TiffinError('TENSOR_INVALID', `unknown input "${key}"; the model's inputs are ${specs.map((s) => s.name).join(', ')}`);
    }
    for (const spec of specs) {
      if (!(spec.name in body)) throw new TiffinError('TENSOR_INVALID', `missing input "${spec.name}"`);
      values[spec.name] = body[spec.name];
    }
  } else throw new TiffinError('BAD_REQUEST', `send a JSON object with the inputs ${specs.map((s) => s.name).join(', ')}`);
  const feeds: Tensors = {};
  let unbatch = true;
  for (const spec of specs) {
    const { tensor, added } = tensorOf(values[spec.name], spec, budget, limits);
    feeds[spec.name] = tensor;
    unbatch &&= added;
  }
  return { feeds, unbatch };
}

function outputJson(t: Tensor, unbatch: boolean): string {
  return unbatch && t.shape[0] === 1 ? nestedJson(t, { shape: t.shape.slice(1) }) : nestedJson(t);
}

/** The raw body parsed (NaN and Infinity allowed, nesting within limits) and decoded; plain in and out, for a worker. */
export function decodePredictionsBody(raw: Uint8Array, specs: readonly TensorSpec[], limits: RequestLimits): DecodedPredictions {
  return decode(parseJsonBody(raw, limits.maxJsonDepth), specs, limits);
}

export function readPredictionsBody(raw: Buffer, specs: readonly TensorSpec[], limits: RequestLimits): DecodedPredictions | Promise<DecodedPredictions> {
  if (raw.byteLength < OFFLOAD_MIN_BYTES) return decodePredictionsBody(raw, specs, limits);
  return offload<DecodedPredictions>(import.meta.url, 'decodePredictionsBody', [raw, specs, limits], ownBuffer(raw));
}

/** The answer: one output's value, or an object of every output by name. */
export function encodePredictions(outputs: readonly { name: string; tensor: Tensor }[], unbatch: boolean): string {
  const parts = outputs.map((o) => [o.name, outputJson(o.tensor, unbatch)] as const);
  return parts.length === 1 ? parts[0]![1] : `{${parts.map(([n, j]) => `${JSON.stringify(n)}:${j}`).join(',')}}`;
}

/** encodePredictions as UTF-8 bytes, for a worker (bytes are transferred back; a string would be copied). */
export function encodePredictionsBytes(outputs: readonly { name: string; tensor: Tensor }[], unbatch: boolean): Buffer {
  return Buffer.from(encodePredictions(outputs, unbatch));
}

/** encodePredictions, in an offload worker when the outputs hold many elements. */
export async function writePredictions(outputs: readonly { name: string; tensor: Tensor }[], unbatch: boolean): Promise<string | Buffer> {
  if (outputs.reduce((n, o) => n + elementCount(o.tensor.shape), 0) < OFFLOAD_MIN_ELEMENTS) return encodePredictions(outputs, unbatch);
  const plain = outputs.map((o) => ({ name: o.name, tensor: plainTensor(o.tensor) }));
  return bufferOf(await offload<Uint8Array>(import.meta.url, 'encodePredictionsBytes', [plain, unbatch]));
}
