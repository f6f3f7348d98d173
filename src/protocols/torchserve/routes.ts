// TorchServe's inference API routes as a fastify plugin: GET /ping and POST /predictions/{m}[/{v}].
// TorchServe hands the body to a model-specific handler; Tiffin's generic handler reads a JSON body:
// an object of input name → nested array, or, for a one-input model, the nested array itself. A value
// one rank short of an input that batches on dimension 0 is taken as a single row, and the answer is
// unbatched to match. One output answers its value, several an object by name. Errors answer
// TorchServe's {"code", "type", "message"}.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError } from '../../errors/index.ts';
import type { RequestLimits } from '../../limits/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import type { Tracing } from '../../telemetry/tracing/tracing.ts';
import type { TrafficManager } from '../../traffic/index.ts';
import { protocolError } from '../error-status.ts';
import { acceptRawBodies, clientGone } from '../http-helpers.ts';
import { httpCall } from '../request-call.ts';
import { leaseFor, runPredict } from '../traffic-predict.ts';
import { readPredictionsBody, writePredictions } from './predictions-codec.ts';

export interface TorchServeOptions {
  repository: ModelRepository;
  bodyLimit: number;
  limits: RequestLimits;
  /** Traced requests' inference calls get spans (tiffin.inference, queue, batch). */
  tracing?: Tracing;
  /** Traffic routes: /predictions/{m} (no version) goes to the variant its model's route picks. */
  traffic?: TrafficManager;
}

const ERROR_TYPE: Record<number, string> = {
  400: 'BadRequestException',
  404: 'ModelNotFoundException',
  413: 'RequestEntityTooLargeException',
  503: 'ServiceUnavailableException',
  504: 'RequestTimeoutException',
};

export async function torchServeRoutes(app: FastifyInstance, options: TorchServeOptions): Promise<void> {
  const { repository } = options;
  acceptRawBodies(app, options.bodyLimit);

  app.setErrorHandler((err, request, reply) => {
    const { status, message } = protocolError(err);
    if (status >= 500 && !isTiffinError(err)) request.log.error({ err, reqId: request.id }, 'TorchServe request failed');
    return reply.code(status).type('application/json').send({ code: status, type: ERROR_TYPE[status] ?? 'InternalServerException', message });
  });

  app.get('/ping', async (_req, reply) => {
    if (repository.ready) return { status: 'Healthy' };
    return reply.code(503).send({ status: 'Unhealthy' });
  });

  const predict = async (request: FastifyRequest, reply: FastifyReply) => {
    const { model, version } = request.params as { model: string; version?: string };
    const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
    if (!raw || raw.byteLength === 0) throw new TiffinError('BAD_REQUEST', 'the prediction request has no body');
    const { lease, routed } = leaseFor(options.traffic, repository, model, version === undefined ? {} : { version }, request);
    try {
      const { feeds, unbatch } = await readPredictionsBody(raw, lease.handle.inputs, options.limits);
      const call = httpCall(request, options.tracing, clientGone(reply));
      const results = await runPredict(options.traffic, routed, repository, lease, model, feeds, call, request, reply);
      const names = lease.handle.outputs.length > 0 ? lease.handle.outputs.map((o) => o.name) : Object.keys(results);
      const outputs = names.map((name) => {
        const tensor = results[name];
        if (!tensor) throw new TiffinError('INFERENCE_FAILED', `the model returned no output "${name}"`);
        return { name, tensor };
      });
      return reply.type('application/json').send(await writePredictions(outputs, unbatch));
    } finally {
      lease.release();
    }
  };
  app.post('/predictions/:model', predict);
  app.post('/predictions/:model/:version', predict);
}
