// Request ids: the caller's `x-request-id` when it is a sane token (so ids follow a request across
// services), else a fresh UUID. Odd values are replaced rather than echoed, to keep logs and headers clean.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const REQUEST_ID_HEADER = 'x-request-id';
const SAFE_ID = /^[\w.:@/+=-]{1,128}$/;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers[REQUEST_ID_HEADER];
  const value = Array.isArray(given) ? given[0] : given;
  return value !== undefined && SAFE_ID.test(value) ? value : randomUUID();
}
