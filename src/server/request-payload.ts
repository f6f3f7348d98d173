// Turns a fastify request into the transport-neutral RequestPayload that io kinds read: the raw body
// buffer, or every part of a multipart/form-data body read into memory (within the body size limit).
import type { FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError, messageOf } from '../errors/index.ts';
import type { FormPart, RequestPayload } from '../service/io-types.ts';
import { parseContentType, type ParsedMediaType } from '../service/media-type.ts';
import { humanBytes, toTiffinError } from './error-reply.ts';

const MAX_PARTS = 1000;

/** Header values as plain strings; repeated headers joined with ", ". Node already joins repeats of most
 * headers, so the object itself is returned unless one holds a list. */
export function flattenHeaders(headers: FastifyRequest['headers']): Record<string, string | undefined> {
  let lists = false;
  for (const name in headers) if (Array.isArray(headers[name])) lists = true;
  if (!lists) return headers as Record<string, string | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

async function readParts(request: FastifyRequest, maxBodySize: number): Promise<FormPart[]> {
  const parts: FormPart[] = [];
  let total = 0;
  const tooLarge = () =>
    new TiffinError('BODY_TOO_LARGE', `the request body is larger than the ${humanBytes(maxBodySize)} limit (server.maxBodySize)`, { details: { limit: maxBodySize } });
  try {
    for await (const part of request.parts({ limits: { fileSize: maxBodySize, fieldSize: maxBodySize, parts: MAX_PARTS } })) {
      if (part.type === 'file') {
        const data = await part.toBuffer();
        total += data.length;
        if (total > maxBodySize) throw tooLarge();
        parts.push({ name: part.fieldname, filename: part.filename, mediaType: parseContentType(part.mimetype).mediaType, data });
      } else {
        const data = Buffer.from(typeof part.value === 'string' ? part.value : String(part.value), 'utf8');
        total += data.length;
        if (total > maxBodySize) throw tooLarge();
        parts.push({ name: part.fieldname, filename: undefined, mediaType: undefined, data });
      }
    }
  } catch (err) {
    if (isTiffinError(err)) throw err;
    const mapped = toTiffinError(err, maxBodySize);
    if (mapped.code !== 'INTERNAL') throw mapped;
    throw new TiffinError('BAD_REQUEST', `could not read the multipart/form-data body: ${messageOf(err)}`, { cause: err });
  }
  return parts;
}

/** The request's body (or parts); `contentType` is its Content-Type, parsed already by the caller. */
export async function readPayload(request: FastifyRequest, maxBodySize: number, contentType: ParsedMediaType): Promise<RequestPayload> {
  const { mediaType, params } = contentType;
  const headers = flattenHeaders(request.headers);
  if (mediaType === 'multipart/form-data') {
    return { mediaType, mediaParams: params, headers, body: Buffer.alloc(0), parts: await readParts(request, maxBodySize) };
  }
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  return { mediaType, mediaParams: params, headers, body, parts: undefined };
}
