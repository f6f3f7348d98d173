// The `remote:` section of tiffin.yaml and its TIFFIN_* variables: which S3-compatible bucket `push` and `pull`
// use, and whether `tiffin serve` pulls missing models at start. Credentials are the AWS SDK's default chain.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { booleanText } from '../units/index.ts';

const flag = z.preprocess(booleanText, z.boolean({ error: 'expected true or false' }));

function httpUrlProblem(value: string): string | undefined {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? undefined : `uses ${url.protocol}; expected http:// or https://`;
  } catch {
    return 'is not a URL';
  }
}

const endpoint = z.string().superRefine((value, ctx) => {
  const problem = httpUrlProblem(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `expected the S3 server's URL, such as http://127.0.0.1:9000 (${problem})` });
});

/** Key folders above `<kind>/`: slashes at either end are dropped; no empty, `.` or `..` segment. */
const prefix = z
  .string({ error: 'expected a key prefix such as teams/vision' })
  .transform((v) => v.replace(/^\/+|\/+$/g, ''))
  .refine((v) => v === '' || v.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), {
    message: 'expected key folders separated by single slashes, with no "." or ".." segment',
  });

export const remoteSectionSchema = z.strictObject({
  s3: z
    .strictObject({
      bucket: z.string({ error: 'expected a bucket name' }).regex(/^[^/\s]+$/, { message: 'expected a bare bucket name (no slashes or spaces); put folders in prefix' }).optional(),
      prefix: prefix.optional(),
      endpoint: endpoint.optional(),
      region: z.string({ error: 'expected a region such as eu-west-1' }).min(1).optional(),
      /** Path-style URLs (endpoint/bucket/key): what MinIO, Ceph and most S3-compatible servers need. */
      forcePathStyle: flag.optional(),
    })
    .optional(),
  /** `tiffin serve` pulls the configured models that are missing from the local store before it starts. */
  pullOnStart: flag.optional(),
});

export type RemoteSection = z.output<typeof remoteSectionSchema>;

/** Environment variables for the remote section, beside the other TIFFIN_* ones. */
export const REMOTE_ENV_VARS = {
  TIFFIN_S3_BUCKET: 'remote.s3.bucket',
  TIFFIN_S3_PREFIX: 'remote.s3.prefix',
  TIFFIN_S3_ENDPOINT: 'remote.s3.endpoint',
  TIFFIN_S3_REGION: 'remote.s3.region',
  TIFFIN_S3_FORCE_PATH_STYLE: 'remote.s3.forcePathStyle',
  TIFFIN_REMOTE_PULL_ON_START: 'remote.pullOnStart',
} as const;

export interface S3Location {
  /** Undefined: no remote configured (push and pull answer REMOTE_NOT_CONFIGURED). */
  bucket: string | undefined;
  /** '' or folders without slashes at the ends. */
  prefix: string;
  /** Undefined: AWS S3 itself. */
  endpoint: string | undefined;
  region: string;
  forcePathStyle: boolean;
}

export interface RemoteConfig {
  s3: S3Location;
  pullOnStart: boolean;
}

export const DEFAULT_REGION = 'us-east-1';

/** AWS's own variables for the endpoint (checked when a RemoteStore is made, so a bad one cannot break `serve`). */
function awsEndpoint(env: Record<string, string | undefined>): string | undefined {
  return env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
}

/** CONFIG_INVALID unless the resolved endpoint is an http(s) URL. */
export function assertEndpoint(location: S3Location): void {
  if (location.endpoint === undefined) return;
  const problem = httpUrlProblem(location.endpoint);
  if (problem) {
    throw new TiffinError('CONFIG_INVALID', `invalid configuration: the S3 endpoint ${JSON.stringify(location.endpoint)} ${problem} (set TIFFIN_S3_ENDPOINT, remote.s3.endpoint or AWS_ENDPOINT_URL to a URL such as http://127.0.0.1:9000)`);
  }
}

/**
 * Fills in what the section (tiffin.yaml merged with TIFFIN_S3_*) leaves out from AWS's own variables:
 * AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. Path-style
 * addressing is on whenever an endpoint is set, unless forcePathStyle is explicitly false.
 */
export function resolveRemote(section: RemoteSection = {}, env: Record<string, string | undefined> = process.env): RemoteConfig {
  const s3 = section.s3 ?? {};
  const endpointUrl = s3.endpoint ?? awsEndpoint(env);
  const region = s3.region ?? (env.AWS_REGION || undefined) ?? (env.AWS_DEFAULT_REGION || undefined) ?? DEFAULT_REGION;
  return {
    s3: {
      bucket: s3.bucket,
      prefix: s3.prefix ?? '',
      endpoint: endpointUrl,
      region,
      forcePathStyle: s3.forcePathStyle ?? endpointUrl !== undefined,
    },
    pullOnStart: section.pullOnStart ?? false,
  };
}
