// Weighted rendezvous (highest random weight) hashing: a key goes to the variant with the best score
// -ln(u(key, variant)) / weight, where u is a uniform hash in (0, 1). Each variant wins a share of keys equal to its
// share of the weights, and a weight change moves only the keys it must: from 90/10 to 80/20 about 11% of
// keys move, all from the shrinking variant to the growing one.

// The same 32-bit hash that keys trace and prediction-log sampling by request id.
import { hash32 } from '../telemetry/index.ts';

export { hash32 };

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
