// Media type strings: parsing Content-Type and matching against the patterns an input accepts.

export interface ParsedMediaType {
  mediaType: string | undefined;
  params: Record<string, string>;
}

/** Splits `text/plain; charset=UTF-8` into `text/plain` and `{ charset: 'UTF-8' }`. */
export function parseContentType(header: string | undefined): ParsedMediaType {
  if (header === undefined || header.trim() === '') return { mediaType: undefined, params: {} };
  const [type = '', ...rest] = header.split(';');
  const params: Record<string, string> = {};
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const value = p.slice(eq + 1).trim();
    params[p.slice(0, eq).trim().toLowerCase()] = value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return { mediaType: type.trim().toLowerCase(), params };
}

/** True when `mediaType` fits `pattern` (`*\/*`, `image/*`, or an exact type; `+json` suffixes fit application/json). */
export function mediaTypeMatches(pattern: string, mediaType: string): boolean {
  if (pattern === '*/*' || pattern === mediaType) return true;
  if (pattern.endsWith('/*')) return mediaType.startsWith(pattern.slice(0, -1));
  if (pattern === 'application/json') return /^application\/[\w.+-]+\+json$/.test(mediaType);
  return false;
}

export function acceptsMediaType(accepts: readonly string[], mediaType: string): boolean {
  return accepts.some((p) => mediaTypeMatches(p, mediaType));
}

/** True when an Accept header names `mediaType` explicitly (not only through wildcards) with q > 0. */
export function acceptNames(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return false;
  return accept.split(',').some((entry) => {
    const { mediaType: type, params } = parseContentType(entry);
    return type === mediaType && (params.q === undefined || Number(params.q) > 0);
  });
}
