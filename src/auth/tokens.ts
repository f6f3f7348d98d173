// Bearer tokens and their scopes. A request's token is hashed and compared with every configured token's hash
// with timingSafeEqual, always all of them, so neither the answer time nor an early exit tells a caller how
// much of a guess was right. Tokens live only in memory; errors and logs name a token by its `name`.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** inference: APIs and protocol inference/metadata; management: the repository (load, unload, index);
 * metrics: /metrics, when protected. */
export const SCOPES = ['inference', 'management', 'metrics'] as const;
export type Scope = (typeof SCOPES)[number];

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

export interface TokenEntry {
  /** What logs and errors call it (never the token itself). */
  name: string;
  token: string;
  scopes: readonly Scope[];
}

/** ok: go on (holder is the token's name, or undefined when the scope is open); otherwise why not. */
export type AuthDecision = { ok: true; holder: string | undefined } | { ok: false; reason: 'missing' | 'unknown' | 'forbidden'; holder?: string };

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

export class TokenSet {
  private readonly entries: { name: string; hash: Buffer; scopes: ReadonlySet<Scope> }[];
  /** Scopes that need a token: every scope some token holds, plus those the server insists on. */
  readonly protectedScopes: ReadonlySet<Scope>;

  constructor(tokens: readonly TokenEntry[], alsoProtect: readonly Scope[] = []) {
    this.entries = tokens.map((t) => ({ name: t.name, hash: digest(t.token), scopes: new Set(t.scopes) }));
    this.protectedScopes = new Set([...tokens.flatMap((t) => t.scopes), ...alsoProtect]);
  }

  get size(): number {
    return this.entries.length;
  }

  /** Whether any token holds `scope`. */
  has(scope: Scope): boolean {
    return this.entries.some((e) => e.scopes.has(scope));
  }

  /** Decides a call that needs `scope`, given its `Authorization` value (`Bearer <token>`). */
  check(scope: Scope, authorization: string | undefined): AuthDecision {
    if (!this.protectedScopes.has(scope)) return { ok: true, holder: undefined };
    const token = bearerToken(authorization);
    if (token === undefined) return { ok: false, reason: 'missing' };
    const hash = digest(token);
    let found: (typeof this.entries)[number] | undefined;
    for (const e of this.entries) if (timingSafeEqual(e.hash, hash) && !found) found = e;
    if (!found) return { ok: false, reason: 'unknown' };
    return found.scopes.has(scope) ? { ok: true, holder: found.name } : { ok: false, reason: 'forbidden', holder: found.name };
  }
}

function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer[ \t]+(\S+)\s*$/i.exec(authorization);
  return m?.[1];
}

/** A new random token: `tfn_` and 32 random bytes in base64url (256 bits). */
export function mintToken(): string {
  return `tfn_${randomBytes(32).toString('base64url')}`;
}
