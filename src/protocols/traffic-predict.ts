// TF Serving's :predict and TorchServe's /predictions of a model with no version (or label) in the path, under a
// traffic route: the lease is taken on the variant the route picked (traffic/routed-call.ts), the answer names the
// variant in x-tiffin-variant and the access log, and a sampled copy of the inputs goes to the shadow afterwards.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModelLease, ModelRepository, VersionSelector } from '../repository/index.ts';
import type { ModelOutputs } from '../runtime/model-outputs.ts';
import type { Tensors } from '../runtime/tensor.ts';
import { annotateRequest } from '../telemetry/http-telemetry.ts';
import { RoutedCall, VARIANT_HEADER, copyTensors, type TrafficManager } from '../traffic/index.ts';
import { runFor, type ProtocolCall } from './request-call.ts';

/** A predict request's lease: on the routed variant when the path names no version and the model has a route. */
export function leaseFor(
  traffic: TrafficManager | undefined,
  repository: ModelRepository,
  model: string,
  selector: VersionSelector,
  req: FastifyRequest,
): { lease: ModelLease; routed: RoutedCall | undefined } {
  const routed = selector.version === undefined && selector.label === undefined ? RoutedCall.begin(traffic, model, req.headers) : undefined;
  return { lease: repository.acquire(model, routed ? { version: routed.version } : selector), routed };
}

/** Runs `feeds` on the lease's version; with traffic on, names that version in x-tiffin-variant. */
export async function runPredict(
  traffic: TrafficManager | undefined,
  routed: RoutedCall | undefined,
  repository: ModelRepository,
  lease: ModelLease,
  model: string,
  feeds: Tensors,
  call: ProtocolCall,
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<ModelOutputs> {
  if (!routed) {
    const results = await runFor(call, lease.handle, model, feeds);
    if (traffic) void reply.header(VARIANT_HEADER, lease.version);
    return results;
  }
  const shadowFeeds = routed.planShadow() ? copyTensors(feeds) : undefined;
  const results = await routed.run(call.requestId, () => runFor(call, lease.handle, model, feeds));
  void reply.header(VARIANT_HEADER, lease.version);
  annotateRequest(req, { variant: lease.version, model });
  if (shadowFeeds) {
    // Not the caller's signal or trace: the shadow outlives the request and its answer goes nowhere.
    const shadowCall: ProtocolCall = call.requestId === undefined ? {} : { requestId: call.requestId };
    routed.shadow(results, async (version) => {
      const shadowLease = repository.acquire(model, { version });
      try {
        return await runFor(shadowCall, shadowLease.handle, model, shadowFeeds);
      } finally {
        shadowLease.release();
      }
    });
  }
  return results;
}
