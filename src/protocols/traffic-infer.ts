// A V2 inference that names no version, under a traffic route: the route picks the variant (override header,
// sticky key, weighted split), the answer names it (x-tiffin-variant, the response's parameters, the access log),
// and a sampled copy may go to the shadow once the live answer is computed, never awaited.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isTiffinError } from '../errors/index.ts';
import type { ModelRepository } from '../repository/index.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { annotateRequest } from '../telemetry/http-telemetry.ts';
import { VARIANT_HEADER, type TrafficManager } from '../traffic/index.ts';
import { inferV2, type V2InferRequest, type V2InferResult } from './kserve-v2/infer.ts';
import type { ProtocolCall } from './request-call.ts';

function outputsOf(result: V2InferResult): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const o of result.outputs) out[o.name] = o.tensor;
  return out;
}

/** The request with its tensors copied: a runner pool transfers the live call's buffers to its worker. */
function copyRequest(request: V2InferRequest): V2InferRequest {
  const copy: V2InferRequest = {
    parameters: { ...request.parameters },
    inputs: request.inputs.map(({ name, tensor }) => ({ name, tensor: { dtype: tensor.dtype, shape: [...tensor.shape], data: tensor.data.slice() } as Tensor })),
  };
  if (request.outputs) copy.outputs = [...request.outputs];
  return copy;
}

export async function routedInferV2(
  traffic: TrafficManager,
  repository: ModelRepository,
  model: string,
  request: V2InferRequest,
  call: ProtocolCall,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<V2InferResult> {
  const pick = traffic.pick(model, req.headers);
  if (!pick) {
    const result = await inferV2(repository, model, undefined, request, call);
    void reply.header(VARIANT_HEADER, result.modelVersion);
    return result;
  }
  const ticket = traffic.planShadow(model, pick.version);
  const shadowRequest = ticket ? copyRequest(request) : undefined;
  let result: V2InferResult;
  const t0 = performance.now();
  try {
    result = await inferV2(repository, model, pick.version, request, call);
  } catch (err) {
    ticket?.cancel();
    // Only the server's failures count against a variant in a rollout, not a client's bad request.
    if (!isTiffinError(err) || err.status >= 500) traffic.record(model, pick.version, false, performance.now() - t0);
    throw err;
  }
  traffic.record(model, pick.version, true, performance.now() - t0);
  if (pick.routing === 'bandit' && call.requestId !== undefined) traffic.served(model, call.requestId, pick.version);
  result.parameters = { ...result.parameters, variant: result.modelVersion, routing: pick.routing };
  void reply.header(VARIANT_HEADER, result.modelVersion);
  annotateRequest(req, { variant: result.modelVersion, model });
  if (ticket && shadowRequest) {
    // Not the caller's signal or trace: the shadow outlives the request and its answer goes nowhere.
    const shadowCall: ProtocolCall = call.requestId === undefined ? {} : { requestId: call.requestId };
    ticket.run(outputsOf(result), (version) => inferV2(repository, model, version, shadowRequest, shadowCall).then(outputsOf));
  }
  return result;
}
