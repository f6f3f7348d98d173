// What the S3 server (or the network) answered, turned into TiffinErrors that name the bucket, the endpoint and a fix.
import { TiffinError, messageOf } from '../errors/index.ts';
import type { S3Location } from './config.ts';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** The server's own words: error name, HTTP status, message; or the socket error when nothing answered. */
export function serverAnswer(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  // A refused connection to a name with several addresses is an AggregateError with an empty message.
  const nested = Array.isArray(e.errors) ? e.errors.map(messageOf).filter(Boolean).join('; ') : '';
  const message = (e.message || nested || messageOf(err)).trim();
  const label = [e.name && e.name !== 'Error' ? e.name : undefined, e.code && e.code !== e.name ? e.code : undefined, status ? `(HTTP ${status})` : undefined];
  const head = label.filter(Boolean).join(' ');
  return head && message ? `${head}: ${message}` : head || message || 'no answer';
}

/** Where a call went: the endpoint (or AWS S3 and its region). */
export function endpointText(location: S3Location): string {
  return location.endpoint ?? `AWS S3 (${location.region})`;
}

export function objectUrl(location: S3Location, key: string): string {
  return `s3://${location.bucket ?? '?'}/${key}`;
}

/** True when the object (not the bucket) is missing. */
export function isMissingObject(err: unknown): boolean {
  const e = (err ?? {}) as SdkError;
  if (e.name === 'NoSuchBucket') return false;
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function hint(err: unknown): string {
  const e = (err ?? {}) as SdkError;
  const status = e.$metadata?.httpStatusCode;
  if (e.name === 'NoSuchBucket') return 'Create the bucket, or fix TIFFIN_S3_BUCKET (remote.s3.bucket).';
  if (e.name === 'CredentialsProviderError' || status === 403 || e.name === 'InvalidAccessKeyId' || e.name === 'SignatureDoesNotMatch') {
    return 'Check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE) and that they may use this bucket.';
  }
  if (status === undefined) return 'Check that the server is up and that TIFFIN_S3_ENDPOINT (remote.s3.endpoint) points at it.';
  return 'Try again; if it keeps failing, check the server and the bucket.';
}

/** REMOTE_FAILED (502) for a call that failed: what was attempted, where, the server's answer and what to check. */
export function remoteFailed(action: string, location: S3Location, key: string, err: unknown): TiffinError {
  const e = (err ?? {}) as SdkError;
  return new TiffinError('REMOTE_FAILED', `Could not ${action} ${objectUrl(location, key)} at ${endpointText(location)}: ${serverAnswer(err)}. ${hint(err)}`, {
    cause: err,
    details: { bucket: location.bucket, key, endpoint: location.endpoint ?? null, region: location.region, status: e.$metadata?.httpStatusCode ?? null, answer: serverAnswer(err) },
  });
}

export function notConfigured(action: string): TiffinError {
  return new TiffinError('REMOTE_NOT_CONFIGURED', `Cannot ${action}: no bucket is configured. Set TIFFIN_S3_BUCKET (or remote.s3.bucket in tiffin.yaml), plus TIFFIN_S3_ENDPOINT for an S3-compatible server such as MinIO; credentials come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE).`, {
    details: { variable: 'TIFFIN_S3_BUCKET', key: 'remote.s3.bucket' },
  });
}
