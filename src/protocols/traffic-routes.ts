// The traffic management API under /v2/traffic (management scope, like the V2 repository routes): show routes,
// replace one, promote a version, roll back, set or remove the shadow. Bodies are JSON; errors answer
// {"error": message, "code": CODE}.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError } from '../errors/index.ts';
import type { TrafficManager } from '../traffic/index.ts';
import { protocolError } from './error-status.ts';
import { acceptRawBodies, jsonBody } from './http-helpers.ts';

export interface TrafficRoutesOptions {
  traffic: TrafficManager;
}

const BODY_LIMIT = 1 << 20;

function objectBody(req: FastifyRequest): Record<string, unknown> {
  const body = jsonBody(req.body, {});
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new TiffinError('BAD_REQUEST', 'the body must be a JSON object');
  return body as Record<string, unknown>;
}

function stringField(body: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new TiffinError('BAD_REQUEST', `"${key}" must be a non-empty string`);
  return v;
}

function modelOf(req: FastifyRequest): string {
  return (req.params as { model: string }).model;
}

export async function trafficRoutes(app: FastifyInstance, options: TrafficRoutesOptions): Promise<void> {
  const { traffic } = options;
  acceptRawBodies(app, BODY_LIMIT);
  app.setErrorHandler((err, request, reply) => {
    const { status, message } = protocolError(err);
    if (status >= 500 && !isTiffinError(err)) request.log.error({ err, reqId: request.id }, 'traffic request failed');
    const code = isTiffinError(err) ? err.code : status >= 500 ? 'INTERNAL' : 'BAD_REQUEST';
    return reply.code(status).type('application/json').send({ error: message, code });
  });

  app.get('/', async () => ({ routes: traffic.list() }));
  app.get('/:model', async (req) => traffic.view(modelOf(req)));
  app.put('/:model', async (req) => {
    const { reason, ...spec } = objectBody(req);
    return traffic.set(modelOf(req), spec, typeof reason === 'string' ? reason : '');
  });
  app.delete('/:model', async (req) => {
    const body = objectBody(req);
    return traffic.remove(modelOf(req), stringField(body, 'reason', false) ?? '');
  });
  app.post('/:model/promote', async (req) => {
    const body = objectBody(req);
    return traffic.promote(modelOf(req), stringField(body, 'version', true)!, stringField(body, 'reason', false) ?? '');
  });
  app.post('/:model/rollback', async (req) => {
    const body = objectBody(req);
    return traffic.rollback(modelOf(req), stringField(body, 'reason', false) ?? '');
  });
  app.post('/:model/rollout', async (req) => traffic.startRollout(modelOf(req), objectBody(req)));
  app.post('/:model/shadow', async (req) => {
    const body = objectBody(req);
    const version = body.version === null ? null : stringField(body, 'version', true)!;
    const rate = body.rate === undefined ? 1 : body.rate;
    if (typeof rate !== 'number' || !(rate >= 0 && rate <= 1)) throw new TiffinError('TRAFFIC_ROUTE_INVALID', '"rate" must be a number from 0 to 1');
    return traffic.shadow(modelOf(req), version, rate, stringField(body, 'reason', false) ?? '');
  });
}

/** POST /v2/models/{model}/feedback {"id": "<x-request-id of the answer>", "reward": 0..1}: a bandit route's reward
 * (inference scope, like the inference itself). */
export async function feedbackRoutes(app: FastifyInstance, options: TrafficRoutesOptions): Promise<void> {
  acceptRawBodies(app, BODY_LIMIT);
  app.setErrorHandler((err, _request, reply) => {
    const { status, message } = protocolError(err);
    return reply.code(status).type('application/json').send({ error: message, code: isTiffinError(err) ? err.code : 'BAD_REQUEST' });
  });
  app.post('/:model/feedback', async (req) => {
    const body = objectBody(req);
    const id = stringField(body, 'id', true)!;
    if (typeof body.reward !== 'number') throw new TiffinError('BAD_REQUEST', '"reward" must be a number from 0 to 1');
    const version = options.traffic.feedback(modelOf(req), id, body.reward);
    return { model: modelOf(req), id, variant: version };
  });
}
