// Plain text in and out. A JSON string body is taken too, so a client can send any string the same way.
import { TextDecoder } from 'node:util';
import { TiffinError } from '../errors/index.ts';
import type { InputIO, MediaTypeMap, OutputIO, RequestPayload, ResponseBody } from './io-types.ts';
import { JSON_MEDIA_TYPE, parseJsonBody } from './io-json.ts';
import { validationError } from './validation.ts';

/** Decodes text bytes in the charset the request named (UTF-8 when none). */
export function decodeText(body: Buffer, charset: string | undefined): string {
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(charset ?? 'utf-8', { fatal: true });
  } catch {
    throw new TiffinError('UNSUPPORTED_MEDIA_TYPE', `charset "${charset}" is not supported; send UTF-8 text`);
  }
  try {
    return decoder.decode(body);
  } catch {
    throw new TiffinError('BAD_REQUEST', `the body is not valid ${decoder.encoding} text`);
  }
}

export class TextIO implements InputIO<string, string>, OutputIO<string, string> {
  readonly kind = 'text';
  readonly accepts = ['text/plain', 'text/*', JSON_MEDIA_TYPE] as const;
  declare readonly '~input'?: { value: string; wire: string };
  declare readonly '~output'?: { returned: string; wire: string };

  async parse(payload: RequestPayload): Promise<string> {
    if (payload.mediaType === JSON_MEDIA_TYPE) {
      const value = parseJsonBody(payload.body);
      if (typeof value !== 'string') throw validationError([{ path: [], message: 'expected a JSON string (or send text/plain)' }]);
      return value;
    }
    return decodeText(payload.body, payload.mediaParams.charset);
  }

  async serialize(value: string): Promise<ResponseBody> {
    if (typeof value !== 'string') throw new TiffinError('HANDLER_FAILED', `the handler returned ${typeof value} where the API declares text`);
    return { type: 'body', contentType: 'text/plain; charset=utf-8', body: value };
  }

  requestContent(): MediaTypeMap {
    return { 'text/plain': { schema: { type: 'string' } } };
  }

  responseContent(): MediaTypeMap {
    return { 'text/plain': { schema: { type: 'string' } } };
  }
}

/** Plain text (text/plain, UTF-8 unless the request names another charset). */
export function text(): TextIO {
  return new TextIO();
}
