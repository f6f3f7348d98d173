// The `auth:` section of tiffin.yaml (and TIFFIN_*_TOKEN, TIFFIN_TOKENS_FILE), resolved into a TokenSet. Token
// files hold one token (a Kubernetes secret mounted as a file) or, for tokensFile, a YAML list like `tokens:`.
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { TiffinError, messageOf } from '../errors/index.ts';
import { booleanText } from '../units/index.ts';
import { SCOPES, TokenSet, type Scope, type TokenEntry } from './tokens.ts';

const MIN_TOKEN_LENGTH = 16;
const tokenText = z.string({ error: 'expected a token (text)' }).min(MIN_TOKEN_LENGTH, { error: `expected a token of at least ${MIN_TOKEN_LENGTH} characters (tiffin tokens create makes one)` });
const scopes = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v),
  z.array(z.enum(SCOPES, { error: `expected scopes among ${SCOPES.join(', ')}` })).min(1, { error: 'expected at least one scope' }),
);
const flag = z.preprocess(booleanText, z.boolean({ error: 'expected true or false' }));

const tokenEntry = z
  .strictObject({
    name: z.string().min(1).optional(),
    token: tokenText.optional(),
    tokenFile: z.string().min(1).optional(),
    scopes,
  })
  .refine((t) => (t.token === undefined) !== (t.tokenFile === undefined), { error: 'give either token or tokenFile' });

export const authSectionSchema = z.strictObject({
  tokens: z.array(tokenEntry).optional(),
  /** A YAML file holding a list of token entries (as under `tokens`). */
  tokensFile: z.string().min(1).optional(),
  /** One token per scope, the short form (TIFFIN_INFERENCE_TOKEN, TIFFIN_MANAGEMENT_TOKEN, TIFFIN_METRICS_TOKEN). */
  inferenceToken: tokenText.optional(),
  managementToken: tokenText.optional(),
  metricsToken: tokenText.optional(),
  /** /metrics needs a token with the metrics scope (default: open, as Prometheus scrapers expect). */
  protectMetrics: flag.optional(),
  /** Host names (besides loopback names) a server on loopback answers to; guards against DNS rebinding. */
  allowedHosts: z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string().min(1))).optional(),
});

export type AuthSection = z.output<typeof authSectionSchema>;

export interface AuthConfig {
  tokens: TokenSet;
  /** Extra Host names accepted on loopback. */
  allowedHosts: string[];
}

function readToken(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new TiffinError('CONFIG_INVALID', `cannot read ${what} ${file}: ${messageOf(err)}`, { cause: err });
  }
  if (text.length < MIN_TOKEN_LENGTH) throw new TiffinError('CONFIG_INVALID', `${what} ${file} holds no token of at least ${MIN_TOKEN_LENGTH} characters`);
  return text;
}

function entriesOf(list: z.output<typeof tokenEntry>[], source: string): TokenEntry[] {
  return list.map((t, i) => ({
    name: t.name ?? `${source}[${i}]`,
    token: t.token ?? readToken(t.tokenFile!, `the token file of ${t.name ?? `${source}[${i}]`}`),
    scopes: t.scopes,
  }));
}

/** The tokens the section names, read from their files now. `alsoProtect` adds scopes that need a token even
 * when none holds them (a server beyond loopback insists on management). */
export function resolveAuth(section: AuthSection | undefined, alsoProtect: readonly Scope[] = []): AuthConfig {
  const s = section ?? {};
  const tokens = entriesOf(s.tokens ?? [], 'auth.tokens');
  if (s.tokensFile) {
    let parsed: unknown;
    try {
      parsed = YAML.parse(readFileSync(s.tokensFile, 'utf8'));
    } catch (err) {
      throw new TiffinError('CONFIG_INVALID', `cannot read auth.tokensFile ${s.tokensFile}: ${messageOf(err)}`, { cause: err });
    }
    const list = z.array(tokenEntry).safeParse((parsed as { tokens?: unknown } | null)?.tokens ?? parsed);
    if (!list.success) throw new TiffinError('CONFIG_INVALID', `auth.tokensFile ${s.tokensFile}: expected a list of {name, token or tokenFile, scopes}: ${list.error.issues[0]?.message ?? ''}`);
    tokens.push(...entriesOf(list.data, s.tokensFile));
  }
  for (const scope of ['inference', 'management', 'metrics'] as const) {
    const token = s[`${scope}Token`];
    if (token) tokens.push({ name: `${scope} token`, token, scopes: [scope] });
  }
  const protect: Scope[] = [...alsoProtect];
  if (s.protectMetrics) {
    if (!tokens.some((t) => t.scopes.includes('metrics'))) {
      throw new TiffinError('CONFIG_INVALID', 'auth.protectMetrics needs a token with the metrics scope (auth.metricsToken, TIFFIN_METRICS_TOKEN or auth.tokens), or no scraper could read /metrics');
    }
    protect.push('metrics');
  }
  return { tokens: new TokenSet(tokens, protect), allowedHosts: s.allowedHosts ?? [] };
}
