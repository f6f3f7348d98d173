// A route compiled for the request path: arrays of versions, weights and hash seeds, picked from without
// allocating. The manager swaps a model's compiled route in one assignment, so a request that picked a variant
// keeps it whatever changes while it runs.
import { TiffinError } from '../errors/index.ts';
import { hash32, rendezvous } from './hash.ts';
import type { TrafficRoute } from './route.ts';
import type { Bandit } from './bandit.ts';

/** The request header that pins a variant (and the response header that names the one that served). */
export const VARIANT_HEADER = 'x-tiffin-variant';

/** How a variant was chosen. */
export type Routing = 'weighted' | 'sticky' | 'override' | 'bandit';

export interface VariantPick {
  version: string;
  routing: Routing;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** The value at a dot path of an API input, as a sticky key: strings, finite numbers and bigints; else undefined. */
function fieldValue(input: unknown, path: readonly string[]): string | undefined {
  let v = input;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  if (typeof v === 'string') return v === '' ? undefined : v;
  if ((typeof v === 'number' && Number.isFinite(v)) || typeof v === 'bigint') return String(v);
  return undefined;
}

export class CompiledRoute {
  readonly versions: string[];
  private readonly weights: number[];
  private readonly cumulative: number[];
  private readonly total: number;
  private readonly seeds: number[];
  private readonly picks: Record<Routing, VariantPick>[];
  /** The bandit's arms: the variants with weight above 0. */
  private readonly arms: string[];
  private readonly fieldPath: string[] | undefined;

  constructor(
    readonly model: string,
    readonly route: TrafficRoute,
    /** Set for a route whose strategy is 'bandit'. */
    readonly bandit?: Bandit,
  ) {
    this.versions = route.variants.map((v) => v.version);
    this.weights = route.variants.map((v) => v.weight);
    let sum = 0;
    this.cumulative = this.weights.map((w) => (sum += w));
    this.total = sum;
    this.seeds = this.versions.map((v) => hash32(v));
    // Answers are shared, immutable objects: picking allocates nothing.
    this.picks = this.versions.map((version) => ({
      weighted: Object.freeze({ version, routing: 'weighted' as const }),
      sticky: Object.freeze({ version, routing: 'sticky' as const }),
      override: Object.freeze({ version, routing: 'override' as const }),
      bandit: Object.freeze({ version, routing: 'bandit' as const }),
    }));
    this.arms = route.variants.filter((v) => v.weight > 0).map((v) => v.version);
    this.fieldPath = route.stickyField?.split('.');
  }

  /** Weighted split by `random` in [0, 1). */
  weighted(random: number): VariantPick {
    const x = random * this.total;
    for (let i = 0; i < this.cumulative.length; i++) if (x < this.cumulative[i]! && this.weights[i]! > 0) return this.picks[i]!.weighted;
    // random so close to 1 that rounding went past the end: the last variant with weight.
    for (let i = this.weights.length - 1; i >= 0; i--) if (this.weights[i]! > 0) return this.picks[i]!.weighted;
    throw new TiffinError('TRAFFIC_ROUTE_INVALID', `traffic route of ${this.model} has no variant with weight`);
  }

  /** The variant a sticky key goes to (rendezvous hashing). */
  stickyFor(key: string): VariantPick {
    const i = rendezvous(key, this.seeds, this.weights);
    return i < 0 ? this.weighted(0) : this.picks[i]!.sticky;
  }

  /**
   * Picks for a request: x-tiffin-variant (any variant or the shadow, weight 0 included), else the bandit, else the
   * sticky key (the API input's field, when the route names one and `input` has it, then the sticky header), else
   * weighted random. Throws TRAFFIC_VARIANT_UNKNOWN for an override that is no variant.
   */
  pick(headers: Headers, random: () => number = Math.random, input?: unknown): VariantPick {
    const override = header(headers, VARIANT_HEADER);
    if (override !== undefined && override !== '') {
      const i = this.versions.indexOf(override);
      if (i >= 0) return this.picks[i]!.override;
      if (this.route.shadow?.version === override) return { version: override, routing: 'override' };
      throw new TiffinError('TRAFFIC_VARIANT_UNKNOWN', `${VARIANT_HEADER}: ${JSON.stringify(override)} is not a variant of ${this.model}'s route (variants: ${this.versions.join(', ')})`, {
        details: { model: this.model, variant: override, variants: this.versions },
      });
    }
    if (this.bandit) {
      const arm = this.route.strategy === 'epsilon-greedy' ? this.bandit.chooseGreedy(this.arms, this.route.epsilon ?? 0.1, random) : this.bandit.choose(this.arms, random);
      return this.picks[this.versions.indexOf(arm)]!.bandit;
    }
    if (this.fieldPath !== undefined && input !== undefined) {
      const key = fieldValue(input, this.fieldPath);
      if (key !== undefined) return this.stickyFor(key);
    }
    if (this.route.sticky !== undefined) {
      const key = header(headers, this.route.sticky);
      if (key !== undefined && key !== '') return this.stickyFor(key);
    }
    return this.weighted(random());
  }
}
