// Who may call which route, checked first thing in each request (after the request id and telemetry, so
// refusals are counted and logged). A route's scope comes from its pattern: the server's probes are open, the
// caller's `routeScope` names the rest (the protocols' repository routes are management), everything else is
// inference. On loopback the Host header must be a loopback name or an allowed host, so a web page cannot reach a
// local server through DNS rebinding; a management POST without a token must be JSON, which a cross-site form or
// no-cors fetch cannot send.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Scope, TokenSet } from '../auth/index.ts';
import { TiffinError } from '../errors/index.ts';

export type RouteScope = Scope | 'open';

export interface AuthOptions {
  tokens: TokenSet;
  /** Host names besides the loopback ones that a server on loopback answers to. */
  allowedHosts?: readonly string[];
  /** The scope of a route pattern (such as /v2/repository/models/:model/unload); undefined: the default. */
  routeScope?: (route: string) => RouteScope | undefined;
}

const SERVER_OPEN = new Set(['/livez', '/readyz', '/healthz']);
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_NAMES.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host) || host.endsWith('.localhost');
}

/** The name part of a Host header: `example.com:3000` -> example.com, `[::1]:3000` -> [::1]. */
function hostName(header: string): string {
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

function scopeOf(request: FastifyRequest, options: AuthOptions, metricsPath: string): RouteScope {
  const route = request.routeOptions.url;
  if (route === undefined) return 'inference';
  if (SERVER_OPEN.has(route)) return 'open';
  if (route === metricsPath) return 'metrics';
  return options.routeScope?.(route) ?? 'inference';
}

const REASONS = {
  missing: 'this call needs a token: send Authorization: Bearer <token>',
  unknown: 'the token is not one this server knows',
} as const;

export function registerAuth(fastify: FastifyInstance, options: AuthOptions, context: { listenHost: string; metricsPath: string }): void {
  const checkHost = isLoopbackHost(context.listenHost);
  const allowed = new Set((options.allowedHosts ?? []).map((h) => h.toLowerCase()));
  fastify.addHook('onRequest', (request, reply, done) => {
    if (checkHost) {
      const name = hostName(request.headers.host ?? '');
      if (!isLoopbackHost(name) && !allowed.has(name)) {
        done(new TiffinError('FORBIDDEN', `this server listens on loopback and does not answer to Host "${name}"; add it to auth.allowedHosts (TIFFIN_ALLOWED_HOSTS) to allow it`));
        return;
      }
    }
    const scope = scopeOf(request, options, context.metricsPath);
    if (scope === 'open') return done();
    const decision = options.tokens.check(scope, request.headers.authorization);
    if (!decision.ok) {
      if (decision.reason === 'forbidden') {
        done(new TiffinError('FORBIDDEN', `the token "${decision.holder}" lacks the ${scope} scope this call needs`, { details: { scope } }));
      } else {
        reply.header('www-authenticate', `Bearer realm="tiffin", scope="${scope}"${decision.reason === 'unknown' ? ', error="invalid_token"' : ''}`);
        done(new TiffinError('UNAUTHENTICATED', `${REASONS[decision.reason]} (scope ${scope})`, { details: { scope } }));
      }
      return;
    }
    if (scope === 'management' && decision.holder === undefined && request.method === 'POST') {
      const type = request.headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        done(new TiffinError('UNSUPPORTED_MEDIA_TYPE', 'management calls without a token must send content-type: application/json (a guard against cross-site requests)'));
        return;
      }
    }
    done();
  });
}
