// Owns: traffic management between the versions of a served model: routes (weighted split, sticky A/B by rendezvous
// hashing of a header or an API input field, the x-tiffin-variant override), bandits, rollout plans, shadow copies and
// their agreement, one routed call's bookkeeping (RoutedCall), the traffic Prometheus series, route history, rollback
// and the routes.json state file. Knows nothing about: HTTP, protocol formats or the CLI (protocols/, serving/ and cli/
// call it).
export { ShadowTicket, TrafficManager, type RoutedCallSink, type TrafficManagerOptions, type TrafficRepository, type TrafficView } from './manager.ts';
export { RoutedCall, copyTensors } from './routed-call.ts';
export { trafficMetrics } from './traffic-metrics.ts';
export { Bandit, type ArmStats, type BanditStateJson } from './bandit.ts';
export { CompiledRoute, VARIANT_HEADER, type Routing, type VariantPick } from './router.ts';
export { isBanditStrategy, parseRoute, routeSpecSchema, routeToJson, routeVersions, type RouteJson, type BanditStrategy, type RouteSpec, type ShadowSpec, type TrafficRoute, type Variant } from './route.ts';
export { ShadowStats, type ShadowStatsJson } from './shadow.ts';
export { OutcomeWindow, parseRollout, rolloutSpecSchema, verdict, type RolloutSettings, type RolloutSpec, type RolloutState, type RolloutView, type WindowStats } from './rollout.ts';
export { hash32, rendezvous } from './hash.ts';
export { readState, writeState, type ModelTrafficState, type SavedRollout, type TrafficAction, type TrafficChange, type TrafficStateFile } from './state-file.ts';
