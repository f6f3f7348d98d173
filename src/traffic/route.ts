// A traffic route: which versions (variants) of a model take its unpinned traffic and in what proportion,
// the header whose value keeps a caller on one variant (sticky A/B), and an optional shadow variant that gets
// a sampled copy of the requests. One zod schema serves tiffin.yaml's `traffic.routes` and the management API.
import { z } from 'zod';
import { TiffinError } from '../errors/index.ts';
import { isValidName } from '../store/tag.ts';

export interface Variant {
  version: string;
  /** Relative weight (percentages by convention); 0 keeps the variant routable only by override. */
  weight: number;
}

export interface ShadowSpec {
  version: string;
  /** Share of requests copied to the shadow, 0 to 1. */
  rate: number;
}

export interface TrafficRoute {
  /** In the order given; at least one with a weight above 0. */
  variants: Variant[];
  /** Lower-case header name whose value picks a variant by rendezvous hashing; absent: weighted random. */
  sticky?: string;
  shadow?: ShadowSpec;
  /** 'bandit': Thompson sampling over the variants by posted rewards (weights above 0 mark the arms). Default 'weighted'. */
  strategy?: 'weighted' | 'bandit';
}

const weight = z.number({ error: 'expected a weight: a number of 0 or more' }).min(0, { error: 'expected a weight of 0 or more' }).finite();

/** `{ variants: { "1": 90, "2": 10 }, sticky: x-user-id, shadow: { version: "3", rate: 0.1 } }` */
export const routeSpecSchema = z.strictObject({
  variants: z.record(z.string().min(1), weight, { error: 'expected variants as version: weight, such as {"1": 90, "2": 10}' }),
  sticky: z.string().min(1).nullable().optional(),
  shadow: z
    .strictObject({
      version: z.string().min(1),
      rate: z.number({ error: 'expected a rate from 0 to 1' }).min(0).max(1).optional(),
    })
    .nullable()
    .optional(),
  strategy: z.enum(['weighted', 'bandit'], { error: 'expected weighted or bandit' }).nullable().optional(),
});

export type RouteSpec = z.input<typeof routeSpecSchema>;

/** The route's wire and file shape (variants as a version → weight object, in order). */
export interface RouteJson {
  variants: Record<string, number>;
  sticky?: string;
  shadow?: ShadowSpec;
  strategy?: 'bandit';
}

function invalid(model: string, message: string): TiffinError {
  return new TiffinError('TRAFFIC_ROUTE_INVALID', `traffic route of ${model}: ${message}`, { details: { model } });
}

/** Validates a spec (from YAML, JSON or the CLI) into a route. Throws TRAFFIC_ROUTE_INVALID. */
export function parseRoute(model: string, spec: unknown): TrafficRoute {
  const parsed = routeSpecSchema.safeParse(spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw invalid(model, `${issue.path.join('.') || 'route'}: ${issue.message}`);
  }
  const { variants, sticky, shadow, strategy } = parsed.data;
  const list = Object.entries(variants).map(([version, w]) => ({ version, weight: w }));
  if (list.length === 0) throw invalid(model, 'needs at least one variant');
  for (const v of list) if (!isValidName(v.version)) throw invalid(model, `invalid version ${JSON.stringify(v.version)}`);
  if (!list.some((v) => v.weight > 0)) throw invalid(model, 'at least one variant needs a weight above 0');
  const route: TrafficRoute = { variants: list };
  if (sticky) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/i.test(sticky)) throw invalid(model, `sticky: ${JSON.stringify(sticky)} is not a header name`);
    route.sticky = sticky.toLowerCase();
  }
  if (strategy === 'bandit') route.strategy = 'bandit';
  if (shadow) {
    if (!isValidName(shadow.version)) throw invalid(model, `invalid shadow version ${JSON.stringify(shadow.version)}`);
    route.shadow = { version: shadow.version, rate: shadow.rate ?? 1 };
  }
  return route;
}

export function routeToJson(route: TrafficRoute): RouteJson {
  const json: RouteJson = { variants: Object.fromEntries(route.variants.map((v) => [v.version, v.weight])) };
  if (route.sticky) json.sticky = route.sticky;
  if (route.shadow) json.shadow = { ...route.shadow };
  if (route.strategy === 'bandit') json.strategy = 'bandit';
  return json;
}

/** Every version a route needs loaded: its variants and its shadow. */
export function routeVersions(route: TrafficRoute): string[] {
  const versions = route.variants.map((v) => v.version);
  if (route.shadow && !versions.includes(route.shadow.version)) versions.push(route.shadow.version);
  return versions;
}
