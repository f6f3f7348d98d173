// JSON bodies checked against a zod 4 schema, in both directions. A bare zod schema in an API means this.
import { z } from 'zod';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { InputIO, JsonSchema, MediaTypeMap, OutputIO, RequestPayload, ResponseBody } from './io-types.ts';
import { issuesFromZod, validationError } from './validation.ts';

export const JSON_MEDIA_TYPE = 'application/json';

/** zod 4 schema -> JSON Schema 2020-12 for OpenAPI 3.1. Never throws: what JSON Schema cannot say becomes `{}`. */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const out: JsonSchema = z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });
  delete out.$schema;
  return out;
}

export function isZodSchema(value: unknown): value is z.ZodType {
  return value instanceof z.ZodType;
}

/**
 * zod's synchronous parse is several times cheaper than the async one on the hot path; only schemas with
 * async refinements or transforms need the latter, and zod says so by throwing, so fall back then.
 */
function safeParse<S extends z.ZodType>(schema: S, value: unknown): z.ZodSafeParseResult<z.output<S>> | Promise<z.ZodSafeParseResult<z.output<S>>> {
  try {
    return schema.safeParse(value);
  } catch (err) {
    if (err instanceof z.core.$ZodAsyncError) return schema.safeParseAsync(value);
    throw err;
  }
}

/** Parses a JSON body; an unparseable body is the client's mistake (400 BAD_REQUEST), with the parser's reason. */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new TiffinError('BAD_REQUEST', `the body is not valid JSON: ${messageOf(err)}`);
  }
}

export class JsonIO<S extends z.ZodType> implements InputIO<z.output<S>, z.input<S>>, OutputIO<z.input<S>, z.output<S>> {
  readonly kind = 'json';
  readonly accepts = [JSON_MEDIA_TYPE] as const;
  declare readonly '~input'?: { value: z.output<S>; wire: z.input<S> };
  declare readonly '~output'?: { returned: z.input<S>; wire: z.output<S> };

  constructor(readonly schema: S) {}

  async parse(payload: RequestPayload): Promise<z.output<S>> {
    const value = parseJsonBody(payload.body);
    const result = await safeParse(this.schema, value);
    if (result.success) return result.data;
    if (value === undefined) throw validationError([{ path: [], message: 'the body is empty; send a JSON value (Content-Type: application/json)' }]);
    throw validationError(issuesFromZod(result.error));
  }

  async serialize(value: z.input<S>): Promise<ResponseBody> {
    const result = await safeParse(this.schema, value);
    if (!result.success) {
      // The handler broke its own contract: a server bug, not the client's. Details stay in the log.
      throw new TiffinError('HANDLER_FAILED', 'the handler returned a value that does not match the output schema', {
        details: { issues: issuesFromZod(result.error) },
      });
    }
    return { type: 'body', contentType: 'application/json; charset=utf-8', body: JSON.stringify(result.data) ?? 'null' };
  }

  requestContent(): MediaTypeMap {
    return { [JSON_MEDIA_TYPE]: { schema: jsonSchemaOf(this.schema, 'input') } };
  }

  responseContent(): MediaTypeMap {
    return { [JSON_MEDIA_TYPE]: { schema: jsonSchemaOf(this.schema, 'output') } };
  }
}

/** A JSON body validated by `schema`. */
export function json<S extends z.ZodType>(schema: S): JsonIO<S> {
  return new JsonIO(schema);
}
