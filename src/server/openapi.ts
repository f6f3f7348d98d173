// The OpenAPI 3.1 document of a service, built from each API's io kinds (zod 4 -> JSON Schema 2020-12),
// plus the health routes and the shared error shape.
import { ERROR_CODES } from '../errors/index.ts';
import type { JsonSchema } from '../service/io-types.ts';
import type { ModelTags } from '../service/context.ts';
import { jsonSchemaOf } from '../service/io-json.ts';
import type { ApiDefinition, ApiMap, Service } from '../service/service.ts';
import type { TaskDefinition } from '../service/task-definition.ts';
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

const TASK_ID_PARAMETER = { name: 'task_id', in: 'query', required: true, schema: { type: 'string' }, description: 'The id submit answered' };
const TASK_INFO_REF = { $ref: '#/components/schemas/TaskInfo' };
const TASK_INFO_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['task_id', 'task', 'status', 'attempts', 'created_at'],
  properties: {
    task_id: { type: 'string' },
    task: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'running', 'done', 'failed', 'cancelled'] },
    attempts: { type: 'integer', description: 'Runs started so far (retries and restarts count)' },
    created_at: { type: 'string', format: 'date-time' },
    started_at: { type: 'string', format: 'date-time' },
    finished_at: { type: 'string', format: 'date-time' },
    error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, description: 'Why it failed or was cancelled' },
  },
};

/** The five routes of a task: submit, status, get (the result), cancel, retry. */
function taskPaths(task: TaskDefinition): Record<string, Record<string, unknown>> {
  const tags = task.tags.length ? { tags: [...task.tags] } : {};
  const info = (description: string) => ({ description, content: { 'application/json': { schema: TASK_INFO_REF } } });
  const notFound = { $ref: '#/components/responses/TaskNotFound' };
  const byId = (action: string, summary: string, method: 'get' | 'post', ok: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
    [method]: { operationId: `${task.name}_${action}`, summary, ...tags, parameters: [TASK_ID_PARAMETER, { $ref: '#/components/parameters/RequestId' }], responses: { '200': ok, '400': { $ref: '#/components/responses/BadRequest' }, '404': notFound, ...more } },
  });
  const conflict = { '409': errorResponse('The task is not in a state that allows this (TASK_STATE_CONFLICT); details.status says where it is') };
  return {
    [`${task.route}/submit`]: {
      post: {
        operationId: `${task.name}_submit`,
        summary: `Submit a ${task.name} task: ${task.summary ?? 'answered at once with its id'}`,
        ...(task.description ? { description: task.description } : {}),
        ...tags,
        parameters: [{ $ref: '#/components/parameters/RequestId' }],
        requestBody: { required: true, content: { 'application/json': { schema: jsonSchemaOf(task.input, 'input') } } },
        responses: {
          '202': { ...info('Accepted: the task is stored and queued'), headers: { location: { schema: { type: 'string' }, description: 'Its status URL' } } },
          '400': { $ref: '#/components/responses/BadRequest' },
          '413': { $ref: '#/components/responses/BodyTooLarge' },
          '415': { $ref: '#/components/responses/UnsupportedMediaType' },
          '503': { $ref: '#/components/responses/NotReady' },
        },
      },
    },
    [`${task.route}/status`]: byId('status', `The state of a ${task.name} task`, 'get', info('The task')),
    [`${task.route}/get`]: byId('get', `The result of a done ${task.name} task`, 'get', { description: 'Its result', content: { 'application/json': { schema: jsonSchemaOf(task.output, 'output') } } }, {
      '409': errorResponse('Not done yet, or failed or cancelled (TASK_NOT_DONE); details holds its status and error'),
    }),
    [`${task.route}/cancel`]: byId('cancel', `Cancel a pending or running ${task.name} task`, 'post', info('The task, now cancelled'), conflict),
    [`${task.route}/retry`]: byId('retry', `Queue a failed or cancelled ${task.name} task again`, 'post', info('The task, pending again'), conflict),
  };
}

function healthOperation(operationId: string, summary: string, ok: JsonSchema, canFail: boolean): Record<string, unknown> {
  const responses: Record<string, unknown> = { '200': { description: 'OK', content: { 'application/json': { schema: ok } } } };
  if (canFail) responses['503'] = { $ref: '#/components/responses/NotReady' };
  return { get: { operationId, summary, tags: ['health'], responses } };
}

export function openApiDocument(svc: Service<ModelTags, ApiMap>): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const api of svc.apis) paths[api.route] = { post: apiOperation(api) };
  for (const task of svc.tasks) Object.assign(paths, taskPaths(task));
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

  const tags = [...new Set([...svc.apis, ...svc.tasks].flatMap((a) => a.tags))].map((name) => ({ name }));
  const info: Record<string, unknown> = { title: svc.name, version: svc.version };
  if (svc.description) info.description = svc.description;
  return {
    openapi: '3.1.0',
    info,
    ...(tags.length ? { tags: [...tags, { name: 'health' }] } : {}),
    paths,
    components: {
      schemas: {
        ...(svc.tasks.length ? { TaskInfo: TASK_INFO_SCHEMA } : {}),
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
      responses: svc.tasks.length ? { ...ERROR_RESPONSES, TaskNotFound: errorResponse('No task with that id here (TASK_NOT_FOUND): never submitted, or deleted after the retention period') } : ERROR_RESPONSES,
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
