// What a protocol request hands its model call besides the tensors: the request id the client sees (prediction
// logs of monitored models record the call under it, so targets can be joined later), the abort signal, and,
// when the request is traced, its trace: the call gets a `tiffin.inference` span, and the runner's queue and
// batch spans become its children.
import type { Context } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { Tensors } from '../runtime/tensor.ts';
import type { CancelSignal } from '../runtime/cancellation.ts';
import type { CallOptions, ModelHandle } from '../runtime/types.ts';
import { requestTelemetry } from '../telemetry/http-telemetry.ts';
import { tracedHandle } from '../telemetry/tracing/model-tracing.ts';
import type { Tracing } from '../telemetry/tracing/tracing.ts';
import { type ModelOutputs } from '../runtime/model-outputs.ts';

export interface ProtocolCall {
  /** The id the client sees: HTTP `x-request-id` (or the one the server made up), the V2 gRPC request's `id`. */
  requestId?: string;
  /** Aborts the call when the client goes away. */
  signal?: CancelSignal;
  /** Set only when the request is traced (sampled). */
  trace?: { tracing: Tracing; context: Context };
}

/** The call of an HTTP protocol request: its id, and its trace when the server traces it. */
export function httpCall(request: FastifyRequest, tracing: Tracing | undefined, signal: CancelSignal): ProtocolCall {
  const call: ProtocolCall = { requestId: request.id, signal };
  if (tracing?.enabled) {
    const trace = requestTelemetry(request)?.trace;
    if (trace?.span.isRecording()) call.trace = { tracing, context: trace.context };
  }
  return call;
}

/** `options` with the call's request id and signal added. */
export function callOptions(call: ProtocolCall, options: CallOptions = {}): CallOptions {
  if (call.requestId !== undefined) options.requestId = call.requestId;
  if (call.signal) options.signal = call.signal;
  return options;
}

/** Runs `feeds` on `handle` (the version serving model `model`) for a protocol request: traced under the request
 * when it is traced, with its id and signal in the call options. */
export function runFor(call: ProtocolCall, handle: ModelHandle, model: string, feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
  const target = call.trace ? tracedHandle(handle, model, call.trace.tracing, call.trace.context) : handle;
  return target.run(feeds, callOptions(call, options));
}
