// Owns: the typed HTTP client of a service (`tiffin/client`): methods from the service's type, fetch, timeouts, retries, SSE, readiness.
// Knows nothing about: the server, fastify, zod or any runtime; it imports only types from the service SDK.
export { createClient, type ApiMethod, type CallOptions, type Client, type ClientBase, type ClientOptions, type ResultOptions, type TaskHandle, type TaskInfo, type TaskMethods, type WaitOptions } from './client.ts';
export { ClientError } from './client-error.ts';
