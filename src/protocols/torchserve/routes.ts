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
import { protocolError } from '../error-status.ts';
import { acceptRawBodies, clientGone } from '../http-helpers.ts';
import { httpCall, runFor } from '../request-call.ts';
import { readPredictionsBody, writePredictions } from './predictions-codec.ts';

export interface TorchServeOptions {
  repository: ModelRepository;
  bodyLimit: number;
  limits: RequestLimits;
  /** Traced requests' inference calls get spans (tiffin.inference, queue, batch). */
  tracing?: Tracing;
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
    const lease = repository.acquire(model, version === undefined ? {} : { version });
    try {
      const { feeds, unbatch } = await readPredictionsBody(raw, lease.handle.inputs, options.limits);
      const results = await runFor(httpCall(request, options.tracing, clientGone(reply)), lease.handle, model, feeds);
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
