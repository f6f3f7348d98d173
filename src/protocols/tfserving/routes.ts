// TF Serving's REST API as a fastify plugin, mounted under /v1:
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]            model status
//   GET  /v1/models/{m}[/versions/{v}|/labels/{l}]/metadata   model metadata
//   POST /v1/models/{m}[/versions/{v}|/labels/{l}]:predict    predict (row or columnar format)
// Errors answer {"error": "..."} as TF Serving does.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError } from '../../errors/index.ts';
import type { RequestLimits } from '../../limits/index.ts';
import type { ModelRepository, VersionSelector } from '../../repository/index.ts';
import type { Tracing } from '../../telemetry/tracing/tracing.ts';
import type { TrafficManager } from '../../traffic/index.ts';
import { protocolError } from '../error-status.ts';
import { acceptRawBodies, clientGone } from '../http-helpers.ts';
import { httpCall } from '../request-call.ts';
import { leaseFor, runPredict } from '../traffic-predict.ts';
import { readPredictBody, writePredict } from './predict-codec.ts';
import { modelMetadata, modelStatus } from './status.ts';

export interface TfServingOptions {
  repository: ModelRepository;
  bodyLimit: number;
  limits: RequestLimits;
  /** Traced requests' inference calls get spans (tiffin.inference, queue, batch). */
  tracing?: Tracing;
  /** Traffic routes: a :predict with no version or label in the path goes to the variant its model's route picks. */
  traffic?: TrafficManager;
}

interface Target {
  model: string;
  selector: VersionSelector;
  metadata: boolean;
  verb: string | undefined;
}

/** Reads `{m}[/versions/{v}|/labels/{l}][/metadata][:verb]`; undefined when the path has another form. */
function parseTarget(path: string): Target | undefined {
  let rest = path;
  let verb: string | undefined;
  const colon = rest.indexOf(':', rest.lastIndexOf('/') + 1);
  if (colon >= 0) {
    verb = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let parts: string[];
  try {
    parts = rest.split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
  const model = parts[0];
  if (!model) return undefined;
  const selector: VersionSelector = {};
  let i = 1;
  if ((parts[1] === 'versions' || parts[1] === 'labels') && parts[2]) {
    if (parts[1] === 'versions') selector.version = parts[2];
    else selector.label = parts[2];
    i = 3;
  }
  const metadata = parts[i] === 'metadata';
  if (metadata) i++;
  return i === parts.length ? { model, selector, metadata, verb } : undefined;
}

function notFound(request: FastifyRequest): TiffinError {
  return new TiffinError('NOT_FOUND', `no TF Serving endpoint ${request.method} ${request.url.split('?')[0]}`);
}

export async function tfServingRoutes(app: FastifyInstance, options: TfServingOptions): Promise<void> {
  const { repository } = options;
  acceptRawBodies(app, options.bodyLimit);

  app.setErrorHandler((err, request, reply) => {
    const { status, message } = protocolError(err);
    if (status >= 500 && !isTiffinError(err)) request.log.error({ err, reqId: request.id }, 'TF Serving request failed');
    return reply.code(status).type('application/json').send({ error: message });
  });
  app.setNotFoundHandler((request, reply) => reply.code(404).send({ error: notFound(request).message }));

  app.get('/models/*', async (request) => {
    const target = parseTarget((request.params as { '*': string })['*']);
    if (!target || target.verb !== undefined) throw notFound(request);
    return target.metadata
      ? modelMetadata(repository, target.model, target.selector)
      : modelStatus(repository, target.model, target.selector);
  });

  app.post('/models/*', async (request: FastifyRequest, reply: FastifyReply) => {
    const target = parseTarget((request.params as { '*': string })['*']);
    if (!target || target.metadata || target.verb === undefined) throw notFound(request);
    if (target.verb === 'classify' || target.verb === 'regress') {
      throw new TiffinError('BAD_REQUEST', `:${target.verb} needs a TensorFlow classification or regression signature; Tiffin models answer :predict`);
    }
    if (target.verb !== 'predict') throw notFound(request);
    const body = Buffer.isBuffer(request.body) ? request.body : undefined;
    if (!body || body.byteLength === 0) throw new TiffinError('BAD_REQUEST', 'the predict request has no body');
    const { lease, routed } = leaseFor(options.traffic, repository, target.model, target.selector, request);
    try {
      const decoded = await readPredictBody(body, lease.handle.inputs, options.limits);
      const call = httpCall(request, options.tracing, clientGone(reply));
      const results = await runPredict(options.traffic, routed, repository, lease, target.model, decoded.feeds, call, request, reply);
      const names = lease.handle.outputs.length > 0 ? lease.handle.outputs.map((o) => o.name) : Object.keys(results);
      const outputs = names.map((name) => {
        const tensor = results[name];
        if (!tensor) throw new TiffinError('INFERENCE_FAILED', `the model returned no output "${name}"`);
        return { name, tensor };
      });
      return reply.type('application/json').send(await writePredict(decoded, outputs));
    } finally {
      lease.release();
    }
  });
}
