// Every error the server sends, in one JSON shape: { code, message, details?, requestId, stack? }.
// Maps fastify's and its plugins' own errors to Tiffin codes, and keeps internals out of 500s in production.
import { TiffinError, messageOf } from '../errors/index.ts';

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
  requestId: string;
  /** Development mode only. */
  stack?: string;
}

export function humanBytes(n: number): string {
  if (n >= 1024 * 1024) return `${+(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

function fieldOf(err: unknown, key: 'code' | 'statusCode'): unknown {
  return err !== null && typeof err === 'object' ? (err as Record<string, unknown>)[key] : undefined;
}

/** Any thrown value as a TiffinError with a stable code. */
export function toTiffinError(err: unknown, maxBodySize: number): TiffinError {
  if (err instanceof TiffinError) return err;
  const code = fieldOf(err, 'code');
  const statusCode = fieldOf(err, 'statusCode');
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return new TiffinError('BODY_TOO_LARGE', `the request body is larger than the ${humanBytes(maxBodySize)} limit (server.maxBodySize)`, {
        details: { limit: maxBodySize },
        cause: err,
      });
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new TiffinError('BODY_TOO_LARGE', `the multipart body has too many parts: ${messageOf(err)}`, { cause: err });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new TiffinError('UNSUPPORTED_MEDIA_TYPE', messageOf(err), { cause: err });
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new TiffinError('BAD_REQUEST', 'the multipart/form-data body could not be read (is the boundary parameter missing?)', { cause: err });
  }
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) {
    return new TiffinError('BAD_REQUEST', messageOf(err), { status: statusCode === 406 ? 400 : statusCode, cause: err });
  }
  return new TiffinError('INTERNAL', 'internal server error', { cause: err });
}

/** The JSON body for an error. Without development mode, 500s carry no details, cause or stack. */
export function errorBody(err: TiffinError, requestId: string, development: boolean): ErrorBody {
  const body: ErrorBody = { code: err.code, message: err.message, requestId };
  const internal = err.status >= 500 && err.status !== 503 && err.status !== 504;
  if (err.details !== undefined && (!internal || development)) body.details = err.details;
  if (development && internal) {
    const cause = err.cause;
    if (cause !== undefined) body.message = `${err.message}: ${messageOf(cause)}`;
    body.stack = (cause instanceof Error ? cause.stack : undefined) ?? err.stack;
  }
  return body;
}
