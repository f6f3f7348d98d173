// The contract every input/output kind implements: which request bodies it takes, how it turns them into
// the handler's value, how it turns the handler's result into a response body, and how it is documented.
// Transport-neutral: the server hands in bytes (or multipart parts) and writes out what comes back.
import type { RequestLimits } from '../limits/index.ts';

/** A JSON Schema object (2020-12), as embedded in OpenAPI 3.1. */
export type JsonSchema = Record<string, unknown>;

/** An OpenAPI 3.1 Media Type Object. */
export interface MediaTypeObject {
  schema: JsonSchema;
  /** Per-field encodings of a multipart body. */
  encoding?: Record<string, { contentType: string }>;
  [extension: `x-${string}`]: unknown;
}

/** OpenAPI `content`: media type -> Media Type Object. */
export type MediaTypeMap = Record<string, MediaTypeObject>;

export type IOKind = 'json' | 'text' | 'tensor' | 'image' | 'file' | 'multipart' | 'stream';

/** One part of a multipart/form-data body, already read into memory. */
export interface FormPart {
  name: string;
  /** Set for file parts, undefined for plain fields. */
  filename: string | undefined;
  /** The part's media type, lower-cased, without parameters. */
  mediaType: string | undefined;
  data: Buffer;
}

/** A request body as the transport received it. */
export interface RequestPayload {
  /** The media type without parameters, lower-cased ('application/json'); undefined when none was sent. */
  mediaType: string | undefined;
  /** Content-Type parameters with lower-cased names (e.g. charset). */
  mediaParams: Readonly<Record<string, string>>;
  /** Request headers, lower-cased names. */
  headers: Readonly<Record<string, string | undefined>>;
  /** The raw body (empty for multipart bodies, whose content is in `parts`). */
  body: Buffer;
  /** The parts of a multipart/form-data body. */
  parts: FormPart[] | undefined;
  /** The server's request limits (src/limits); io kinds check tensor sizes and nested JSON against them. */
  limits: RequestLimits;
}

/** What the client asked for, so an output can pick between its encodings. */
export interface ResponseNegotiation {
  accept: string | undefined;
}

/** A finished response body, or a stream of server-sent-event frames. */
export type ResponseBody =
  | { type: 'body'; contentType: string; body: Buffer | string; headers?: Record<string, string> }
  | {
      type: 'events';
      contentType: string;
      /** Each value is one complete SSE frame. Throws when the handler's generator throws. */
      frames: AsyncGenerator<string, void, undefined>;
    };

/**
 * An input kind. `Value` is what the handler receives; `Wire` is what a client sends.
 * The `~input` property exists only in types, so that both can be read back from a descriptor's type.
 */
export interface InputIO<Value = unknown, Wire = unknown> {
  readonly kind: IOKind;
  /** Media types this input takes; `type/*` patterns allowed. The first is what clients should send. */
  readonly accepts: readonly string[];
  /** Turns a request body into the handler's value; throws VALIDATION_FAILED or BAD_REQUEST. */
  parse(payload: RequestPayload): Promise<Value>;
  /** OpenAPI `requestBody.content`. */
  requestContent(): MediaTypeMap;
  readonly '~input'?: { value: Value; wire: Wire };
}

/**
 * An output kind. `Returned` is what the handler returns; `Wire` is what a client receives.
 */
export interface OutputIO<Returned = unknown, Wire = unknown> {
  readonly kind: IOKind;
  /** Turns the handler's result into a response body; throws HANDLER_FAILED when it breaks the declared shape. */
  serialize(value: Returned, negotiation: ResponseNegotiation): Promise<ResponseBody>;
  /** OpenAPI `responses.200.content`. */
  responseContent(): MediaTypeMap;
  readonly '~output'?: { returned: Returned; wire: Wire };
}
