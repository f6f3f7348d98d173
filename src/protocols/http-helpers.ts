// Small pieces every REST protocol plugin shares: bodies read as raw bytes (each protocol decodes its
// own), a signal that fires when the client goes away, and JSON bodies parsed with a protocol error.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TiffinError } from '../errors/index.ts';
import { Cancellation } from '../runtime/cancellation.ts';

/** Default largest request body: tensors are big. */
export const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

/** Every body in this plugin's scope arrives as a Buffer, whatever its content type (or none). */
export function acceptRawBodies(app: FastifyInstance, bodyLimit: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_req, body, done) => done(null, body));
}

/** Aborts when the response closes before it was sent (the client went away). A Cancellation, not an
 * AbortSignal: see runtime/cancellation.ts for why. */
export function clientGone(reply: FastifyReply): Cancellation {
  const cancellation = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) cancellation.abort(new TiffinError('BAD_REQUEST', 'the client closed the connection'));
  });
  return cancellation;
}

/** The body as a JSON value; `empty` when there is no body. BAD_REQUEST when it is not JSON. */
export function jsonBody(body: unknown, empty: unknown = undefined): unknown {
  if (!Buffer.isBuffer(body) || body.byteLength === 0) return empty;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new TiffinError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/** One header's value (the first, when repeated). */
export function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
