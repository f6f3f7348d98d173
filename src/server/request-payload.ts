// Turns a fastify request into the transport-neutral RequestPayload that io kinds read: the raw body
// buffer, or every part of a multipart/form-data body read into memory (within the body size and part limits).
import type { FastifyRequest } from 'fastify';
import { TiffinError, isTiffinError, messageOf } from '../errors/index.ts';
import { checkJsonDepth, limitExceeded, type RequestLimits } from '../limits/index.ts';
import type { FormPart, RequestPayload } from '../service/io-types.ts';
import { parseContentType, type ParsedMediaType } from '../service/media-type.ts';
import { humanBytes, toTiffinError } from './error-reply.ts';

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

/** Names the limit a multipart error from @fastify/multipart broke, or undefined for other errors. */
function multipartLimit(err: unknown, limits: RequestLimits): TiffinError | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') return limitExceeded('maxPartSize', 'a part of the multipart body is too large', limits.maxPartSize);
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FILES_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return limitExceeded('maxParts', 'the multipart body has too many parts', limits.maxParts);
  }
  return undefined;
}

async function readParts(request: FastifyRequest, maxBodySize: number, limits: RequestLimits): Promise<FormPart[]> {
  const parts: FormPart[] = [];
  let total = 0;
  const add = (part: FormPart) => {
    total += part.data.length;
    if (total > maxBodySize) {
      throw new TiffinError('BODY_TOO_LARGE', `the request body is larger than the ${humanBytes(maxBodySize)} limit (server.maxBodySize)`, { details: { limit: maxBodySize } });
    }
    parts.push(part);
  };
  const { maxPartSize, maxParts } = limits;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxPartSize, fieldSize: maxPartSize, parts: maxParts } })) {
      if (part.type === 'file') {
        add({ name: part.fieldname, filename: part.filename, mediaType: parseContentType(part.mimetype).mediaType, data: await part.toBuffer() });
      } else {
        if (part.valueTruncated) throw limitExceeded('maxPartSize', `the multipart field "${part.fieldname}" is too large`, maxPartSize);
        add({ name: part.fieldname, filename: undefined, mediaType: undefined, data: Buffer.from(typeof part.value === 'string' ? part.value : String(part.value), 'utf8') });
      }
    }
  } catch (err) {
    if (isTiffinError(err)) throw err;
    const limit = multipartLimit(err, limits);
    if (limit) throw limit;
    const mapped = toTiffinError(err, maxBodySize);
    if (mapped.code !== 'INTERNAL') throw mapped;
    throw new TiffinError('BAD_REQUEST', `could not read the multipart/form-data body: ${messageOf(err)}`, { cause: err });
  }
  return parts;
}

function isJson(mediaType: string | undefined): boolean {
  return mediaType === 'application/json' || (mediaType?.endsWith('+json') ?? false);
}

/** The request's body (or parts); `contentType` is its Content-Type, parsed already by the caller. A JSON body's
 * nesting is checked here, once for every io kind, before anything parses it. */
export async function readPayload(request: FastifyRequest, maxBodySize: number, limits: RequestLimits, contentType: ParsedMediaType): Promise<RequestPayload> {
  const { mediaType, params } = contentType;
  const headers = flattenHeaders(request.headers);
  if (mediaType === 'multipart/form-data') {
    return { mediaType, mediaParams: params, headers, body: Buffer.alloc(0), parts: await readParts(request, maxBodySize, limits), limits };
  }
  const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
  if (isJson(mediaType)) checkJsonDepth(body, limits.maxJsonDepth);
  return { mediaType, mediaParams: params, headers, body, parts: undefined, limits };
}
