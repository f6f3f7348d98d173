// multipart/form-data inputs with several named fields, each read by its own input kind
// (for example an image and a JSON options field). Invalid fields are reported under their field name.
import { z } from 'zod';
import { isTiffinError } from '../errors/index.ts';
import { checkJsonDepth, type RequestLimits } from '../limits/index.ts';
import { JsonIO, isZodSchema, jsonSchemaOf } from './io-json.ts';
import { MULTIPART_MEDIA_TYPE } from './io-file.ts';
import { TextIO } from './io-text.ts';
import type { FormPart, InputIO, JsonSchema, MediaTypeMap, RequestPayload } from './io-types.ts';
import { issuesFromZod, validationError, type ValidationIssue } from './validation.ts';

/** A field is an input kind, or a zod schema for a JSON (or plain text) field. */
export type FieldSpec = InputIO | z.ZodType;
export type FieldsSpec = Record<string, FieldSpec>;

type FieldValue<F> = F extends z.ZodType ? z.output<F> : F extends InputIO<infer V, unknown> ? V : never;
type FieldWire<F> = F extends z.ZodType ? z.input<F> : F extends InputIO<unknown, infer W> ? W : never;

export type MultipartValue<F extends FieldsSpec> = { [K in keyof F]: FieldValue<F[K]> };
export type MultipartWire<F extends FieldsSpec> = { [K in keyof F]: FieldWire<F[K]> };

const FILE_KINDS = new Set(['file', 'image']);

/** A JSON field may also be sent as bare text: `3` and `"3"` both reach a z.number() as 3, `cat` reaches z.string() as "cat". */
function fieldJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export class MultipartIO<F extends FieldsSpec> implements InputIO<MultipartValue<F>, MultipartWire<F>> {
  readonly kind = 'multipart';
  readonly accepts = [MULTIPART_MEDIA_TYPE] as const;
  declare readonly '~input'?: { value: MultipartValue<F>; wire: MultipartWire<F> };

  constructor(readonly fields: F) {}

  async parse(payload: RequestPayload): Promise<MultipartValue<F>> {
    const parts = payload.parts ?? [];
    const out: Record<string, unknown> = {};
    const issues: ValidationIssue[] = [];
    for (const [name, spec] of Object.entries(this.fields)) {
      try {
        out[name] = await this.parseField(spec, parts.find((p) => p.name === name), payload.limits);
      } catch (err) {
        const nested = isTiffinError(err, 'VALIDATION_FAILED') ? (err.details as { issues?: ValidationIssue[] } | undefined)?.issues : undefined;
        if (!nested) throw err;
        issues.push(...nested.map((i) => ({ path: [name, ...i.path], message: i.message })));
      }
    }
    if (issues.length) throw validationError(issues, 'the form');
    // Every declared field was read (or reported above), so the record has the declared shape.
    return out as MultipartValue<F>;
  }

  private async parseField(spec: FieldSpec, part: FormPart | undefined, limits: RequestLimits): Promise<unknown> {
    const schema = isZodSchema(spec) ? spec : spec instanceof JsonIO ? (spec.schema as z.ZodType) : undefined;
    if (schema) {
      if (part) checkJsonDepth(part.data, limits.maxJsonDepth);
      const value = part ? fieldJson(part.data.toString('utf8')) : undefined;
      const result = await schema.safeParseAsync(value);
      if (result.success) return result.data;
      throw validationError(part ? issuesFromZod(result.error) : [{ path: [], message: 'required field is missing' }]);
    }
    const io = spec as InputIO;
    if (!part) throw validationError([{ path: [], message: 'required field is missing' }]);
    const isFile = FILE_KINDS.has(io.kind);
    const mediaType = part.mediaType ?? (part.filename !== undefined || isFile ? 'application/octet-stream' : io instanceof TextIO ? 'text/plain' : 'application/json');
    if (mediaType === 'application/json') checkJsonDepth(part.data, limits.maxJsonDepth);
    return io.parse({ mediaType, mediaParams: {}, headers: {}, body: part.data, parts: isFile ? [part] : undefined, limits });
  }

  requestContent(): MediaTypeMap {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    const encoding: Record<string, { contentType: string }> = {};
    for (const [name, spec] of Object.entries(this.fields)) {
      if (isZodSchema(spec)) {
        properties[name] = jsonSchemaOf(spec, 'input');
        if (!spec.safeParse(undefined).success) required.push(name);
        continue;
      }
      required.push(name);
      if (FILE_KINDS.has(spec.kind)) {
        properties[name] = { type: 'string', format: 'binary' };
        encoding[name] = { contentType: spec.accepts.filter((t) => t !== MULTIPART_MEDIA_TYPE).join(', ') };
      } else {
        const content = spec.requestContent();
        properties[name] = content['application/json']?.schema ?? content['text/plain']?.schema ?? {};
      }
    }
    const media = { schema: { type: 'object', required, properties } as JsonSchema, ...(Object.keys(encoding).length ? { encoding } : {}) };
    return { [MULTIPART_MEDIA_TYPE]: media };
  }
}

/** A multipart/form-data body with named fields, each read by its own kind (or zod schema). */
export function multipart<const F extends FieldsSpec>(fields: F): MultipartIO<F> {
  return new MultipartIO(fields);
}
