// A V2 inference that names no version, under a traffic route: the route picks the variant (override header,
// bandit, sticky key, weighted split), the answer names it (x-tiffin-variant, the response's parameters, the access
// log), and a sampled copy may go to the shadow once the live answer is computed, never awaited. The REST route and
// gRPC's ModelInfer share runRoutedV2; the picking and bookkeeping are traffic/routed-call.ts.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModelRepository } from '../repository/index.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { annotateRequest } from '../telemetry/http-telemetry.ts';
import { RoutedCall, VARIANT_HEADER, type TrafficManager } from '../traffic/index.ts';
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

/** Runs a V2 request on the variant `routed` picked, puts the variant and how it was picked in the response's
 * parameters, and starts the shadow copy if one was sampled. */
export async function runRoutedV2(routed: RoutedCall, repository: ModelRepository, model: string, request: V2InferRequest, call: ProtocolCall): Promise<V2InferResult> {
  const shadowRequest = routed.planShadow() ? copyRequest(request) : undefined;
  const result = await routed.run(call.requestId, () => inferV2(repository, model, routed.version, request, call));
  result.parameters = { ...result.parameters, variant: result.modelVersion, routing: routed.pick.routing };
  if (shadowRequest) {
    // Not the caller's signal or trace: the shadow outlives the request and its answer goes nowhere.
    const shadowCall: ProtocolCall = call.requestId === undefined ? {} : { requestId: call.requestId };
    routed.shadow(outputsOf(result), (version) => inferV2(repository, model, version, shadowRequest, shadowCall).then(outputsOf));
  }
  return result;
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
  const routed = RoutedCall.begin(traffic, model, req.headers);
  if (!routed) {
    const result = await inferV2(repository, model, undefined, request, call);
    void reply.header(VARIANT_HEADER, result.modelVersion);
    return result;
  }
  const result = await runRoutedV2(routed, repository, model, request, call);
  void reply.header(VARIANT_HEADER, result.modelVersion);
  annotateRequest(req, { variant: result.modelVersion, model });
  return result;
}
