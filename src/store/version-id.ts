// Owns: generated version names: ULID-like ids (48-bit ms timestamp + 80 random bits, lowercase Crockford
// base32, 26 chars) that sort by creation time as plain strings and never repeat inside one process.
import { randomBytes } from 'node:crypto';

/** Lowercase Crockford base32: ascending in ASCII, so ids compare correctly as strings. */
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
const TIME_CHARS = 10;
const RANDOM_CHARS = 16;
const RANDOM_BITS = 80n;
const RANDOM_MAX = (1n << RANDOM_BITS) - 1n;
const TIME_MAX = 2 ** 48 - 1;

let lastTime = -1;
let lastRandom = 0n;

function encode(value: bigint, chars: number): string {
  let out = '';
  let v = value;
  for (let i = 0; i < chars; i++) {
    out = ALPHABET[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}

function randomPart(): bigint {
  return BigInt(`0x${randomBytes(10).toString('hex')}`);
}

/**
 * A new version id, for example `01jd3k5q9x7m2c4v8b6n0p1r3t`. Within one process ids strictly increase even when
 * many are made in the same millisecond (or the clock steps back); across processes the random part keeps them unique.
 */
export function newVersionId(now: number = Date.now()): string {
  let time = Math.min(Math.max(0, Math.floor(now)), TIME_MAX);
  let random: bigint;
  if (time <= lastTime) {
    time = lastTime;
    random = lastRandom + 1n;
    if (random > RANDOM_MAX) {
      time += 1;
      random = randomPart();
    }
  } else {
    random = randomPart();
  }
  lastTime = time;
  lastRandom = random;
  return encode(BigInt(time), TIME_CHARS) + encode(random, RANDOM_CHARS);
}

/** The creation time encoded in a generated id, or undefined when `id` is not one. */
export function versionIdTime(id: string): Date | undefined {
  if (id.length !== TIME_CHARS + RANDOM_CHARS) return undefined;
  let time = 0;
  for (const ch of id.slice(0, TIME_CHARS)) {
    const digit = ALPHABET.indexOf(ch);
    if (digit < 0) return undefined;
    time = time * 32 + digit;
  }
  for (const ch of id.slice(TIME_CHARS)) if (!ALPHABET.includes(ch)) return undefined;
  return time > TIME_MAX ? undefined : new Date(time);
}
