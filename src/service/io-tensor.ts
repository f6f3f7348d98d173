// Tensors as API inputs and outputs: nested JSON arrays (or `{ shape, data }`) for people and curl,
// little-endian binary with `x-tensor-dtype` / `x-tensor-shape` headers for programs.
import { TiffinError, messageOf } from '../errors/index.ts';
import { TensorBudget } from '../limits/index.ts';
import { assertTensor, bytesPerElement, elementCount, shapeMatches, type DType, type Tensor, type TensorData } from '../runtime/tensor.ts';
import type { InputIO, JsonSchema, MediaTypeMap, OutputIO, RequestPayload, ResponseBody, ResponseNegotiation } from './io-types.ts';
import { JSON_MEDIA_TYPE, parseJsonBody } from './io-json.ts';
import { acceptNames } from './media-type.ts';
import {
  BINARY_MEDIA_TYPE, TENSOR_DTYPE_HEADER, TENSOR_SHAPE_HEADER,
  formatShape, parseShapeHeader, readTensorJson, tensorBytes, tensorDataFromBytes, tensorDataToJson, tensorFromJson,
} from './tensor-codec.ts';
import { validationError } from './validation.ts';

export interface TensorOptions<D extends DType> {
  dtype: D;
  /** Declared shape; -1 marks a dynamic dimension. Omitted: any shape. */
  shape?: readonly number[];
}

/** The JSON element type of a dtype. 64-bit integers may be bigints or decimal strings beyond 2^53. */
export type TensorElement<D extends DType> = D extends 'string'
  ? string
  : D extends 'bool'
    ? boolean
    : D extends 'int64' | 'uint64'
      ? number | bigint | string
      : number;

export type NestedArray<T> = readonly (T | NestedArray<T>)[];

/** What a client may send: a Tensor (sent as binary), nested arrays, or `{ shape, data }` with flat data. */
export type TensorWire<D extends DType> =
  | Tensor<D>
  | NestedArray<TensorElement<D>>
  | { dtype?: D; shape: readonly number[]; data: readonly TensorElement<D>[] };

/**
 * What a handler may return for a tensor output: a Tensor (as `ModelHandle.run` gives), or an object literal
 * whose dtype TypeScript widened to string. Either way the dtype and shape are checked when it is sent.
 */
export type TensorOutputValue = Tensor | { dtype: string; shape: number[]; data: TensorData };

export class TensorIO<D extends DType> implements InputIO<Tensor<D>, TensorWire<D>>, OutputIO<TensorOutputValue, Tensor<D>> {
  readonly kind = 'tensor';
  readonly accepts = [JSON_MEDIA_TYPE, BINARY_MEDIA_TYPE] as const;
  readonly dtype: D;
  readonly shape: readonly number[] | undefined;
  declare readonly '~input'?: { value: Tensor<D>; wire: TensorWire<D> };
  declare readonly '~output'?: { returned: TensorOutputValue; wire: Tensor<D> };

  constructor(options: TensorOptions<D>) {
    this.dtype = options.dtype;
    this.shape = options.shape;
  }

  private describe(): string {
    return `${this.dtype}${this.shape ? formatShape(this.shape) : ''}`;
  }

  private checkShape(shape: readonly number[]): void {
    if (this.shape && !shapeMatches(this.shape, shape)) {
      throw validationError([{ path: [], message: `expected shape ${formatShape(this.shape)} (-1: any size), got ${formatShape(shape)}` }], 'the tensor');
    }
  }

  async parse(payload: RequestPayload): Promise<Tensor<D>> {
    const t = payload.mediaType === BINARY_MEDIA_TYPE ? this.parseBinary(payload) : await this.parseJson(payload);
    this.checkShape(t.shape);
    return t;
  }

  private async parseJson(payload: RequestPayload): Promise<Tensor<D>> {
    const result = await readTensorJson(payload.body, this.dtype, payload.limits);
    if ('issues' in result) throw validationError(result.issues, `the ${this.describe()} tensor`);
    return result.tensor as Tensor<D>;
  }

  private parseBinary(payload: RequestPayload): Tensor<D> {
    const dtype = this.dtype;
    const sentDtype = payload.headers[TENSOR_DTYPE_HEADER]?.trim().toLowerCase();
    if (sentDtype !== undefined && sentDtype !== dtype) {
      throw validationError([{ path: [], message: `${TENSOR_DTYPE_HEADER} is "${sentDtype}" but this API takes ${dtype}` }], 'the tensor');
    }
    if (dtype === 'string') {
      throw new TiffinError('UNSUPPORTED_MEDIA_TYPE', 'string tensors have no binary form; send them as JSON (Content-Type: application/json)');
    }
    const width = bytesPerElement(dtype);
    const bytes = payload.body;
    const shapeHeader = payload.headers[TENSOR_SHAPE_HEADER];
    let shape: number[] | undefined;
    if (shapeHeader !== undefined) {
      shape = parseShapeHeader(shapeHeader);
      if (!shape) throw validationError([{ path: [], message: `${TENSOR_SHAPE_HEADER} must be comma-separated non-negative integers such as "2,4", got "${shapeHeader}"` }], 'the tensor');
    } else {
      shape = this.inferShape(bytes.length, width);
    }
    new TensorBudget(payload.limits).addInput(dtype, shape);
    const needed = elementCount(shape) * width;
    if (bytes.length !== needed) {
      throw validationError([{ path: [], message: `the body has ${bytes.length} bytes; shape ${formatShape(shape)} of ${dtype} needs ${needed}` }], 'the tensor');
    }
    return { dtype, shape, data: tensorDataFromBytes(dtype, bytes) } as Tensor<D>;
  }

  /** Without a shape header, the declared shape decides: fully static, or one dynamic dimension sized by the body. */
  private inferShape(byteLength: number, width: number): number[] {
    const spec = this.shape;
    const dynamic = spec ? spec.filter((d) => d === -1).length : 2;
    if (!spec || dynamic > 1) {
      throw validationError([{ path: [], message: `send the tensor's shape in the ${TENSOR_SHAPE_HEADER} header (e.g. "2,4")` }], 'the tensor');
    }
    if (dynamic === 0) return [...spec];
    const sliceBytes = elementCount(spec.filter((d) => d !== -1)) * width;
    const free = sliceBytes === 0 ? 0 : byteLength / sliceBytes;
    if (!Number.isInteger(free)) {
      throw validationError([{ path: [], message: `the body has ${byteLength} bytes, which does not fill shape ${formatShape(spec)} of ${this.dtype}; send ${TENSOR_SHAPE_HEADER}` }], 'the tensor');
    }
    return spec.map((d) => (d === -1 ? free : d));
  }

  async serialize(output: TensorOutputValue, negotiation: ResponseNegotiation): Promise<ResponseBody> {
    // assertTensor checks the dtype name too, so after it `output` is a Tensor.
    const value = output as Tensor;
    try {
      assertTensor(value, 'output');
    } catch (err) {
      throw new TiffinError('HANDLER_FAILED', `the handler returned an invalid tensor: ${messageOf(err)}`, { cause: err });
    }
    if (value.dtype !== this.dtype) throw new TiffinError('HANDLER_FAILED', `the handler returned a ${value.dtype} tensor where the API declares ${this.dtype}`);
    if (this.shape && !shapeMatches(this.shape, value.shape)) {
      throw new TiffinError('HANDLER_FAILED', `the handler returned shape ${formatShape(value.shape)} where the API declares ${formatShape(this.shape)}`);
    }
    const headers = { [TENSOR_DTYPE_HEADER]: value.dtype, [TENSOR_SHAPE_HEADER]: value.shape.join(',') };
    if (value.dtype !== 'string' && acceptNames(negotiation.accept, BINARY_MEDIA_TYPE)) {
      return { type: 'body', contentType: BINARY_MEDIA_TYPE, body: tensorBytes(value), headers };
    }
    const body = JSON.stringify({ dtype: value.dtype, shape: value.shape, data: tensorDataToJson(value) });
    return { type: 'body', contentType: 'application/json; charset=utf-8', body, headers };
  }

  private elementSchema(): JsonSchema {
    const d: DType = this.dtype;
    if (d === 'string') return { type: 'string' };
    if (d === 'bool') return { type: 'boolean' };
    if (d === 'int64' || d === 'uint64') return { anyOf: [{ type: 'integer' }, { type: 'string', pattern: '^-?\\d+$' }] };
    if (d.startsWith('int') || d.startsWith('uint')) return { type: 'integer' };
    return { type: 'number' };
  }

  /** Nested arrays, one level per declared dimension, with sizes where they are fixed. */
  private nestedSchema(): JsonSchema {
    if (!this.shape) return { type: 'array', description: 'nested arrays of any depth' };
    let schema = this.elementSchema();
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i]!;
      schema = d === -1 ? { type: 'array', items: schema } : { type: 'array', items: schema, minItems: d, maxItems: d };
    }
    return schema;
  }

  private flatSchema(withDtype: boolean): JsonSchema {
    return {
      type: 'object',
      required: withDtype ? ['dtype', 'shape', 'data'] : ['shape', 'data'],
      properties: {
        dtype: { const: this.dtype },
        shape: { type: 'array', items: { type: 'integer', minimum: 0 } },
        data: { type: 'array', items: this.elementSchema(), description: 'elements in row-major order' },
      },
    };
  }

  requestContent(): MediaTypeMap {
    const content: MediaTypeMap = {
      [JSON_MEDIA_TYPE]: {
        schema: {
          description: `a ${this.describe()} tensor: nested arrays, or { shape, data } with flat data`,
          anyOf: [this.nestedSchema(), this.flatSchema(false)],
        },
      },
    };
    if (this.dtype !== 'string') {
      content[BINARY_MEDIA_TYPE] = {
        schema: {
          type: 'string',
          format: 'binary',
          description: `little-endian ${this.dtype} elements, row-major; shape in the ${TENSOR_SHAPE_HEADER} header (e.g. "2,4"), dtype optionally in ${TENSOR_DTYPE_HEADER}`,
        },
      };
    }
    return content;
  }

  responseContent(): MediaTypeMap {
    const content: MediaTypeMap = { [JSON_MEDIA_TYPE]: { schema: this.flatSchema(true) } };
    if (this.dtype !== 'string') {
      content[BINARY_MEDIA_TYPE] = {
        schema: { type: 'string', format: 'binary', description: `sent when Accept names ${BINARY_MEDIA_TYPE}; dtype and shape in the ${TENSOR_DTYPE_HEADER} and ${TENSOR_SHAPE_HEADER} headers` },
      };
    }
    return content;
  }
}

/** A tensor of `dtype`, optionally of a declared shape (-1 for dynamic dimensions). */
export function tensor<const D extends DType>(options: TensorOptions<D>): TensorIO<D> {
  return new TensorIO(options);
}

