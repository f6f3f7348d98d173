// Thompson sampling over a route's variants: each variant's reward rate has a Beta(1 + rewards, 1 + misses)
// posterior; a request goes to the variant whose sampled rate is highest. Rewards (0 to 1) arrive later by request
// id (POST /v2/models/{m}/feedback), so the variant that served each recent request id is remembered (bounded).

/** Gamma(shape, 1) by Marsaglia and Tsang; shape >= 1 here (Beta parameters start at 1). */
function gamma(shape: number, random: () => number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      // Standard normal by Box-Muller.
      x = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - random();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function sampleBeta(a: number, b: number, random: () => number = Math.random): number {
  const x = gamma(a, random);
  return x / (x + gamma(b, random));
}

export interface ArmStats {
  version: string;
  pulls: number;
  rewards: number;
  /** Posterior mean reward rate. */
  mean: number;
}

const MAX_REMEMBERED = 10_000;

export class Bandit {
  private readonly reward = new Map<string, number>();
  private readonly miss = new Map<string, number>();
  private readonly pulls = new Map<string, number>();
  /** request id → version, oldest first (a Map keeps insertion order). */
  private readonly served = new Map<string, string>();

  /** The variant with the highest sampled rate among `versions`. */
  choose(versions: readonly string[], random: () => number = Math.random): string {
    let best = versions[0]!;
    let bestDraw = -1;
    for (const v of versions) {
      const draw = sampleBeta(1 + (this.reward.get(v) ?? 0), 1 + (this.miss.get(v) ?? 0), random);
      if (draw > bestDraw) {
        bestDraw = draw;
        best = v;
      }
    }
    return best;
  }

  /** Remembers which variant served a request id, for its feedback. */
  remember(requestId: string, version: string): void {
    this.pulls.set(version, (this.pulls.get(version) ?? 0) + 1);
    this.served.set(requestId, version);
    if (this.served.size > MAX_REMEMBERED) this.served.delete(this.served.keys().next().value!);
  }

  /** Credits `reward` (0 to 1) to the variant that served `requestId`; returns it, or undefined when unknown (too old). */
  feedback(requestId: string, reward: number): string | undefined {
    const version = this.served.get(requestId);
    if (version === undefined) return undefined;
    this.served.delete(requestId);
    this.reward.set(version, (this.reward.get(version) ?? 0) + reward);
    this.miss.set(version, (this.miss.get(version) ?? 0) + (1 - reward));
    return version;
  }

  stats(versions: readonly string[]): ArmStats[] {
    return versions.map((version) => {
      const r = this.reward.get(version) ?? 0;
      const m = this.miss.get(version) ?? 0;
      return { version, pulls: this.pulls.get(version) ?? 0, rewards: r, mean: (1 + r) / (2 + r + m) };
    });
  }
}
