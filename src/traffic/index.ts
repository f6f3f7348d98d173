// Owns: traffic management between the versions of a served model: routes (weighted split, sticky A/B by rendezvous
// hashing of a header, the x-tiffin-variant override), shadow copies and their agreement, route history, rollback and
// the routes.json state file. Knows nothing about: HTTP, protocol formats or the CLI (protocols/ and cli/ call it).
export { ShadowTicket, TrafficManager, type TrafficManagerOptions, type TrafficRepository, type TrafficView } from './manager.ts';
export { CompiledRoute, VARIANT_HEADER, type Routing, type VariantPick } from './router.ts';
export { parseRoute, routeSpecSchema, routeToJson, routeVersions, type RouteJson, type RouteSpec, type ShadowSpec, type TrafficRoute, type Variant } from './route.ts';
export { ShadowStats, type ShadowStatsJson } from './shadow.ts';
export { OutcomeWindow, parseRollout, rolloutSpecSchema, verdict, type RolloutSettings, type RolloutSpec, type RolloutState, type RolloutView, type WindowStats } from './rollout.ts';
export { hash32, rendezvous } from './hash.ts';
export { readState, writeState, type ModelTrafficState, type TrafficAction, type TrafficChange, type TrafficStateFile } from './state-file.ts';
