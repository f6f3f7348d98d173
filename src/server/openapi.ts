// The OpenAPI 3.1 document of a service, built from each API's io kinds (zod 4 -> JSON Schema 2020-12),
// plus the health routes and the shared error shape.
import { ERROR_CODES } from '../errors/index.ts';
import type { JsonSchema } from '../service/io-types.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiDefinition, ApiMap, Service } from '../service/service.ts';
import { TENSOR_DTYPE_HEADER, TENSOR_SHAPE_HEADER } from '../service/tensor-codec.ts';

export type OpenApiDocument = Record<string, unknown> & { openapi: '3.1.0'; paths: Record<string, Record<string, unknown>> };

const ERROR_REF = { $ref: '#/components/schemas/Error' };

function errorResponse(description: string): Record<string, unknown> {
  return { description, content: { 'application/json': { schema: ERROR_REF } } };
}

const ERROR_RESPONSES = {
  BadRequest: errorResponse('The body is malformed or failed validation (VALIDATION_FAILED lists each invalid field in details.issues)'),
  BodyTooLarge: errorResponse('The body is larger than the server allows (BODY_TOO_LARGE)'),
  UnsupportedMediaType: errorResponse('The Content-Type is not one this API takes (UNSUPPORTED_MEDIA_TYPE)'),
  HandlerFailed: errorResponse('The handler failed (HANDLER_FAILED) or the server hit an internal error'),
  NotReady: errorResponse('The service is still starting (NOT_READY) or shutting down (SHUTTING_DOWN); see Retry-After'),
};

function apiOperation(api: ApiDefinition): Record<string, unknown> {
  const parameters: unknown[] = [{ $ref: '#/components/parameters/RequestId' }];
  if (api.input.kind === 'tensor') {
    parameters.push(
      { name: TENSOR_SHAPE_HEADER, in: 'header', required: false, schema: { type: 'string', examples: ['2,4'] }, description: 'Shape of a binary tensor body, comma-separated' },
      { name: TENSOR_DTYPE_HEADER, in: 'header', required: false, schema: { type: 'string' }, description: 'dtype of a binary tensor body (must match the API)' },
    );
  }
  const success: Record<string, unknown> = { description: 'Success', content: api.output.responseContent() };
  if (api.output.kind === 'tensor') {
    success.headers = {
      [TENSOR_DTYPE_HEADER]: { schema: { type: 'string' }, description: 'dtype of the tensor' },
      [TENSOR_SHAPE_HEADER]: { schema: { type: 'string' }, description: 'shape of the tensor, comma-separated' },
    };
  }
  const op: Record<string, unknown> = {
    operationId: api.name,
    summary: api.summary ?? api.name,
    parameters,
    requestBody: { required: true, content: api.input.requestContent() },
    responses: {
      '200': success,
      '400': { $ref: '#/components/responses/BadRequest' },
      '413': { $ref: '#/components/responses/BodyTooLarge' },
      '415': { $ref: '#/components/responses/UnsupportedMediaType' },
      '500': { $ref: '#/components/responses/HandlerFailed' },
      '503': { $ref: '#/components/responses/NotReady' },
    },
  };
  if (api.description) op.description = api.description;
  if (api.tags.length) op.tags = [...api.tags];
  return op;
}

function healthOperation(operationId: string, summary: string, ok: JsonSchema, canFail: boolean): Record<string, unknown> {
  const responses: Record<string, unknown> = { '200': { description: 'OK', content: { 'application/json': { schema: ok } } } };
  if (canFail) responses['503'] = { $ref: '#/components/responses/NotReady' };
  return { get: { operationId, summary, tags: ['health'], responses } };
}

export function openApiDocument(svc: Service<ModelTags, ApiMap>): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const api of svc.apis) paths[api.route] = { post: apiOperation(api) };
  const status = (value: string): JsonSchema => ({ type: 'object', required: ['status'], properties: { status: { const: value } } });
  paths['/livez'] = healthOperation('livez', 'The process is up', status('alive'), false);
  paths['/readyz'] = healthOperation('readyz', 'Models are loaded and startup hooks have run', status('ready'), true);
  paths['/healthz'] = healthOperation('healthz', 'Service status, models and APIs', {
    type: 'object',
    required: ['status', 'service', 'apis'],
    properties: {
      status: { type: 'string' },
      service: { type: 'string' },
      version: { type: 'string' },
      apis: { type: 'array', items: { type: 'string' } },
      models: { type: 'object', additionalProperties: { type: 'string' } },
      inFlight: { type: 'integer' },
      uptimeSeconds: { type: 'number' },
    },
  }, true);

  const tags = [...new Set(svc.apis.flatMap((a) => a.tags))].map((name) => ({ name }));
  const info: Record<string, unknown> = { title: svc.name, version: svc.version };
  if (svc.description) info.description = svc.description;
  return {
    openapi: '3.1.0',
    info,
    ...(tags.length ? { tags: [...tags, { name: 'health' }] } : {}),
    paths,
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'message', 'requestId'],
          properties: {
            code: { type: 'string', enum: Object.keys(ERROR_CODES), description: 'Stable error code; match on this' },
            message: { type: 'string', description: 'What went wrong, for a person' },
            details: { description: 'Machine-readable details, e.g. { issues: [{ path, message }] } for VALIDATION_FAILED' },
            requestId: { type: 'string' },
            stack: { type: 'string', description: 'Development mode only' },
          },
        },
      },
      responses: ERROR_RESPONSES,
      parameters: {
        RequestId: {
          name: 'x-request-id',
          in: 'header',
          required: false,
          schema: { type: 'string', maxLength: 128 },
          description: 'Your id for this request; echoed back in x-request-id (one is generated when absent)',
        },
      },
    },
  };
}
