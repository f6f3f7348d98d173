// Traffic routing's Prometheus series, beside the inference metrics (which are labelled by version, the variant):
//   tiffin_traffic_requests_total{model, variant, routing, outcome}   routed calls by how the variant was picked
//   tiffin_traffic_shadow_requests_total{model, shadow, result}        shadow copies sent, dropped, failed, compared
//   tiffin_traffic_shadow_exact_match_ratio{model, shadow}             share of compared answers that matched exactly
//   tiffin_traffic_shadow_abs_diff_mean / _max{model, shadow}          |live - shadow| over every float element
//   tiffin_traffic_shadow_in_flight{model, shadow}                     copies running now
// Shadow numbers live in the manager's ShadowStats and are copied in at scrape time, so a shadow's series go when
// the shadow goes and start afresh when its version changes (as the management API shows them).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RoutedCallSink, TrafficManager } from './manager.ts';
import type { Routing } from './router.ts';
import type { ShadowStatsJson } from './shadow.ts';

type Outcome = 'success' | 'error';

const FAMILIES = [
  'tiffin_traffic_requests_total', 'tiffin_traffic_shadow_requests_total', 'tiffin_traffic_shadow_exact_match_ratio',
  'tiffin_traffic_shadow_abs_diff_mean', 'tiffin_traffic_shadow_abs_diff_max', 'tiffin_traffic_shadow_in_flight',
];

/** model → variant → routing → outcome: the counter's children, each taken once with labels() and kept. */
type Children = Map<string, Map<string, Map<Routing, Record<Outcome, Counter.Internal>>>>;

/** Registers the traffic families in `registry` and starts counting `traffic`'s routed calls. */
export function trafficMetrics(registry: Registry, traffic: TrafficManager): void {
  const registers = [registry];
  // A registry reused by a later server (a Telemetry passed in) answers for the newest manager.
  for (const name of FAMILIES) registry.removeSingleMetric(name);
  const requests = new Counter({
    name: 'tiffin_traffic_requests_total',
    help: 'Calls routed by a traffic route, by variant, how it was picked (weighted, sticky, override, bandit) and outcome (error: the server failed).',
    labelNames: ['model', 'variant', 'routing', 'outcome'],
    registers,
  });
  const children: Children = new Map();
  const sink: RoutedCallSink = {
    routed(model, version, routing, ok) {
      let byVariant = children.get(model);
      if (!byVariant) children.set(model, (byVariant = new Map()));
      let byRouting = byVariant.get(version);
      if (!byRouting) byVariant.set(version, (byRouting = new Map()));
      let pair = byRouting.get(routing);
      if (!pair) {
        pair = { success: requests.labels(model, version, routing, 'success'), error: requests.labels(model, version, routing, 'error') };
        byRouting.set(routing, pair);
      }
      pair[ok ? 'success' : 'error'].inc();
    },
  };
  traffic.observe(sink);

  // Read once per scrape by the first family collected, then copied into each.
  let snapshot: { model: string; stats: ShadowStatsJson }[] = [];
  const shadowRequests = new Counter({
    name: 'tiffin_traffic_shadow_requests_total',
    help: 'Shadow copies by result: sent, dropped (the shadow already had shadowMaxInFlight running), failed, compared.',
    labelNames: ['model', 'shadow', 'result'],
    registers,
    collect() {
      snapshot = traffic.shadowStats();
      this.reset();
      for (const { model, stats } of snapshot) {
        for (const result of ['sent', 'dropped', 'failed', 'compared'] as const) this.inc({ model, shadow: stats.version, result }, stats[result]);
      }
    },
  });
  void shadowRequests;
  const gauge = (name: string, help: string, value: (s: ShadowStatsJson) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['model', 'shadow'],
      registers,
      collect() {
        this.reset();
        for (const { model, stats } of snapshot) {
          const v = value(stats);
          if (v !== null) this.set({ model, shadow: stats.version }, v);
        }
      },
    });
  gauge('tiffin_traffic_shadow_exact_match_ratio', 'Share of compared shadow answers whose integer, bool and string outputs all equal the live ones.', (s) => s.exactMatchRate);
  gauge('tiffin_traffic_shadow_abs_diff_mean', 'Mean |live - shadow| over every float element compared.', (s) => s.meanAbsDiff);
  gauge('tiffin_traffic_shadow_abs_diff_max', 'Largest |live - shadow| over every float element compared.', (s) => s.maxAbsDiff);
  gauge('tiffin_traffic_shadow_in_flight', 'Shadow copies running now.', (s) => s.inFlight);
}
