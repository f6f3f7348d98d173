// Which stored versions of a model are served: the newest N, all of them, or a fixed list.
import { TiffinError } from '../errors/index.ts';

export type VersionPolicy = { latest: number } | 'all' | { specific: string[] };

export const DEFAULT_VERSION_POLICY: VersionPolicy = { latest: 1 };

/** The versions a policy asks for, given the stored versions newest first; kept newest first. */
export function selectVersions(policy: VersionPolicy, storedNewestFirst: readonly string[]): string[] {
  if (policy === 'all') return [...storedNewestFirst];
  if ('latest' in policy) return storedNewestFirst.slice(0, policy.latest);
  const wanted = new Set(policy.specific);
  return storedNewestFirst.filter((v) => wanted.has(v));
}

/** Throws CONFIG_INVALID unless the policy is well formed (latest >= 1, a non-empty specific list). */
export function assertVersionPolicy(policy: VersionPolicy, model: string): void {
  if (policy === 'all') return;
  if ('latest' in policy) {
    if (!Number.isSafeInteger(policy.latest) || policy.latest < 1) {
      throw new TiffinError('CONFIG_INVALID', `${model}: versions.latest must be an integer >= 1, got ${String(policy.latest)}`);
    }
    return;
  }
  if (!Array.isArray(policy.specific) || policy.specific.length === 0 || policy.specific.some((v) => typeof v !== 'string' || v === '')) {
    throw new TiffinError('CONFIG_INVALID', `${model}: versions.specific must be a non-empty list of version names`);
  }
}

/** `latest`, `latest:3`, `all`, or `specific:1,2` (the CLI's and environment's short form). */
export function parseVersionPolicy(text: string): VersionPolicy {
  const [kind, arg] = text.split(':', 2) as [string, string | undefined];
  if (kind === 'all' && arg === undefined) return 'all';
  if (kind === 'latest') {
    const n = arg === undefined ? 1 : Number(arg);
    if (!Number.isSafeInteger(n) || n < 1) throw new TiffinError('CONFIG_INVALID', `latest:N needs an integer N >= 1, got "${text}"`);
    return { latest: n };
  }
  if (kind === 'specific' && arg) return { specific: arg.split(',').map((v) => v.trim()).filter(Boolean) };
  throw new TiffinError('CONFIG_INVALID', `unknown version policy "${text}"; use latest, latest:N, all or specific:v1,v2`);
}

export function describeVersionPolicy(policy: VersionPolicy): string {
  if (policy === 'all') return 'all';
  return 'latest' in policy ? `latest:${policy.latest}` : `specific:${policy.specific.join(',')}`;
}
