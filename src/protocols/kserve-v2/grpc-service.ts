// The inference.GRPCInferenceService handlers over a ModelRepository: health, metadata, inference and
// the model repository RPCs. Failures answer a gRPC status (see error-status.ts), never crash the server.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { isTiffinError } from '../../errors/index.ts';
import { DEFAULT_LIMITS, type RequestLimits } from '../../limits/index.ts';
import { NO_REQUEST_TRACE, type Tracing } from '../../telemetry/tracing/tracing.ts';
import { Cancellation, type CancelSignal } from '../../runtime/cancellation.ts';
import type { ModelRepository } from '../../repository/index.ts';
import { RoutedCall, VARIANT_HEADER, type TrafficManager } from '../../traffic/index.ts';
import { grpcStatusOf, protocolError } from '../error-status.ts';
import { runRoutedV2 } from '../traffic-infer.ts';
import type { ServerInfo } from '../server-info.ts';
import { decodeInferRequest, encodeInferResponse } from './grpc-codec.ts';
import type {
  ModelInferRequest, ModelInferResponse, ModelMetadataResponse, ModelNameRequest, ModelStreamInferResponse, RepositoryIndexRequest,
  RepositoryIndexResponse, RepositoryModelRequest,
} from './grpc-proto.ts';
import { INFERENCE_SERVICE } from './grpc-proto.ts';
import { inferV2 } from './infer.ts';
import { modelMetadata, serverMetadata, type V2ServerMetadata } from './metadata.ts';

/** Response metadata that carries the id a ModelInfer call was logged under. */
export const REQUEST_ID_METADATA = 'x-request-id';

/** Turns a handler's result or error into the callback's answer. */
function unary<Req, Res>(handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Res | Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        (response) => callback(null, response),
        (err: unknown) => callback({ code: grpcStatusOf(err), details: protocolError(err).message }),
      );
  };
}

/** Like unary, with trailing metadata: the handler answers { response, trailer }. */
function unaryWithTrailer<Req, Res>(
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<{ response: Res; trailer?: grpc.Metadata }>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    Promise.resolve()
      .then(() => handler(call.request, call))
      .then(
        ({ response, trailer }) => callback(null, response, trailer),
        (err: unknown) => callback({ code: grpcStatusOf(err), details: protocolError(err).message }),
      );
  };
}

/** A call's metadata as headers (text values only), for traffic routing: x-tiffin-variant, a sticky key. */
function metadataHeaders(metadata: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata.getMap())) if (typeof value === 'string') out[key] = value;
  return out;
}

/** Runs `work` with a signal that aborts if the caller cancels (or its deadline passes) before it is done. */
async function untilCancelled<T>(call: grpc.ServerUnaryCall<unknown, unknown>, work: (signal: CancelSignal) => Promise<T>): Promise<T> {
  const cancellation = new Cancellation();
  const cancel = (): void => cancellation.abort();
  call.once('cancelled', cancel);
  try {
    return await work(cancellation);
  } finally {
    // grpc-js may report the stream's end as a cancellation after the answer; it must not abort anything.
    call.removeListener('cancelled', cancel);
  }
}

/** Requests of one ModelStreamInfer stream in flight at most; past it the stream is not read until some finish. */
const STREAM_IN_FLIGHT = 64;

/**
 * ModelStreamInfer: every request runs as it arrives (so the batcher sees them together), answers go out in
 * request order, a failed request answers its error message and the stream goes on. Reading pauses while
 * STREAM_IN_FLIGHT requests are running and writing waits for the client to drain: a client that sends fast or
 * reads slowly cannot make the server buffer without bound. A cancelled stream cancels its running requests.
 */
function streamInfer(
  run: (req: ModelInferRequest, requestId: string, signal: CancelSignal, metadata: grpc.Metadata) => Promise<ModelInferResponse>,
): grpc.handleBidiStreamingCall<ModelInferRequest, ModelStreamInferResponse> {
  return (call) => {
    const cancellation = new Cancellation();
    call.once('cancelled', () => cancellation.abort());
    let written = Promise.resolve();
    let inFlight = 0;
    let ended = false;
    const finish = (): void => {
      if (ended && inFlight === 0) call.end();
    };
    call.on('data', (req: ModelInferRequest) => {
      inFlight += 1;
      if (inFlight >= STREAM_IN_FLIGHT) call.pause();
      const answer = run(req, req.id || randomUUID(), cancellation, call.metadata).then(
        (response): ModelStreamInferResponse => ({ error_message: '', infer_response: response }),
        (err: unknown): ModelStreamInferResponse => ({ error_message: protocolError(err).message }),
      );
      written = written.then(async () => {
        const message = await answer;
        if (!cancellation.aborted && !call.write(message)) await once(call, 'drain').catch(() => {});
        inFlight -= 1;
        call.resume();
        finish();
      });
    });
    call.on('end', () => {
      ended = true;
      void written.then(finish);
    });
    call.on('error', () => cancellation.abort());
  };
}

export function inferenceServiceHandlers(
  repository: ModelRepository,
  server: ServerInfo,
  tracing?: Tracing,
  limits: RequestLimits = DEFAULT_LIMITS,
  /** Routes a ModelInfer (and each ModelStreamInfer request) that names no version, as V2 REST (docs/traffic.md). */
  traffic?: TrafficManager,
): grpc.UntypedServiceImplementation {
  return {
    ServerLive: unary(() => ({ live: repository.live })),
    ServerReady: unary(() => ({ ready: repository.ready })),
    ServerMetadata: unary((): V2ServerMetadata => serverMetadata(server)),

    ModelReady: unary((req: ModelNameRequest) => {
      try {
        repository.resolve(req.name, req.version ? { version: req.version } : {});
        return { ready: true };
      } catch (err) {
        if (isTiffinError(err, 'MODEL_NOT_READY')) return { ready: false };
        throw err;
      }
    }),

    ModelMetadata: unary((req: ModelNameRequest): ModelMetadataResponse => modelMetadata(repository, req.name, req.version || undefined)),

    ModelInfer: unaryWithTrailer(async (req: ModelInferRequest, call): Promise<{ response: ModelInferResponse; trailer?: grpc.Metadata }> => {
      const request = decodeInferRequest(req, limits);
      // Picked before the call, so the variant can go out in the initial metadata with the request id.
      const routed = traffic && !req.model_version ? RoutedCall.begin(traffic, req.model_name, metadataHeaders(call.metadata)) : undefined;
      // The request's own id names it in prediction logs. Without one, a fresh id, sent back as x-request-id metadata
      // (as HTTP answers x-request-id), so the client can still join targets to it.
      let requestId = request.id;
      if (requestId === undefined || routed) {
        const metadata = new grpc.Metadata();
        if (requestId === undefined) {
          requestId = randomUUID();
          metadata.set(REQUEST_ID_METADATA, requestId);
        }
        if (routed) metadata.set(VARIANT_HEADER, routed.version);
        call.sendMetadata(metadata);
      }
      // A SERVER span continuing the caller's `traceparent` metadata; the model call's spans are its children.
      const trace = tracing?.enabled ? tracing.startRpc(INFERENCE_SERVICE, 'ModelInfer', call.metadata.getMap()) : NO_REQUEST_TRACE;
      const traced = trace.span.isRecording() ? { tracing: tracing!, context: trace.context } : undefined;
      try {
        const protocolCall = (signal: CancelSignal) => ({ requestId, signal, ...(traced ? { trace: traced } : {}) });
        const result = await untilCancelled(call, (signal) =>
          routed
            ? runRoutedV2(routed, repository, req.model_name, request, protocolCall(signal))
            : inferV2(repository, req.model_name, req.model_version || undefined, request, protocolCall(signal)),
        );
        tracing?.endRpc(trace.span);
        // With traffic on, every answer names the version that served it, in trailing metadata (as HTTP's header).
        if (!traffic) return { response: encodeInferResponse(result, request.id) };
        const trailer = new grpc.Metadata();
        trailer.set(VARIANT_HEADER, result.modelVersion);
        return { response: encodeInferResponse(result, request.id), trailer };
      } catch (err) {
        tracing?.endRpc(trace.span, err);
        throw err;
      }
    }),

    ModelStreamInfer: streamInfer(async (req, requestId, signal, metadata) => {
      const request = decodeInferRequest(req, limits);
      // A stream's metadata (its sticky key, an override) applies to each of its requests; the variant is in parameters.
      const routed = traffic && !req.model_version ? RoutedCall.begin(traffic, req.model_name, metadataHeaders(metadata)) : undefined;
      const result = routed
        ? await runRoutedV2(routed, repository, req.model_name, request, { requestId, signal })
        : await inferV2(repository, req.model_name, req.model_version || undefined, request, { requestId, signal });
      return encodeInferResponse(result, request.id);
    }),

    RepositoryIndex: unary(async (req: RepositoryIndexRequest): Promise<RepositoryIndexResponse> => {
      const rows = await repository.index({ ready: req.ready, all: !req.ready });
      return { models: rows.map((r) => ({ name: r.name, version: r.version ?? '', state: r.state, reason: r.reason })) };
    }),
    RepositoryModelLoad: unary(async (req: RepositoryModelRequest) => {
      await repository.load(req.model_name);
      return {};
    }),
    RepositoryModelUnload: unary(async (req: RepositoryModelRequest) => {
      await repository.unload(req.model_name);
      return {};
    }),
  };
}
