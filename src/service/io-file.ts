// Files as API inputs and outputs: a raw body with its own content type, or a file part of a
// multipart/form-data body (which also carries the file's name).
import { TiffinError } from '../errors/index.ts';
import type { FormPart, InputIO, MediaTypeMap, OutputIO, RequestPayload, ResponseBody } from './io-types.ts';
import { acceptsMediaType, parseContentType } from './media-type.ts';
import { validationError } from './validation.ts';

export const MULTIPART_MEDIA_TYPE = 'multipart/form-data';
const BINARY = 'application/octet-stream';

/** An uploaded file as the handler receives it. */
export interface UploadedFile {
  data: Buffer;
  /** The media type the client declared (application/octet-stream when it declared none). */
  contentType: string;
  filename: string | undefined;
  size: number;
}

/** What a handler may return for a file output. */
export type FileOutputValue = Uint8Array | { data: Uint8Array; contentType?: string; filename?: string };

/** The `filename` of a Content-Disposition header, if any. */
export function dispositionFilename(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header);
  if (star?.[1]) {
    try {
      return decodeURIComponent(star[1].trim());
    } catch {
      // fall through to the plain parameter
    }
  }
  return parseContentType(`x/x;${header.split(';').slice(1).join(';')}`).params.filename;
}

/** The file part a file-like input reads: the named field, else the first part that is a file. */
export function pickFilePart(parts: FormPart[], field: string | undefined, what: string): FormPart {
  const part = field !== undefined ? parts.find((p) => p.name === field) : parts.find((p) => p.filename !== undefined) ?? parts[0];
  if (!part) {
    throw validationError([{ path: field === undefined ? [] : [field], message: `the form has no ${field === undefined ? 'file part' : `"${field}" field`}; send the ${what} as a file field` }]);
  }
  return part;
}

/** The bytes, type and name of a file-like body, whether raw or inside multipart/form-data. */
export function fileFromPayload(payload: RequestPayload, accepts: readonly string[], field: string | undefined, what: string): UploadedFile {
  if (payload.parts) {
    const part = pickFilePart(payload.parts, field, what);
    const contentType = part.mediaType ?? BINARY;
    if (!acceptsMediaType(accepts, contentType)) {
      throw new TiffinError('UNSUPPORTED_MEDIA_TYPE', `form field "${part.name}" is ${contentType}; this API takes ${accepts.join(', ')}`, {
        details: { accepted: accepts },
      });
    }
    return { data: part.data, contentType, filename: part.filename, size: part.data.length };
  }
  const filename = dispositionFilename(payload.headers['content-disposition']);
  return { data: payload.body, contentType: payload.mediaType ?? BINARY, filename, size: payload.body.length };
}

export interface FileOptions {
  /** Media types taken (patterns like `image/*` allowed). Default: any. */
  contentTypes?: readonly string[];
  /** The multipart field that holds the file. Default: the first file part. */
  field?: string;
}

/** What a client may send for a file: a Blob (or File, which keeps its name) or raw bytes. */
export type FileWire = Blob | Uint8Array | ArrayBuffer;

export class FileIO implements InputIO<UploadedFile, FileWire>, OutputIO<FileOutputValue, Blob> {
  readonly kind = 'file';
  readonly accepts: readonly string[];
  private readonly contentTypes: readonly string[];
  private readonly field: string | undefined;
  declare readonly '~input'?: { value: UploadedFile; wire: FileWire };
  declare readonly '~output'?: { returned: FileOutputValue; wire: Blob };

  constructor(options: FileOptions = {}) {
    this.contentTypes = options.contentTypes?.length ? options.contentTypes : ['*/*'];
    this.field = options.field;
    this.accepts = [...this.contentTypes, MULTIPART_MEDIA_TYPE];
  }

  async parse(payload: RequestPayload): Promise<UploadedFile> {
    return fileFromPayload(payload, this.contentTypes, this.field, 'file');
  }

  async serialize(value: FileOutputValue): Promise<ResponseBody> {
    if (value instanceof Uint8Array) {
      return { type: 'body', contentType: BINARY, body: Buffer.from(value.buffer, value.byteOffset, value.byteLength), headers: { 'content-disposition': 'attachment' } };
    }
    if (!value || !(value.data instanceof Uint8Array)) throw new TiffinError('HANDLER_FAILED', 'the handler returned no file bytes (expected a Uint8Array or { data, contentType, filename })');
    // Always a disposition: it tells clients (ours included) that this is a file, even when its type is text/*.
    const headers: Record<string, string> = {
      'content-disposition': value.filename ? `attachment; filename*=UTF-8''${encodeURIComponent(value.filename)}` : 'attachment',
    };
    const body = Buffer.from(value.data.buffer, value.data.byteOffset, value.data.byteLength);
    return { type: 'body', contentType: value.contentType ?? BINARY, body, headers };
  }

  requestContent(): MediaTypeMap {
    const content: MediaTypeMap = {};
    for (const type of this.contentTypes) content[type] = { schema: { type: 'string', format: 'binary' } };
    content[MULTIPART_MEDIA_TYPE] = {
      schema: { type: 'object', required: [this.field ?? 'file'], properties: { [this.field ?? 'file']: { type: 'string', format: 'binary' } } },
    };
    return content;
  }

  responseContent(): MediaTypeMap {
    return { '*/*': { schema: { type: 'string', format: 'binary' } } };
  }
}

/** A file upload: a raw body of one of `contentTypes`, or a file part of a multipart form. */
export function file(options?: FileOptions): FileIO {
  return new FileIO(options);
}
