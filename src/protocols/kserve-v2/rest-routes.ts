// The KServe V2 (Open Inference Protocol) REST routes as a fastify plugin, mounted under /v2: health,
// server and model metadata, readiness, inference (JSON and binary tensor data), and the model
// repository extension. Errors answer {"error": "..."}; health and readiness answer 200 for true and a
// 4xx for false, as the specification says.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isTiffinError } from '../../errors/index.ts';
import type { RequestLimits } from '../../limits/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import type { Tracing } from '../../telemetry/tracing/tracing.ts';
import type { TrafficManager } from '../../traffic/index.ts';
import { routedInferV2 } from '../traffic-infer.ts';
import { protocolError } from '../error-status.ts';
import { acceptRawBodies, clientGone, headerValue, jsonBody } from '../http-helpers.ts';
import { httpCall } from '../request-call.ts';
import type { ServerInfo } from '../server-info.ts';
import { inferV2 } from './infer.ts';
import { modelMetadata, serverMetadata } from './metadata.ts';
import { HEADER_LENGTH_HEADER, readInferBody, writeInferResponse } from './rest-codec.ts';

export interface KServeV2RestOptions {
  repository: ModelRepository;
  server: ServerInfo;
  bodyLimit: number;
  limits: RequestLimits;
  /** Traced requests' inference calls get spans (tiffin.inference, queue, batch). */
  tracing?: Tracing;
  /** Traffic routes: an inference that names no version goes to the variant its model's route picks. */
  traffic?: TrafficManager;
}

interface ModelParams {
  model: string;
  version?: string;
}

export async function kserveV2Routes(app: FastifyInstance, options: KServeV2RestOptions): Promise<void> {
  const { repository } = options;
  acceptRawBodies(app, options.bodyLimit);

  app.setErrorHandler((err, request, reply) => {
    const { status, message, retryAfter } = protocolError(err);
    if (status >= 500 && !isTiffinError(err)) request.log.error({ err, reqId: request.id }, 'V2 request failed');
    if (retryAfter !== undefined) void reply.header('retry-after', String(retryAfter));
    return reply.code(status).type('application/json').send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no V2 endpoint ${request.method} ${request.url.split('?')[0]}` }));

  app.get('/', async () => serverMetadata(options.server));

  app.get('/health/live', async (_req, reply) => {
    if (repository.live) return { live: true };
    return reply.code(400).send({ live: false });
  });

  app.get('/health/ready', async (_req, reply) => {
    if (repository.ready) return { ready: true };
    return reply.code(400).send({ ready: false });
  });

  const metadata = async (req: FastifyRequest) => {
    const { model, version } = req.params as ModelParams;
    return modelMetadata(repository, model, version);
  };
  app.get('/models/:model', metadata);
  app.get('/models/:model/versions/:version', metadata);

  const ready = async (req: FastifyRequest, reply: FastifyReply) => {
    const { model, version } = req.params as ModelParams;
    try {
      repository.resolve(model, version === undefined ? {} : { version });
      return { name: model, ready: true };
    } catch (err) {
      if (isTiffinError(err, 'MODEL_NOT_READY')) return reply.code(400).send({ name: model, ready: false, error: err.message });
      throw err;
    }
  };
  app.get('/models/:model/ready', ready);
  app.get('/models/:model/versions/:version/ready', ready);

  const infer = async (req: FastifyRequest, reply: FastifyReply) => {
    const { model, version } = req.params as ModelParams;
    const parsed = await readInferBody(req.body as Buffer | undefined, headerValue(req.headers[HEADER_LENGTH_HEADER]), options.limits);
    const call = httpCall(req, options.tracing, clientGone(reply));
    const result = options.traffic && version === undefined
      ? await routedInferV2(options.traffic, repository, model, parsed.request, call, req, reply)
      : await inferV2(repository, model, version, parsed.request, call);
    const encoded = await writeInferResponse(result, parsed);
    if (encoded.headerLength === undefined) return reply.type('application/json').send(encoded.body);
    return reply.header(HEADER_LENGTH_HEADER, String(encoded.headerLength)).type('application/octet-stream').send(encoded.body);
  };
  app.post('/models/:model/infer', infer);
  app.post('/models/:model/versions/:version/infer', infer);

  // The model repository extension.
  app.post('/repository/index', async (req) => {
    const body = jsonBody(req.body, {});
    const readyOnly = typeof body === 'object' && body !== null && (body as { ready?: unknown }).ready === true;
    const rows = await repository.index({ ready: readyOnly, all: !readyOnly });
    return rows.map((r) => (r.version === undefined ? { name: r.name, state: r.state, reason: r.reason } : r));
  });
  app.post('/repository/models/:model/load', async (req, reply) => {
    jsonBody(req.body);
    await repository.load((req.params as ModelParams).model);
    return reply.code(200).send();
  });
  app.post('/repository/models/:model/unload', async (req, reply) => {
    jsonBody(req.body);
    await repository.unload((req.params as ModelParams).model);
    return reply.code(200).send();
  });
}
