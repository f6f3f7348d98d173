// One V2 inference, whatever the transport: the decoded request is checked against the model's declared
// inputs and outputs (so a bad request gets a 400 in V2 terms) and run under a lease on the version.
import { TiffinError } from '../../errors/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import { shapeMatches, type Tensor, type TensorSpec, type Tensors } from '../../runtime/tensor.ts';
import type { CallOptions } from '../../runtime/types.ts';
import { runFor, type ProtocolCall } from '../request-call.ts';
import { datatypeOfDtype, type V2Datatype } from './datatypes.ts';

export type V2Parameters = Record<string, unknown>;

export interface V2Input {
  name: string;
  tensor: Tensor;
}

export interface V2InferRequest {
  id?: string;
  parameters: V2Parameters;
  inputs: V2Input[];
  /** Requested outputs in order; undefined returns every output. */
  outputs?: string[];
}

export interface V2Output {
  name: string;
  datatype: V2Datatype;
  tensor: Tensor;
}

export interface V2InferResult {
  modelName: string;
  modelVersion: string;
  outputs: V2Output[];
  /** Response parameters (traffic routing puts the variant and how it was picked here). */
  parameters?: V2Parameters;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function checkInputs(specs: readonly TensorSpec[], inputs: readonly V2Input[]): void {
  if (specs.length === 0) return; // a model that declares no inputs takes whatever it is given
  const byName = new Map(specs.map((s) => [s.name, s]));
  const seen = new Set<string>();
  for (const { name, tensor } of inputs) {
    const spec = byName.get(name);
    if (!spec) throw new TiffinError('TENSOR_INVALID', `unknown input "${name}"; the model's inputs are ${specs.map((s) => s.name).join(', ')}`);
    if (seen.has(name)) throw new TiffinError('TENSOR_INVALID', `input "${name}" is given twice`);
    seen.add(name);
    if (tensor.dtype !== spec.dtype) {
      throw new TiffinError('TENSOR_INVALID', `input "${name}": datatype ${datatypeOfDtype(tensor.dtype)} does not match the model's ${datatypeOfDtype(spec.dtype)}`);
    }
    if (!shapeMatches(spec.shape, tensor.shape)) {
      throw new TiffinError('TENSOR_INVALID', `input "${name}": shape ${shapeText(tensor.shape)} does not match the model's ${shapeText(spec.shape)} (-1: any size)`);
    }
  }
  const missing = specs.filter((s) => !seen.has(s.name));
  if (missing.length > 0) {
    throw new TiffinError('TENSOR_INVALID', `missing input${missing.length > 1 ? 's' : ''} ${missing.map((s) => `"${s.name}" (${datatypeOfDtype(s.dtype)} ${shapeText(s.shape)})`).join(', ')}`);
  }
}

function checkOutputs(specs: readonly TensorSpec[], wanted: readonly string[] | undefined): void {
  if (!wanted || specs.length === 0) return;
  const seen = new Set<string>();
  for (const name of wanted) {
    if (!specs.some((s) => s.name === name)) {
      throw new TiffinError('TENSOR_INVALID', `unknown output "${name}"; the model's outputs are ${specs.map((s) => s.name).join(', ')}`);
    }
    if (seen.has(name)) throw new TiffinError('TENSOR_INVALID', `output "${name}" is requested twice`);
    seen.add(name);
  }
}

/** Triton's request parameters that change how the call is scheduled: priority, and timeout in microseconds. */
function callOptions(parameters: V2Parameters, outputs: string[] | undefined): CallOptions {
  const options: CallOptions = {};
  if (outputs) options.outputs = outputs;
  const { priority, timeout } = parameters;
  if (priority !== undefined) {
    if (typeof priority !== 'number' || !Number.isInteger(priority)) throw new TiffinError('BAD_REQUEST', 'parameter "priority" must be an integer');
    options.priority = priority;
  }
  if (timeout !== undefined) {
    if (typeof timeout !== 'number' || !(timeout > 0)) throw new TiffinError('BAD_REQUEST', 'parameter "timeout" must be a positive number of microseconds');
    options.timeoutMs = Math.ceil(timeout / 1000);
  }
  return options;
}

/** Runs a decoded V2 request on `model` (its default version, or `version`: a version name or a label). `call`
 * carries the transport's request id, abort signal and trace. */
export async function inferV2(
  repository: ModelRepository,
  model: string,
  version: string | undefined,
  request: V2InferRequest,
  call: ProtocolCall = {},
): Promise<V2InferResult> {
  const lease = repository.acquire(model, version === undefined ? {} : { version });
  try {
    const { handle } = lease;
    checkInputs(handle.inputs, request.inputs);
    checkOutputs(handle.outputs, request.outputs);
    const feeds: Tensors = {};
    for (const input of request.inputs) feeds[input.name] = input.tensor;
    const results = await runFor(call, handle, model, feeds, callOptions(request.parameters, request.outputs));
    const order = request.outputs ?? (handle.outputs.length > 0 ? handle.outputs.map((s) => s.name) : Object.keys(results));
    const outputs: V2Output[] = [];
    for (const name of order) {
      const tensor = results[name];
      if (!tensor) throw new TiffinError('INFERENCE_FAILED', `the model returned no output "${name}"`);
      outputs.push({ name, datatype: datatypeOfDtype(tensor.dtype), tensor });
    }
    return { modelName: model, modelVersion: lease.version, outputs };
  } finally {
    lease.release();
  }
}
