// Bandits over a route's variants: each variant's reward rate has a Beta(1 + rewards, 1 + misses) posterior.
// Thompson sampling sends a request to the variant whose sampled rate is highest; epsilon-greedy to the variant with
// the best posterior mean, or with probability epsilon to a variant drawn uniformly. Rewards (0 to 1) arrive later by request
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

/** The posteriors as routes.json keeps them: per arm its pulls and the summed rewards and misses. */
export interface BanditStateJson {
  arms: Record<string, { pulls: number; rewards: number; misses: number }>;
}

function count(x: unknown): number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0;
}

export class Bandit {
  private readonly reward = new Map<string, number>();
  private readonly miss = new Map<string, number>();
  private readonly pulls = new Map<string, number>();
  /** request id → version, oldest first (a Map keeps insertion order). */
  private readonly served = new Map<string, string>();

  /** Posteriors saved by toJSON() (the request ids awaiting feedback are not kept: a restart forgets them). */
  static fromJSON(json: BanditStateJson | undefined): Bandit {
    const bandit = new Bandit();
    for (const [version, arm] of Object.entries(json?.arms ?? {})) {
      bandit.pulls.set(version, count(arm?.pulls));
      bandit.reward.set(version, count(arm?.rewards));
      bandit.miss.set(version, count(arm?.misses));
    }
    return bandit;
  }

  toJSON(): BanditStateJson {
    const arms: BanditStateJson['arms'] = {};
    for (const v of new Set([...this.pulls.keys(), ...this.reward.keys()])) {
      arms[v] = { pulls: this.pulls.get(v) ?? 0, rewards: this.reward.get(v) ?? 0, misses: this.miss.get(v) ?? 0 };
    }
    return { arms };
  }

  /** Epsilon-greedy: with probability `epsilon` a uniformly drawn arm, else the best posterior mean (ties drawn). */
  chooseGreedy(versions: readonly string[], epsilon: number, random: () => number = Math.random): string {
    if (random() < epsilon) return versions[Math.min(versions.length - 1, Math.floor(random() * versions.length))]!;
    let best = versions[0]!;
    let bestMean = -1;
    let ties = 0;
    for (const v of versions) {
      const r = this.reward.get(v) ?? 0;
      const mean = (1 + r) / (2 + r + (this.miss.get(v) ?? 0));
      if (mean > bestMean) {
        bestMean = mean;
        best = v;
        ties = 1;
      } else if (mean === bestMean && random() < 1 / ++ties) best = v; // reservoir: each tied arm equally likely
    }
    return best;
  }

  /** Thompson sampling: the variant with the highest sampled rate among `versions`. */
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
