// Probes: /livez (the process answers), /readyz (models loaded and startup hooks done; 503 before and
// while draining), /healthz (status with models, APIs and load, for people and dashboards).
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './app-context.ts';

export const HEALTH_PATHS = ['/livez', '/readyz', '/healthz'] as const;

export function registerHealthRoutes(fastify: FastifyInstance, app: AppContext): void {
  fastify.get('/livez', async () => ({ status: 'alive' }));

  fastify.get('/readyz', async () => {
    const notReady = app.lifecycle.notReady(true);
    if (notReady) throw notReady;
    return { status: 'ready' };
  });

  fastify.get('/healthz', async (_request, reply) => {
    const notReady = app.lifecycle.notReady(true);
    reply.status(notReady ? 503 : 200);
    return {
      status: app.lifecycle.phase,
      ...(notReady ? { message: notReady.message } : {}),
      service: app.svc.name,
      version: app.svc.version,
      apis: app.svc.apis.map((a) => a.name),
      models: app.svc.models,
      inFlight: app.lifecycle.inFlightCount,
      uptimeSeconds: Math.round((Date.now() - app.startedAt) / 100) / 10,
    };
  });
}
