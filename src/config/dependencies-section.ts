// The `dependencies:` section of tiffin.yaml: where the services a service depends on answer, when not in this
// process (a deployed Service's DNS name, a remote). Keys are dependency keys; a nested one is a path (ocr.det).
import { z } from 'zod';

const endpoint = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as http://ocr:3000' }),
  /** Sent as a Bearer token (a dependency that protects its inference scope). */
  token: z.string().min(1).optional(),
});

/** `ocr=http://ocr:3000,ocr.det=http://det:3000` (TIFFIN_DEPENDENCIES) reads as the mapping it spells. */
function fromText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const out: Record<string, { url: string }> = {};
  for (const pair of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return value;
    out[pair.slice(0, eq).trim()] = { url: pair.slice(eq + 1).trim() };
  }
  return out;
}

export const dependenciesSectionSchema = z.preprocess(
  fromText,
  z.record(z.string().regex(/^[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*$/, { error: 'expected a dependency key such as ocr or ocr.det' }), endpoint, {
    error: 'expected a mapping of dependency key to { url, token }, or key=url pairs separated by commas',
  }),
);

export type DependenciesSection = z.output<typeof dependenciesSectionSchema>;
