// JSON with the non-finite number tokens NaN, Infinity and -Infinity, which TF Serving's REST API allows
// (and Python's json module writes). They are turned into the strings the tensor codecs accept.
import { TiffinError } from '../errors/index.ts';
import { checkJsonDepth } from '../limits/index.ts';

/** Rewrites bare NaN/Infinity/-Infinity tokens outside strings as quoted strings; other text is untouched. */
function quoteNonFinite(text: string): string {
  let out = '';
  let last = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      continue;
    }
    for (const token of ['-Infinity', 'Infinity', 'NaN']) {
      if (text.startsWith(token, i)) {
        out += `${text.slice(last, i)}"${token}"`;
        i += token.length - 1;
        last = i + 1;
        break;
      }
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

/** JSON.parse, retried with NaN/Infinity tokens quoted when the plain parse fails. Throws the plain parse's error. */
export function parseLenientJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!/NaN|Infinity/.test(text)) throw err;
    try {
      return JSON.parse(quoteNonFinite(text));
    } catch {
      throw err;
    }
  }
}

/** A raw JSON body (NaN and Infinity allowed), refused before parsing when nested deeper than `maxDepth`; BAD_REQUEST
 * when it is not JSON. Takes a Uint8Array as an offload worker receives it. */
export function parseJsonBody(bytes: Uint8Array, maxDepth: number): unknown {
  checkJsonDepth(bytes, maxDepth);
  try {
    return parseLenientJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    throw new TiffinError('BAD_REQUEST', `the body is not valid JSON: ${(err as Error).message}`);
  }
}
