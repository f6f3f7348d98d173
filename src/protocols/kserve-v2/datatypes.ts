// The V2 protocol's datatype names and Tiffin's dtypes, both ways.
import { TiffinError } from '../../errors/index.ts';
import type { DType } from '../../runtime/tensor.ts';

export const V2_DATATYPES = [
  'BOOL', 'UINT8', 'UINT16', 'UINT32', 'UINT64', 'INT8', 'INT16', 'INT32', 'INT64',
  'FP16', 'FP32', 'FP64', 'BYTES', 'BF16',
] as const;

export type V2Datatype = (typeof V2_DATATYPES)[number];

const TO_DTYPE: Record<V2Datatype, DType> = {
  BOOL: 'bool', UINT8: 'uint8', UINT16: 'uint16', UINT32: 'uint32', UINT64: 'uint64',
  INT8: 'int8', INT16: 'int16', INT32: 'int32', INT64: 'int64',
  FP16: 'float16', FP32: 'float32', FP64: 'float64', BYTES: 'string', BF16: 'bfloat16',
};

const FROM_DTYPE = Object.fromEntries(Object.entries(TO_DTYPE).map(([v2, d]) => [d, v2])) as Record<DType, V2Datatype>;

export function isV2Datatype(value: unknown): value is V2Datatype {
  return typeof value === 'string' && (V2_DATATYPES as readonly string[]).includes(value);
}

/** The dtype of a V2 datatype name; TENSOR_INVALID names the tensor when the datatype is unknown. */
export function dtypeOfDatatype(datatype: unknown, tensor: string): DType {
  if (!isV2Datatype(datatype)) {
    throw new TiffinError('TENSOR_INVALID', `${tensor}: unknown datatype ${JSON.stringify(datatype)}; expected one of ${V2_DATATYPES.join(', ')}`);
  }
  return TO_DTYPE[datatype];
}

export function datatypeOfDtype(dtype: DType): V2Datatype {
  return FROM_DTYPE[dtype];
}
