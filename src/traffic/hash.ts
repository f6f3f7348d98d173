// Weighted rendezvous (highest random weight) hashing: a key goes to the variant with the best score
// -ln(u(key, variant)) / weight, where u is a uniform hash in (0, 1). Each variant wins a share of keys equal to its
// share of the weights, and a weight change moves only the keys it must: from 90/10 to 80/20 about 11% of
// keys move, all from the shrinking variant to the growing one.

/** FNV-1a over UTF-16 code units, then murmur3's finaliser for avalanche. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
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

/** The index of the variant `key` goes to, or -1 when no weight is above 0. `seeds[i]` is hash32 of variant i's name. */
export function rendezvous(key: string, seeds: readonly number[], weights: readonly number[]): number {
  let best = -1;
  let bestScore = Infinity;
  for (let i = 0; i < seeds.length; i++) {
    const w = weights[i]!;
    if (!(w > 0)) continue;
    const u = (hash32(key, seeds[i]!) + 0.5) / 4294967296;
    const score = -Math.log(u) / w;
    if (score < bestScore) {
      bestScore = score;
      best = i;
    }
  }
  return best;
}
