// The routes of each task (BentoML's task endpoints): POST <route>/submit answers 202 with the task's id at once;
// GET <route>/status and <route>/get take ?task_id=; POST <route>/cancel and <route>/retry take it in the query
// or as {"task_id": "..."}. Submitting needs the service ready; reading a task's state does not.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TiffinError } from '../errors/index.ts';
import { parseJsonBody } from '../service/io-json.ts';
import { parseContentType } from '../service/media-type.ts';
import type { AppContext } from './app-context.ts';
import { readPayload } from './request-payload.ts';

function taskIdOf(request: FastifyRequest): string {
  const query = (request.query as Record<string, unknown> | undefined)?.task_id;
  let id: unknown = Array.isArray(query) ? query[0] : query;
  if (id === undefined && Buffer.isBuffer(request.body) && request.body.length > 0) {
    const body = parseJsonBody(request.body);
    id = body && typeof body === 'object' ? (body as Record<string, unknown>).task_id : undefined;
  }
  if (typeof id !== 'string' || id.length === 0 || id.length > 128) {
    throw new TiffinError('BAD_REQUEST', 'name the task: ?task_id=<id from submit> (or a JSON body {"task_id": "..."} on POST)');
  }
  return id;
}

export function registerTaskRoutes(fastify: FastifyInstance, app: AppContext): void {
  const tasks = app.tasks;
  for (const def of app.svc.tasks) {
    const base = def.route;
    fastify.post(`${base}/submit`, async (request, reply) => {
      const notReady = app.lifecycle.notReady();
      if (notReady) throw notReady;
      const contentType = parseContentType(request.headers['content-type']);
      if (contentType.mediaType !== undefined && contentType.mediaType !== 'application/json') {
        throw new TiffinError('UNSUPPORTED_MEDIA_TYPE', `task "${def.name}" takes a JSON body; send Content-Type: application/json`, { details: { accepted: ['application/json'] } });
      }
      const payload = await readPayload(request, app.options.maxBodySize, app.options.limits, contentType);
      const info = await tasks.submit(def.name, payload);
      reply.header('location', `${base}/status?task_id=${encodeURIComponent(info.task_id)}`);
      return reply.status(202).send(info);
    });
    fastify.get(`${base}/status`, async (request) => tasks.status(def.name, taskIdOf(request)));
    fastify.get(`${base}/get`, async (request, reply) => reply.type('application/json; charset=utf-8').send(JSON.stringify(tasks.result(def.name, taskIdOf(request)) ?? null)));
    fastify.post(`${base}/cancel`, async (request) => tasks.cancel(def.name, taskIdOf(request)));
    fastify.post(`${base}/retry`, async (request) => tasks.retry(def.name, taskIdOf(request)));
  }
}
