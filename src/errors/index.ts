// Owns: the one catalogue of Tiffin's typed errors, each with a stable code and an HTTP status.
// Knows nothing about transports: the server maps TiffinError to a JSON body, the CLI to a line on stderr.

/** Every error code Tiffin raises, with the HTTP status it maps to. Codes are stable: users match on them. */
export const ERROR_CODES = {
  // store
  INVALID_TAG: 400,
  INVALID_NAME: 400,
  MODEL_NOT_FOUND: 404,
  MODEL_EXISTS: 409,
  MANIFEST_INVALID: 422,
  INTEGRITY_MISMATCH: 422,
  ARCHIVE_INVALID: 422,
  ARCHIVE_UNSAFE: 422,
  /** An import over maxImportBytes or maxImportEntries; the message names the limit. */
  ARCHIVE_TOO_LARGE: 413,
  /** The store's disk is full (ENOSPC, EDQUOT), or has less free space than an import declares. */
  STORE_NO_SPACE: 507,
  /** The store's folder refuses writes (EROFS, EACCES, EPERM): mounted read-only, or owned by someone else. */
  STORE_READ_ONLY: 500,
  // bundles and shipping (src/bundle, src/container, src/remote)
  BUNDLE_NOT_FOUND: 404,
  BUNDLE_EXISTS: 409,
  /** The service cannot be bundled: esbuild failed, a dependency is missing, tiffin.yaml's bundle keys are wrong. */
  BUILD_FAILED: 422,
  /** No container tool (docker, podman, buildah, nerdctl) was found, or the one named is not installed. */
  CONTAINER_BACKEND_MISSING: 424,
  /** A push or pull was asked for with no bucket configured (TIFFIN_S3_BUCKET or `remote.s3.bucket`). */
  REMOTE_NOT_CONFIGURED: 400,
  /** The bucket has no such model or bundle version. */
  REMOTE_NOT_FOUND: 404,
  /** The S3 server could not be reached or refused the call; the message carries its answer. */
  REMOTE_FAILED: 502,
  // offline batch inference (src/offline)
  /** A checkpoint of `tiffin run` belongs to another input, service or api; pass --restart to start over. */
  CHECKPOINT_MISMATCH: 409,
  // services that call services (src/server/dependencies.ts)
  /** A dependency answered with an error, or broke the call; the message names it and carries its answer. */
  DEPENDENCY_FAILED: 502,
  /** A dependency could not be reached, is not ready, or is overloaded; retry later. */
  DEPENDENCY_UNAVAILABLE: 503,
  /** A push of a version the bucket already holds (its version.json exists); pass force to replace it. */
  REMOTE_EXISTS: 409,
  // tasks (src/tasks: durable async jobs)
  /** No task with that id (never submitted, or deleted by retention). */
  TASK_NOT_FOUND: 404,
  /** The task has no result yet (pending, running), or it failed or was cancelled; details.status says which. */
  TASK_NOT_DONE: 409,
  /** The task is not in a state that allows the call (retry of a done task, cancel of a finished one). */
  TASK_STATE_CONFLICT: 409,
  /** Recorded on a task, not an HTTP answer: a server restart interrupted its run (onRestart decided what next). */
  TASK_INTERRUPTED: 500,
  /** The service declares tasks but their store cannot open (better-sqlite3 missing, or its folder not writable). */
  TASKS_UNAVAILABLE: 500,
  // runtimes
  FRAMEWORK_UNKNOWN: 400,
  /** The framework's optional package is not installed (or fails to load); the message says what to install. */
  FRAMEWORK_UNAVAILABLE: 424,
  MODEL_INVALID: 422,
  MODEL_LOAD_FAILED: 500,
  TENSOR_INVALID: 400,
  INFERENCE_FAILED: 500,
  // model repository (served models and their versions)
  MODEL_NOT_READY: 503,
  // traffic (src/traffic: routes, variants, shadows)
  /** A traffic route that does not validate (weights, versions, rates); the message says which part. */
  TRAFFIC_ROUTE_INVALID: 400,
  /** No traffic route for the model, or no previous route to roll back to. */
  TRAFFIC_ROUTE_NOT_FOUND: 404,
  /** x-tiffin-variant named a version that is not a variant of the model's route. */
  TRAFFIC_VARIANT_UNKNOWN: 400,
  /** The route state could not be read or written (routes.json). */
  TRAFFIC_STATE_FAILED: 500,
  // who may call what (src/auth)
  /** No token, or one the server does not know; the answer carries WWW-Authenticate: Bearer. */
  UNAUTHENTICATED: 401,
  /** A known token without the scope the call needs, or a Host the server does not answer to. */
  FORBIDDEN: 403,
  // requests and services
  BAD_REQUEST: 400,
  VALIDATION_FAILED: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  BODY_TOO_LARGE: 413,
  /** A request over one of the limits in src/limits (inputs, tensor elements, JSON depth ...); names its key. */
  LIMIT_EXCEEDED: 413,
  /** The request's headers are larger than server.maxHeaderSize. */
  HEADERS_TOO_LARGE: 431,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TIMEOUT: 504,
  /** The caller gave up (its AbortSignal fired); nginx's 499, rarely sent since the client is gone. */
  ABORTED: 499,
  OVERLOADED: 503,
  /** More requests of one API in progress than its maxConcurrency allows; the answer carries Retry-After. */
  TOO_MANY_REQUESTS: 429,
  NOT_READY: 503,
  SHUTTING_DOWN: 503,
  RUNNER_FAILED: 500,
  /** Every endpoint of a remote runner (`tiffin serve --role api`) failed or is down; the message names the runner and its endpoints. */
  RUNNER_UNAVAILABLE: 503,
  HANDLER_FAILED: 500,
  CONFIG_INVALID: 400,
  SERVICE_INVALID: 422,
  INTERNAL: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface TiffinErrorOptions {
  /** Machine-readable details, for example the path of each invalid field. Sent to clients. */
  details?: unknown;
  cause?: unknown;
  /** Overrides the code's default HTTP status (rarely needed). */
  status?: number;
  /** Seconds a client should wait before retrying (sent as Retry-After). */
  retryAfter?: number;
}

/** Marks TiffinErrors from every copy of this module (see Symbol.hasInstance below). */
const TIFFIN_ERROR: unique symbol = Symbol.for('tiffin.error');

export class TiffinError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly retryAfter: number | undefined;

  /**
   * `instanceof TiffinError` holds for errors made by any copy of this module. A user's service or custom model
   * outside a "type": "module" package is compiled as CommonJS and loads its own copy of Tiffin's modules.
   */
  static override [Symbol.hasInstance](value: unknown): value is TiffinError {
    return typeof value === 'object' && value !== null && (value as { [TIFFIN_ERROR]?: unknown })[TIFFIN_ERROR] === true;
  }

  constructor(code: ErrorCode, message: string, options: TiffinErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    Object.defineProperty(this, TIFFIN_ERROR, { value: true });
    this.name = 'TiffinError';
    this.code = code;
    this.status = options.status ?? ERROR_CODES[code];
    this.details = options.details;
    this.retryAfter = options.retryAfter;
  }

  toJSON(): { code: ErrorCode; message: string; details?: unknown } {
    return this.details === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, details: this.details };
  }
}

export function isTiffinError(err: unknown, code?: ErrorCode): err is TiffinError {
  return err instanceof TiffinError && (code === undefined || err.code === code);
}

/** A short message for any thrown value, for wrapping foreign errors. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
