// Sampling keyed by request id: a hash of the id decides, so every record of one request (features,
// prediction, a target logged days later, on another process) gets the same verdict with no state kept.

/** 32-bit FNV-1a followed by murmur3's finaliser, which spreads ids that differ only in their last digit. */
export function hash32(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** True for about `rate` of all request ids; always the same answer for the same id, rate and seed. */
export function requestSampler(rate: number, seed = 0): (requestId: string) => boolean {
  if (!(rate > 0)) return () => false;
  if (rate >= 1) return () => true;
  const threshold = rate * 2 ** 32;
  return (id) => hash32(id, seed) < threshold;
}
