// The protocol routes as one fastify plugin: KServe V2 under /v2, TF Serving under /v1, TorchServe's
// /ping and /predictions. Each protocol is its own encapsulated scope (its body parsing, error shape
// and not-found answer), so mounting them leaves the host server's routes and parsers untouched.
import type { FastifyInstance } from 'fastify';
import { DEFAULT_LIMITS, type RequestLimits } from '../limits/index.ts';
import type { ModelRepository } from '../repository/index.ts';
import type { Tracing } from '../telemetry/tracing/tracing.ts';
import type { TrafficManager } from '../traffic/index.ts';
import { feedbackRoutes, trafficRoutes } from './traffic-routes.ts';
import { DEFAULT_BODY_LIMIT } from './http-helpers.ts';
import { kserveV2Routes } from './kserve-v2/rest-routes.ts';
import { defaultServerInfo, type ServerInfo } from './server-info.ts';
import { tfServingRoutes } from './tfserving/routes.ts';
import { torchServeRoutes } from './torchserve/routes.ts';

export type ProtocolName = 'kserve-v2' | 'tfserving' | 'torchserve';

export const PROTOCOL_NAMES: readonly ProtocolName[] = ['kserve-v2', 'tfserving', 'torchserve'];

export interface ProtocolRoutesOptions {
  repository: ModelRepository;
  /** Which protocols to mount; default all. */
  protocols?: readonly ProtocolName[];
  /** Largest request body in bytes (413 beyond); default 64 MiB. */
  bodyLimit?: number;
  /** What one request may hold beyond its size (inputs, elements, JSON depth ...); default DEFAULT_LIMITS. */
  limits?: RequestLimits;
  /** Name and version reported by V2 server metadata; default Tiffin's package. */
  server?: ServerInfo;
  /** The server's tracing: an inference request it traces gets a `tiffin.inference` span, with the runner's queue
   * and batch spans under it. Omitted: no spans (request ids still reach prediction logs). */
  tracing?: Tracing;
  /** Traffic routes for inference that names no version (V2, TF Serving, TorchServe), and their management API under
   * /v2/traffic (management scope). */
  traffic?: TrafficManager;
}

const OPEN_ROUTES = new Set(['/v2/health/live', '/v2/health/ready', '/v2/models/:model/ready', '/v2/models/:model/versions/:version/ready', '/ping']);

/** Who may call a protocol route (by its pattern): probes are open, the V2 repository is management, the rest is
 * inference (undefined). */
export function protocolRouteScope(route: string): 'open' | 'management' | undefined {
  if (OPEN_ROUTES.has(route)) return 'open';
  return route.startsWith('/v2/repository/') || route === '/v2/traffic' || route.startsWith('/v2/traffic/') ? 'management' : undefined;
}

export async function protocolRoutes(app: FastifyInstance, options: ProtocolRoutesOptions): Promise<void> {
  const protocols = new Set(options.protocols ?? PROTOCOL_NAMES);
  const common = {
    repository: options.repository,
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    limits: options.limits ?? DEFAULT_LIMITS,
    ...(options.tracing ? { tracing: options.tracing } : {}),
  };
  if (protocols.has('kserve-v2')) {
    await app.register(kserveV2Routes, { ...common, server: options.server ?? defaultServerInfo(), prefix: '/v2', ...(options.traffic ? { traffic: options.traffic } : {}) });
    if (options.traffic) {
      await app.register(trafficRoutes, { traffic: options.traffic, prefix: '/v2/traffic' });
      await app.register(feedbackRoutes, { traffic: options.traffic, prefix: '/v2/models' });
    }
  }
  const routed = options.traffic ? { ...common, traffic: options.traffic } : common;
  if (protocols.has('tfserving')) await app.register(tfServingRoutes, { ...routed, prefix: '/v1' });
  if (protocols.has('torchserve')) await app.register(torchServeRoutes, routed);
}
