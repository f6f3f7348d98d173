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
  /** A field of a service API's input (a dot path such as `userId` or `user.id`) whose value is the sticky key of the
   * models its handler calls through ctx.models; tried before the header. */
  stickyField?: string;
  shadow?: ShadowSpec;
  /** 'bandit': Thompson sampling over the variants by posted rewards (weights above 0 mark the arms);
   * 'epsilon-greedy': the arm with the best mean reward, a random arm with probability `epsilon`. Default 'weighted'. */
  strategy?: 'weighted' | BanditStrategy;
  /** Exploration rate of an epsilon-greedy route, 0 to 1 (default 0.1). */
  epsilon?: number;
}

export type BanditStrategy = 'bandit' | 'epsilon-greedy';

export function isBanditStrategy(strategy: TrafficRoute['strategy']): strategy is BanditStrategy {
  return strategy === 'bandit' || strategy === 'epsilon-greedy';
}

const weight = z.number({ error: 'expected a weight: a number of 0 or more' }).min(0, { error: 'expected a weight of 0 or more' }).finite();

/** `{ variants: { "1": 90, "2": 10 }, sticky: x-user-id, shadow: { version: "3", rate: 0.1 } }` */
export const routeSpecSchema = z.strictObject({
  variants: z.record(z.string().min(1), weight, { error: 'expected variants as version: weight, such as {"1": 90, "2": 10}' }),
  // A header name, or { header?, field? }: `field` keys ctx.models calls by the API input's value (docs/traffic.md).
  sticky: z
    .union([
      z.string().min(1),
      z.strictObject({ header: z.string().min(1).optional(), field: z.string().min(1).optional() }),
    ], { error: 'expected a header name, or {"header": name} / {"field": path}' })
    .nullable()
    .optional(),
  shadow: z
    .strictObject({
      version: z.string().min(1),
      rate: z.number({ error: 'expected a rate from 0 to 1' }).min(0).max(1).optional(),
    })
    .nullable()
    .optional(),
  strategy: z.enum(['weighted', 'bandit', 'epsilon-greedy'], { error: 'expected weighted, bandit or epsilon-greedy' }).nullable().optional(),
  epsilon: z.number({ error: 'expected epsilon from 0 to 1' }).min(0).max(1).nullable().optional(),
});

export type RouteSpec = z.input<typeof routeSpecSchema>;

/** The route's wire and file shape (variants as a version → weight object, in order). */
export interface RouteJson {
  variants: Record<string, number>;
  /** A header name, or { header?, field? } when the route keys by an API input field. */
  sticky?: string | { header?: string; field?: string };
  shadow?: ShadowSpec;
  strategy?: BanditStrategy;
  epsilon?: number;
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
  const { variants, sticky, shadow, strategy, epsilon } = parsed.data;
  const list = Object.entries(variants).map(([version, w]) => ({ version, weight: w }));
  if (list.length === 0) throw invalid(model, 'needs at least one variant');
  for (const v of list) if (!isValidName(v.version)) throw invalid(model, `invalid version ${JSON.stringify(v.version)}`);
  if (!list.some((v) => v.weight > 0)) throw invalid(model, 'at least one variant needs a weight above 0');
  const route: TrafficRoute = { variants: list };
  const stickyHeader = typeof sticky === 'string' ? sticky : sticky?.header;
  if (stickyHeader) {
    if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/i.test(stickyHeader)) throw invalid(model, `sticky: ${JSON.stringify(stickyHeader)} is not a header name`);
    route.sticky = stickyHeader.toLowerCase();
  }
  const field = typeof sticky === 'object' && sticky !== null ? sticky.field : undefined;
  if (typeof sticky === 'object' && sticky !== null && !stickyHeader && !field) throw invalid(model, 'sticky: name a "header", a "field" or both');
  if (field) {
    if (!/^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/.test(field)) throw invalid(model, `sticky.field: ${JSON.stringify(field)} is not a field path (such as userId or user.id)`);
    route.stickyField = field;
  }
  if (isBanditStrategy(strategy ?? undefined)) route.strategy = strategy as BanditStrategy;
  if (epsilon !== undefined && epsilon !== null) {
    if (route.strategy !== 'epsilon-greedy') throw invalid(model, 'epsilon applies only to strategy "epsilon-greedy"');
    route.epsilon = epsilon;
  }
  if (shadow) {
    if (!isValidName(shadow.version)) throw invalid(model, `invalid shadow version ${JSON.stringify(shadow.version)}`);
    route.shadow = { version: shadow.version, rate: shadow.rate ?? 1 };
  }
  return route;
}

export function routeToJson(route: TrafficRoute): RouteJson {
  const json: RouteJson = { variants: Object.fromEntries(route.variants.map((v) => [v.version, v.weight])) };
  if (route.stickyField) json.sticky = route.sticky ? { header: route.sticky, field: route.stickyField } : { field: route.stickyField };
  else if (route.sticky) json.sticky = route.sticky;
  if (route.shadow) json.shadow = { ...route.shadow };
  if (isBanditStrategy(route.strategy)) json.strategy = route.strategy;
  if (route.epsilon !== undefined) json.epsilon = route.epsilon;
  return json;
}

/** Every version a route needs loaded: its variants and its shadow. */
export function routeVersions(route: TrafficRoute): string[] {
  const versions = route.variants.map((v) => v.version);
  if (route.shadow && !versions.includes(route.shadow.version)) versions.push(route.shadow.version);
  return versions;
}
