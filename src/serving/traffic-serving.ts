// The TrafficManager serveModels runs: routes from tiffin.yaml's `traffic:` section, state persisted beside the
// store (<store root>/../traffic/routes.json, that is $TIFFIN_HOME/traffic/routes.json by default).
import { dirname, join, resolve } from 'node:path';
import type { ModelRepository } from '../repository/index.ts';
import type { ModelStore } from '../store/index.ts';
import type { Registry } from 'prom-client';
import { TrafficManager, trafficMetrics } from '../traffic/index.ts';
import type { TrafficSection } from '../config/traffic-section.ts';

export interface TrafficServingOptions {
  /** model → route spec, e.g. { iris: { variants: { "1": 90, "2": 10 }, sticky: "x-user-id" } }. */
  routes?: Record<string, unknown>;
  /** Folder of routes.json; false keeps routes in memory only. Default: `traffic/` beside the store's folder. */
  stateDir?: string | false;
  /** Most shadow copies in flight per model (more are dropped). Default 4. */
  shadowMaxInFlight?: number;
}

/** Where routes.json lives by default for a store. */
export function defaultTrafficDir(store: ModelStore): string {
  return join(dirname(resolve(store.root)), 'traffic');
}

export async function trafficManagerFor(
  repository: ModelRepository,
  store: ModelStore,
  options: TrafficServingOptions,
  logger?: { info(o: object, m: string): void; warn(o: object, m: string): void },
  /** The server's metrics registry: routed calls by variant and the shadows' agreement go there (traffic-metrics.ts). */
  registry?: Registry,
): Promise<TrafficManager> {
  const dir = options.stateDir === false ? undefined : (options.stateDir ?? defaultTrafficDir(store));
  const manager = new TrafficManager({
    repository,
    ...(dir ? { statePath: join(dir, 'routes.json') } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
    ...(options.shadowMaxInFlight !== undefined ? { shadowMaxInFlight: options.shadowMaxInFlight } : {}),
    ...(logger ? { logger } : {}),
  });
  if (registry) trafficMetrics(registry, manager);
  await manager.start();
  return manager;
}

/** serveModels' traffic options from tiffin.yaml's `traffic:` section. */
export function trafficServingOptions(section: TrafficSection): TrafficServingOptions {
  const options: TrafficServingOptions = {};
  if (section.routes) options.routes = section.routes;
  if (section.persist === false) options.stateDir = false;
  else if (section.stateDir) options.stateDir = resolve(section.stateDir);
  if (section.shadowMaxInFlight !== undefined) options.shadowMaxInFlight = section.shadowMaxInFlight;
  return options;
}
