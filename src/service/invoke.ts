// One API call, independent of the transport: check the body's media type, parse it into the handler's
// value, run the handler, and turn its result into a response body. Errors that are not TiffinErrors
// become HANDLER_FAILED.
import { TiffinError } from '../errors/index.ts';
import type { ModelTags, RequestContext } from './context.ts';
import type { RequestPayload, ResponseBody, ResponseNegotiation } from './io-types.ts';
import { acceptsMediaType } from './media-type.ts';
import type { ApiDefinition } from './service.ts';

/** Throws 415 unless the API's input takes `mediaType`. A request without a Content-Type is let through. */
export function checkMediaType(api: ApiDefinition, mediaType: string | undefined): void {
  if (mediaType === undefined || acceptsMediaType(api.input.accepts, mediaType)) return;
  const accepted = api.input.accepts.filter((t) => t !== '*/*');
  throw new TiffinError(
    'UNSUPPORTED_MEDIA_TYPE',
    `API "${api.name}" does not take ${mediaType}; send Content-Type: ${accepted.join(' or ') || 'any type'}`,
    { details: { accepted } },
  );
}

function handlerFailed(api: ApiDefinition, err: unknown): TiffinError {
  if (err instanceof TiffinError) return err;
  // The cause's message may hold internals (paths, queries): the server shows it only in development mode.
  return new TiffinError('HANDLER_FAILED', `the handler of API "${api.name}" failed; the server log has the error under this requestId`, { cause: err });
}

export async function invokeApi(
  api: ApiDefinition,
  payload: RequestPayload,
  ctx: RequestContext<ModelTags>,
  negotiation: ResponseNegotiation,
  /** Told the parsed input before the handler runs (the server's traffic routing may key on one of its fields). */
  observer?: { parsed(input: unknown): void },
): Promise<ResponseBody> {
  checkMediaType(api, payload.mediaType);
  const input = await api.input.parse(payload);
  observer?.parsed(input);
  let result: unknown;
  try {
    result = await api.handler(input, ctx);
  } catch (err) {
    throw handlerFailed(api, err);
  }
  const body = await api.output.serialize(result, negotiation);
  if (body.type !== 'events') return body;
  // A generator that throws midway: keep TiffinErrors as they are, wrap the rest like a failing handler.
  const frames = body.frames;
  async function* guarded(): AsyncGenerator<string, void, undefined> {
    try {
      yield* frames;
    } catch (err) {
      throw handlerFailed(api, err);
    }
  }
  return { ...body, frames: guarded() };
}
