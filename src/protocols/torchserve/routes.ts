// TorchServe's inference API routes as a fastify plugin: GET /ping and POST /predictions/{m}[/{v}].
// TorchServe hands the body to a model-specific handler; Tiffin's generic handler reads a JSON body:
// an object of input name → nested array, or, for a one-input model, the nested array itself. A value
// one rank short of an input that batches on dimension 0 is taken as a single row, and the answer is
// unbatched to match. One output answers its value, several an object by name. Errors answer
// TorchServe's {"code", "type", "message"}.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError } from '../../errors/index.ts';
import type { ModelRepository } from '../../repository/index.ts';
import type { Tensor, TensorSpec, Tensors } from '../../runtime/tensor.ts';
import type { Tracing } from '../../telemetry/tracing/tracing.ts';
import { protocolError } from '../error-status.ts';
import { acceptRawBodies, clientGone } from '../http-helpers.ts';
import { flattenNested, jsonToTensorData, nestedJson, nestedShape } from '../json-tensor.ts';
import { parseLenientJson } from '../lenient-json.ts';
import { httpCall, runFor } from '../request-call.ts';

export interface TorchServeOptions {
  repository: ModelRepository;
  bodyLimit: number;
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

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The tensor for one input, and whether a batch dimension of 1 was added to it. */
function tensorOf(value: unknown, spec: TensorSpec): { tensor: Tensor; added: boolean } {
  const where = `input "${spec.name}"`;
  let shape = nestedShape(value);
  const flat = shape.length === 0 ? [value] : flattenNested(value, shape, where);
  const added = shape.length === spec.shape.length - 1 && spec.shape[0] === -1;
  if (added) shape = [1, ...shape];
  return { tensor: { dtype: spec.dtype, shape, data: jsonToTensorData(spec.dtype, flat, where) }, added };
}

function decode(body: unknown, specs: readonly TensorSpec[]): { feeds: Tensors; unbatch: boolean } {
  if (specs.length === 0) throw new TiffinError('BAD_REQUEST', 'this model declares no inputs; call it through a service instead');
  const values: Record<string, unknown> = {};
  if (specs.length === 1 && !(isObject(body) && specs[0]!.name in body)) values[specs[0]!.name] = body;
  else if (isObject(body)) {
    for (const key of Object.keys(body)) {
      if (!specs.some((s) => s.name === key)) throw new TiffinError('TENSOR_INVALID', `unknown input "${key}"; the model's inputs are ${specs.map((s) => s.name).join(', ')}`);
    }
    for (const spec of specs) {
      if (!(spec.name in body)) throw new TiffinError('TENSOR_INVALID', `missing input "${spec.name}"`);
      values[spec.name] = body[spec.name];
    }
  } else throw new TiffinError('BAD_REQUEST', `send a JSON object with the inputs ${specs.map((s) => s.name).join(', ')}`);
  const feeds: Tensors = {};
  let unbatch = true;
  for (const spec of specs) {
    const { tensor, added } = tensorOf(values[spec.name], spec);
    feeds[spec.name] = tensor;
    unbatch &&= added;
  }
  return { feeds, unbatch };
}

function outputJson(t: Tensor, unbatch: boolean): string {
  return unbatch && t.shape[0] === 1 ? nestedJson(t, { shape: t.shape.slice(1) }) : nestedJson(t);
}

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
    let body: unknown;
    try {
      body = parseLenientJson(raw.toString('utf8'));
    } catch (err) {
      throw new TiffinError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
    }
    const lease = repository.acquire(model, version === undefined ? {} : { version });
    try {
      const { feeds, unbatch } = decode(body, lease.handle.inputs);
      const results = await runFor(httpCall(request, options.tracing, clientGone(reply)), lease.handle, model, feeds);
      const names = lease.handle.outputs.length > 0 ? lease.handle.outputs.map((o) => o.name) : Object.keys(results);
      const parts = names.map((name) => {
        const t = results[name];
        if (!t) throw new TiffinError('INFERENCE_FAILED', `the model returned no output "${name}"`);
        return [name, outputJson(t, unbatch)] as const;
      });
      const json = parts.length === 1 ? parts[0]![1] : `{${parts.map(([n, j]) => `${JSON.stringify(n)}:${j}`).join(',')}}`;
      return reply.type('application/json').send(json);
    } finally {
      lease.release();
    }
  };
  app.post('/predictions/:model', predict);
  app.post('/predictions/:model/:version', predict);
}
