// Sends a streaming API's frames as server-sent events. The first frame is pulled before any header goes
// out, so a handler that fails at once gets a normal JSON error. Later failures become an `event: error`
// frame; a client that goes away stops the handler's generator (return()) and fires ctx.signal.
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { sseFrame } from '../service/io-stream.ts';
import type { ErrorBody } from './error-reply.ts';

/** A comment line every so often keeps proxies from timing out a quiet stream. */
const HEARTBEAT_MS = 15_000;

export interface EventStreamOptions {
  contentType: string;
  frames: AsyncGenerator<string, void, undefined>;
  signal: AbortSignal;
  log: Logger;
  /** The error frame's body for an error thrown midway. */
  errorBody: (err: unknown) => ErrorBody;
}

export async function sendEventStream(reply: FastifyReply, options: EventStreamOptions): Promise<void> {
  const { frames, signal } = options;
  const first = await frames.next();
  const out = new PassThrough();
  // fastify destroys the stream when the client goes away; writes after that are dropped, not thrown.
  out.on('error', () => {});
  const write = async (chunk: string): Promise<void> => {
    if (out.destroyed || signal.aborted) return;
    // A client that stops reading leaves drain pending until it goes away, which aborts `signal`.
    if (!out.write(chunk)) await once(out, 'drain', { signal }).catch(() => {});
  };
  const stop = () => {
    // Queued behind a pending next(); the generator's finally blocks run once it yields or returns.
    void frames.return(undefined).catch(() => {});
  };
  signal.addEventListener('abort', stop, { once: true });
  const heartbeat = setInterval(() => void write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();

  const pump = async () => {
    try {
      if (!first.done) await write(first.value);
      while (!signal.aborted && !out.destroyed) {
        const next = await frames.next();
        if (next.done) break;
        await write(next.value);
      }
    } catch (err) {
      if (!signal.aborted) {
        options.log.error({ err }, 'stream failed midway');
        await write(sseFrame(JSON.stringify(options.errorBody(err)), 'error'));
      }
    } finally {
      clearInterval(heartbeat);
      signal.removeEventListener('abort', stop);
      out.end();
    }
  };

  reply
    .header('content-type', options.contentType)
    .header('cache-control', 'no-cache')
    .header('x-accel-buffering', 'no');
  void pump();
  return reply.send(out);
}
