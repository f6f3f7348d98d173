// The one error type the client throws: the server's { code, message, details, requestId } when there was
// a response, or a client-side code (NETWORK_ERROR, TIMEOUT, ABORTED, BAD_RESPONSE) when there was none.

export class ClientError extends Error {
  /** HTTP status; 0 when no response arrived. */
  readonly status: number;
  /** The server's stable error code (VALIDATION_FAILED, NOT_READY, ...) or a client-side one. */
  readonly code: string;
  readonly requestId: string | undefined;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, options: { requestId?: string; details?: unknown; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ClientError';
    this.status = status;
    this.code = code;
    this.requestId = options.requestId;
    this.details = options.details;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A ClientError from an error response, whatever its body (a proxy may answer with HTML). */
export async function errorFromResponse(res: Response): Promise<ClientError> {
  const text = await res.text().catch(() => '');
  const requestId = res.headers.get('x-request-id') ?? undefined;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body.code === 'string' && typeof body.message === 'string') {
      return new ClientError(res.status, body.code, body.message, {
        requestId: typeof body.requestId === 'string' ? body.requestId : requestId,
        details: body.details,
      });
    }
  } catch {
    // not JSON: fall through
  }
  const snippet = text.replace(/\s+/g, ' ').trim().slice(0, 200);
  return new ClientError(res.status, `HTTP_${res.status}`, `HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ''}`, { requestId });
}
