// A model call as a KServe V2 ModelInferRequest and its ModelInferResponse back as tensors: every input in
// raw_input_contents (little-endian bytes, a view over the tensor's own memory), the call's priority and
// remaining deadline as Triton's `priority` and `timeout` (µs) parameters, so the runner's batcher schedules it.
import { TiffinError } from '../errors/index.ts';
import { datatypeOfDtype, dtypeOfDatatype } from '../protocols/kserve-v2/datatypes.ts';
import type { InferParameter, ModelInferRequest, ModelInferResponse } from '../protocols/kserve-v2/grpc-proto.ts';
import { tensorFromRaw, tensorToRaw } from '../protocols/kserve-v2/raw-tensor.ts';
import type { Tensors } from '../runtime/tensor.ts';

export interface WireCall {
  model: string;
  requestId?: string;
  outputs?: readonly string[];
  priority?: number;
  /** Milliseconds left before the caller's deadline. */
  remainingMs?: number;
}

export function encodeCall(feeds: Tensors, call: WireCall): ModelInferRequest {
  const inputs: ModelInferRequest['inputs'] = [];
  const raw: Uint8Array[] = [];
  for (const name in feeds) {
    const t = feeds[name]!;
    inputs.push({ name, datatype: datatypeOfDtype(t.dtype), shape: t.shape });
    raw.push(tensorToRaw(t));
  }
  const parameters: Record<string, InferParameter> = {};
  if (call.priority !== undefined) parameters.priority = { int64_param: call.priority };
  if (call.remainingMs !== undefined) parameters.timeout = { int64_param: Math.max(1, Math.floor(call.remainingMs * 1000)) };
  const request: ModelInferRequest = { model_name: call.model, inputs, raw_input_contents: raw, parameters };
  if (call.requestId !== undefined) request.id = call.requestId;
  if (call.outputs) request.outputs = call.outputs.map((name) => ({ name }));
  return request;
}

/** The response's outputs as tensors (copied into aligned memory); RUNNER_FAILED when the answer is malformed. */
export function decodeResponse(response: ModelInferResponse, runner: string): Tensors {
  const raw = response.raw_output_contents ?? [];
  if (raw.length !== response.outputs.length) {
    throw new TiffinError('RUNNER_FAILED', `runner ${runner} answered ${response.outputs.length} outputs with ${raw.length} raw contents; expected one per output`);
  }
  const out: Tensors = {};
  response.outputs.forEach((o, i) => {
    const where = `output "${o.name}" from runner ${runner}`;
    const shape = o.shape.map(Number);
    out[o.name] = tensorFromRaw(dtypeOfDatatype(o.datatype, where), shape, raw[i]!, where);
  });
  return out;
}
