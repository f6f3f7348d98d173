// What the runner and its replica workers say to each other. Inputs and outputs travel by structured
// clone, with tensor buffers transferred rather than copied; errors travel as plain {code, message, details}.
import { ERROR_CODES, TiffinError, messageOf, type ErrorCode } from '../errors/index.ts';
import type { Signature } from '../runtime/tensor.ts';
import type { TensorSpec } from '../runtime/tensor.ts';
import type { LoadOptions } from '../runtime/types.ts';

/** What a replica worker is started with (its workerData). */
export interface ReplicaInit {
  /** Store root the worker opens its own ModelStore on. */
  storeRoot: string;
  /** A full `name:version` tag, resolved once so that every replica loads the same version. */
  tag: string;
  loadOptions: LoadOptions;
  /** Which replica this is (for messages). */
  replica: number;
  /** Nice value for the replica's thread (Linux), 0 to leave it alone. */
  niceness: number;
  /** The native-code gate shared with the main thread (native-gate.ts). */
  gate: SharedArrayBuffer;
}

/** What a loaded model looks like from outside, sent once it is ready. */
export interface ModelInfo {
  tag: string;
  framework: string;
  signatures: Record<string, Signature>;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

export interface SerializedError {
  code: ErrorCode;
  message: string;
  details?: unknown;
}

export type ToReplica =
  | { type: 'call'; id: number; method: string; input: unknown; outputs?: string[] }
  | { type: 'stop' };

export type FromReplica =
  | { type: 'ready'; model: ModelInfo; loadMs: number }
  | { type: 'load-failed'; error: SerializedError }
  | { type: 'result'; id: number; output: unknown; runMs: number }
  | { type: 'error'; id: number; error: SerializedError };

export function serializeError(err: unknown, fallback: ErrorCode): SerializedError {
  if (err instanceof TiffinError) {
    let details = err.details;
    try {
      structuredClone(details);
    } catch {
      details = undefined;
    }
    return details === undefined ? { code: err.code, message: err.message } : { code: err.code, message: err.message, details };
  }
  return { code: fallback, message: messageOf(err) };
}

export function deserializeError(e: SerializedError): TiffinError {
  const code: ErrorCode = e.code in ERROR_CODES ? e.code : 'INTERNAL';
  return new TiffinError(code, e.message, e.details === undefined ? {} : { details: e.details });
}
