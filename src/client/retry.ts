// When a failed call may be tried again, and how long to wait. Safe to retry always: the connection was
// refused (nothing was sent) or the server answered 503/429 (it did not run the request). Only for calls
// marked idempotent: 502/504 and connections that broke mid-request, which may have run.

const REFUSED = new Set(['ECONNREFUSED', 'EAI_AGAIN']);
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);

/** The system error code under a fetch failure (undici wraps it in `cause`). */
export function networkCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (REFUSED.has(code) || BROKEN.has(code))) return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function retryableNetworkError(err: unknown, idempotent: boolean): boolean {
  const code = networkCode(err);
  return code !== undefined && (REFUSED.has(code) || (idempotent && BROKEN.has(code)));
}

export function retryableStatus(status: number, idempotent: boolean): boolean {
  return status === 503 || status === 429 || (idempotent && (status === 502 || status === 504));
}

/** Milliseconds from a Retry-After header (seconds or an HTTP date); undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** Exponential backoff with jitter: base * 2^attempt, capped, times a random factor in [0.5, 1]. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** attempt) * (0.5 + Math.random() * 0.5);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
