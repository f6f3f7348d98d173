// How the client sends an input, judged by the value (the client knows the service only by its types):
// a Tensor -> binary with dtype/shape headers; a Blob or bytes -> a raw body; an object holding Blobs ->
// multipart/form-data; anything else -> JSON (strings too: text APIs take JSON strings).
import type { Tensor } from '../runtime/tensor.ts';

export interface EncodedBody {
  body: RequestInit['body'];
  headers: Record<string, string>;
}

type TypedArray = Exclude<ArrayBufferView, DataView>;

export function isTensor(value: unknown): value is Tensor {
  if (typeof value !== 'object' || value === null) return false;
  const t = value as Record<string, unknown>;
  return typeof t.dtype === 'string' && Array.isArray(t.shape) && (Array.isArray(t.data) || (ArrayBuffer.isView(t.data) && !(t.data instanceof DataView)));
}

function isBinary(value: unknown): value is Blob | ArrayBuffer | TypedArray {
  return value instanceof Blob || value instanceof ArrayBuffer || (ArrayBuffer.isView(value) && !(value instanceof DataView));
}

function toBlob(value: Blob | ArrayBuffer | TypedArray): Blob {
  if (value instanceof Blob) return value;
  const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  // Copy into a plain ArrayBuffer-backed array: Blob parts must not be SharedArrayBuffer views.
  return new Blob([Uint8Array.from(bytes)]);
}

/** JSON with bigints as decimal strings (how the server takes 64-bit integers beyond 2^53). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null';
}

function tensorBody(t: Tensor): EncodedBody {
  if (t.dtype === 'string' || Array.isArray(t.data)) {
    return { body: toJson({ dtype: t.dtype, shape: t.shape, data: t.data }), headers: { 'content-type': 'application/json' } };
  }
  const data = t.data as TypedArray;
  return {
    body: Uint8Array.from(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    headers: { 'content-type': 'application/octet-stream', 'x-tensor-dtype': t.dtype, 'x-tensor-shape': t.shape.join(',') },
  };
}

function formBody(fields: Record<string, unknown>): EncodedBody {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (isBinary(value)) {
      const blob = toBlob(value);
      form.append(name, blob, typeof File !== 'undefined' && blob instanceof File ? blob.name : name);
    } else if (isTensor(value)) {
      form.append(name, toJson({ dtype: value.dtype, shape: value.shape, data: Array.from(value.data as ArrayLike<unknown>) }));
    } else {
      form.append(name, typeof value === 'string' ? value : toJson(value));
    }
  }
  // fetch sets multipart/form-data with its boundary itself.
  return { body: form, headers: {} };
}

export function encodeInput(value: unknown): EncodedBody {
  if (value instanceof FormData) return { body: value, headers: {} };
  if (isTensor(value)) return tensorBody(value);
  if (isBinary(value)) {
    const blob = toBlob(value);
    const headers: Record<string, string> = { 'content-type': blob.type || 'application/octet-stream' };
    if (typeof File !== 'undefined' && blob instanceof File && blob.name) headers['content-disposition'] = `attachment; filename*=UTF-8''${encodeURIComponent(blob.name)}`;
    return { body: blob, headers };
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).some(isBinary)) {
    return formBody(value as Record<string, unknown>);
  }
  return { body: toJson(value), headers: { 'content-type': 'application/json' } };
}
