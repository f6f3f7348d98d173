// Owns: the limits on what one request may ask of the server beyond its body size (inputs, outputs, tensor
// elements and bytes, string lengths, JSON nesting, multipart parts), their defaults and config keys, and the
// checks the decoders call before they allocate. A breach is LIMIT_EXCEEDED (413), naming the key to raise.
import { TiffinError } from '../errors/index.ts';

export { LIMIT_ENV_VARS, limitsSectionSchema } from './config.ts';

export interface RequestLimits {
  /** Named inputs in one inference request. */
  maxInputs: number;
  /** Outputs one request may ask for by name. */
  maxOutputs: number;
  /** Tensor elements in one request, all inputs together (declared shapes, checked before decoding). */
  maxTensorElements: number;
  /** Bytes of tensor data in one request once decoded, all inputs together. */
  maxTensorBytes: number;
  /** Bytes of one string (BYTES) element. */
  maxStringBytes: number;
  /** Nesting of arrays and objects in a JSON body. */
  maxJsonDepth: number;
  /** Parts of a multipart/form-data body. */
  maxParts: number;
  /** Bytes of one multipart part. */
  maxPartSize: number;
}

/**
 * Defaults: generous for real models (an ImageNet batch of 64 is 9.6 M elements; a 4 K-token batch far less), tight
 * enough that one request cannot make the server allocate gigabytes or parse a million nested brackets.
 */
export const DEFAULT_LIMITS: RequestLimits = {
  maxInputs: 128,
  maxOutputs: 128,
  maxTensorElements: 16 * 1024 * 1024,
  maxTensorBytes: 256 * 1024 * 1024,
  maxStringBytes: 16 * 1024 * 1024,
  maxJsonDepth: 64,
  maxParts: 100,
  maxPartSize: 32 * 1024 * 1024,
};

export type LimitName = keyof RequestLimits;

/** The tiffin.yaml key of a limit, named in every error so the operator knows what to raise. */
export function limitKey(name: LimitName): string {
  return `limits.${name}`;
}

/** LIMIT_EXCEEDED for `what` (e.g. "the request has 300 inputs"), naming the limit, its value and its key. */
export function limitExceeded(name: LimitName, what: string, max: number): TiffinError {
  return new TiffinError('LIMIT_EXCEEDED', `${what}, more than the ${max} that ${limitKey(name)} allows`, {
    details: { limit: limitKey(name), max },
  });
}

/** Fills what `partial` leaves out with the defaults. */
export function resolveLimits(partial: Partial<RequestLimits> = {}): RequestLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(partial)) if (v !== undefined) out[k as LimitName] = v;
  return out;
}

const BYTES_PER_ELEMENT: Record<string, number> = {
  bool: 1, int8: 1, uint8: 1, int16: 2, uint16: 2, float16: 2, bfloat16: 2,
  int32: 4, uint32: 4, float32: 4, int64: 8, uint64: 8, float64: 8,
};

/**
 * Adds up one request's tensors as they are declared, so an oversized request is refused before any element is
 * decoded or allocated. Strings count 16 bytes an element here (a pointer and a short string); their real
 * length is checked element by element with `checkString`.
 */
export class TensorBudget {
  private inputs = 0;
  private elements = 0;
  private bytes = 0;

  constructor(private readonly limits: RequestLimits) {}

  addInput(dtype: string, shape: readonly number[]): void {
    if (++this.inputs > this.limits.maxInputs) throw limitExceeded('maxInputs', `the request has more than ${this.limits.maxInputs} inputs`, this.limits.maxInputs);
    let n = 1;
    for (const d of shape) n *= d;
    this.elements += n;
    if (this.elements > this.limits.maxTensorElements) {
      throw limitExceeded('maxTensorElements', `the request's inputs declare ${this.elements} tensor elements`, this.limits.maxTensorElements);
    }
    this.addBytes(n * (BYTES_PER_ELEMENT[dtype] ?? 16));
  }

  /** Bytes known only once decoded (strings). */
  addBytes(n: number): void {
    this.bytes += n;
    if (this.bytes > this.limits.maxTensorBytes) {
      throw limitExceeded('maxTensorBytes', `the request's inputs hold ${this.bytes} bytes of tensor data`, this.limits.maxTensorBytes);
    }
  }

  checkOutputs(count: number): void {
    if (count > this.limits.maxOutputs) throw limitExceeded('maxOutputs', `the request asks for ${count} outputs`, this.limits.maxOutputs);
  }
}

/** Refuses a string element longer than limits.maxStringBytes (measured in UTF-8 only when it could be). */
export function checkStrings(values: readonly string[], limits: RequestLimits, where: string): void {
  const max = limits.maxStringBytes;
  for (let i = 0; i < values.length; i++) {
    const s = values[i]!;
    if (s.length * 3 > max && Buffer.byteLength(s, 'utf8') > max) {
      throw limitExceeded('maxStringBytes', `${where}: element ${i} is ${Buffer.byteLength(s, 'utf8')} bytes`, max);
    }
  }
}

/**
 * Refuses JSON text nested deeper than `max` before JSON.parse sees it: V8 parses a million nested brackets for
 * seconds, and code that walks the result recursively then overflows its stack. One pass over the bytes, skipping
 * strings, stopping at the first level too deep (about 1 ms per MB).
 */
export function checkJsonDepth(bytes: Uint8Array, max: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) throw limitExceeded('maxJsonDepth', `the JSON body nests deeper than ${max} levels`, max);
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
}
