// The one place where errors become protocol statuses: an HTTP status and message for the REST
// protocols, a gRPC status code for the gRPC service. Unexpected errors become 500 / INTERNAL.
import { isTiffinError, messageOf } from '../errors/index.ts';

/** gRPC status codes used here (the numbers are fixed by the gRPC specification). */
export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface ProtocolError {
  status: number;
  message: string;
  /** Seconds, for Retry-After. */
  retryAfter?: number;
}

/** An error's HTTP status and client-facing message. Fastify's own errors (413, 415, bad JSON) keep their status. */
export function protocolError(err: unknown): ProtocolError {
  if (isTiffinError(err)) {
    const out: ProtocolError = { status: err.status, message: err.message };
    if (err.retryAfter !== undefined) out.retryAfter = err.retryAfter;
    return out;
  }
  const status = (err as { statusCode?: unknown } | undefined)?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 600) {
    return { status, message: status === 413 ? `request body is too large: ${messageOf(err)}` : messageOf(err) };
  }
  return { status: 500, message: `internal error: ${messageOf(err)}` };
}

/** The gRPC status for an error, by the HTTP status it maps to. */
export function grpcStatusOf(err: unknown): number {
  const { status } = protocolError(err);
  if (status === 401) return GRPC_STATUS.UNAUTHENTICATED;
  if (status === 403) return GRPC_STATUS.PERMISSION_DENIED;
  if (status === 404) return GRPC_STATUS.NOT_FOUND;
  if (status === 409) return GRPC_STATUS.ALREADY_EXISTS;
  if (status === 413 || status === 429) return GRPC_STATUS.RESOURCE_EXHAUSTED;
  if (status === 503) return GRPC_STATUS.UNAVAILABLE;
  if (status === 504) return GRPC_STATUS.DEADLINE_EXCEEDED;
  if (status === 405 || status === 501) return GRPC_STATUS.UNIMPLEMENTED;
  if (status >= 400 && status < 500) return GRPC_STATUS.INVALID_ARGUMENT;
  return GRPC_STATUS.INTERNAL;
}
