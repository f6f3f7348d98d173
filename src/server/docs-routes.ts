// API documentation: the OpenAPI 3.1 document at /docs.json and Swagger UI at /docs. The document is built
// once from the service (zod -> JSON Schema) and handed to @fastify/swagger in static mode for the UI.
import swagger, { type StaticDocumentSpec } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './app-context.ts';
import { openApiDocument } from './openapi.ts';

export async function registerDocsRoutes(fastify: FastifyInstance, app: AppContext): Promise<void> {
  const document = openApiDocument(app.svc);
  fastify.get('/docs.json', async () => document);
  // @fastify/swagger types a static document as OpenAPI 2 or 3.0; static mode serves any version unchanged.
  const specification: StaticDocumentSpec = { document: document as unknown as StaticDocumentSpec['document'] };
  await fastify.register(swagger, { mode: 'static', specification });
  await fastify.register(swaggerUi, { routePrefix: '/docs' });
}
