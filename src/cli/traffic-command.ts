// `tiffin traffic ...`: show and change a running server's traffic routes through its management API
// (/v2/traffic, docs/traffic.md). Each command takes --url (default http://127.0.0.1:3000) and --token
// (default $TIFFIN_MANAGEMENT_TOKEN).
import { Command } from 'commander';
import { ERROR_CODES, TiffinError, messageOf, type ErrorCode } from '../errors/index.ts';
import type { RouteJson, TrafficView } from '../traffic/index.ts';
import { parseDuration } from '../units/index.ts';
import { action, printJson, table, type JsonFlag } from './output.ts';

interface RemoteFlags extends JsonFlag {
  url: string;
  token?: string;
  reason?: string;
}

const DEFAULT_URL = 'http://127.0.0.1:3000';

async function call(flags: RemoteFlags, method: string, path: string, body?: unknown): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  const token = flags.token ?? process.env.TIFFIN_MANAGEMENT_TOKEN;
  if (token) headers.authorization = `Bearer ${token}`;
  const url = `${flags.url.replace(/\/+$/, '')}/v2/traffic${path}`;
  let res: Response;
  try {
    res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  } catch (err) {
    throw new TiffinError('NOT_READY', `cannot reach ${flags.url}: ${messageOf((err as { cause?: unknown }).cause ?? err)}`);
  }
  const text = await res.text();
  let doc: unknown;
  try {
    doc = text ? JSON.parse(text) : undefined;
  } catch {
    doc = undefined;
  }
  if (!res.ok) {
    const e = (doc ?? {}) as { error?: unknown; code?: unknown };
    const code = typeof e.code === 'string' && e.code in ERROR_CODES ? (e.code as ErrorCode) : res.status === 404 ? 'NOT_FOUND' : 'BAD_REQUEST';
    const message = typeof e.error === 'string' ? e.error : typeof e.error === 'object' && e.error !== null ? messageOf((e.error as { message?: string }).message) : `${res.status} ${text.slice(0, 200)}`;
    throw new TiffinError(code, message, { status: res.status });
  }
  return doc;
}

function routeText(route: RouteJson | null): string {
  if (!route) return '(none: the default version)';
  const parts = [Object.entries(route.variants).map(([v, w]) => `${v}=${w}`).join(' ')];
  const sticky = typeof route.sticky === 'string' ? { header: route.sticky } : route.sticky;
  if (sticky?.field) parts.push(`sticky field ${sticky.field}`);
  if (sticky?.header) parts.push(`sticky ${sticky.header}`);
  if (route.strategy) parts.push(route.strategy === 'epsilon-greedy' ? `epsilon-greedy ${route.epsilon ?? 0.1}` : route.strategy);
  if (route.shadow) parts.push(`shadow ${route.shadow.version}@${route.shadow.rate}`);
  return parts.join(', ');
}

function num(x: number | null, digits = 4): string {
  return x === null ? '-' : x.toFixed(digits);
}

function printView(view: TrafficView, out: (s: string) => void): void {
  out(`${view.model}: ${routeText(view.route)}`);
  const s = view.shadow;
  if (s) {
    out(`  shadow ${s.version}: sent ${s.sent}, dropped ${s.dropped}, failed ${s.failed}, compared ${s.compared}, exact-match ${num(s.exactMatchRate, 3)}, mean |diff| ${num(s.meanAbsDiff)}, max |diff| ${num(s.maxAbsDiff)}`);
  }
  if (view.bandit) out(`  arms: ${view.bandit.map((a) => `${a.version} pulls ${a.pulls}, rewards ${num(a.rewards, 1)}, mean ${num(a.mean, 3)}`).join('; ')}`);
  const r = view.rollout;
  if (r) {
    out(`  rollout ${r.canary} over ${r.baseline}: ${r.state}, step ${r.step + 1}/${r.steps.length} (${r.steps.join(', ')}%), ${r.reason}`);
    out(`    canary ${r.canaryWindow.requests} requests, errors ${num(r.canaryWindow.errorRate, 3)}, p99 ${num(r.canaryWindow.p99Ms, 1)} ms; baseline ${r.baselineWindow.requests} requests, errors ${num(r.baselineWindow.errorRate, 3)}, p99 ${num(r.baselineWindow.p99Ms, 1)} ms`);
  }
  if (view.log.length > 0) {
    out('  changes:');
    out(table(['AT', 'ACTION', 'ROUTE', 'REASON'], view.log.slice(-10).map((c) => [c.at, c.action, routeText(c.route), c.reason])).replace(/^/gm, '    '));
  }
}

function remote(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'the server', DEFAULT_URL)
    .option('--token <token>', 'a management token (default $TIFFIN_MANAGEMENT_TOKEN)')
    .option('--json', 'print the answer as JSON');
}

/** Parses `version=weight` arguments. */
export function parseWeights(args: string[]): Record<string, number> {
  const variants: Record<string, number> = {};
  for (const a of args) {
    const m = /^([^=]+)=(\d+(?:\.\d+)?)$/.exec(a);
    if (!m) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `expected version=weight, such as 1=90, got ${JSON.stringify(a)}`);
    variants[m[1]!] = Number(m[2]);
  }
  return variants;
}

export function trafficCommand(out: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Command {
  const cmd = new Command('traffic').description("show and change a running server's traffic routes: splits, sticky A/B, shadows, promote, rollback");
  const show = (view: TrafficView, flags: RemoteFlags) => (flags.json ? printJson(view) : printView(view, out));

  remote(cmd.command('show [model]').description('the routes (one model: with its shadow agreement and recent changes)')).action(
    action(async (model: string | undefined, flags: RemoteFlags) => {
      if (model) return show((await call(flags, 'GET', `/${encodeURIComponent(model)}`)) as TrafficView, flags);
      const { routes } = (await call(flags, 'GET', '')) as { routes: TrafficView[] };
      if (flags.json) return printJson({ routes });
      if (routes.length === 0) return out('no traffic routes: every model answers from its default version');
      out(table(['MODEL', 'ROUTE'], routes.map((r) => [r.model, routeText(r.route)])));
    }),
  );
  remote(
    cmd
      .command('set <model> <weights...>')
      .description('route a model: version=weight ... (such as 1=90 2=10)')
      .option('--sticky <header>', 'keep each value of this request header on one variant (such as x-user-id)')
      .option('--sticky-field <path>', "keep each value of this field of a service API's input on one variant (such as userId), for ctx.models calls")
      .option('--no-sticky', 'drop the sticky key')
      .option('--strategy <name>', 'weighted (default), bandit (Thompson sampling) or epsilon-greedy')
      .option('--epsilon <rate>', 'exploration rate of epsilon-greedy, 0 to 1 (default 0.1)')
      .option('--reason <text>', 'why, for the change log'),
  ).action(
    action(async (model: string, weights: string[], flags: RemoteFlags & { sticky?: string | boolean; stickyField?: string; strategy?: string; epsilon?: string }) => {
      const body: Record<string, unknown> = { variants: parseWeights(weights) };
      if (flags.stickyField) body.sticky = { field: flags.stickyField, ...(typeof flags.sticky === 'string' ? { header: flags.sticky } : {}) };
      else if (typeof flags.sticky === 'string') body.sticky = flags.sticky;
      else if (flags.sticky === false) body.sticky = null;
      if (flags.strategy) body.strategy = flags.strategy;
      if (flags.epsilon !== undefined) body.epsilon = Number(flags.epsilon);
      if (flags.reason) body.reason = flags.reason;
      show((await call(flags, 'PUT', `/${encodeURIComponent(model)}`, body)) as TrafficView, flags);
    }),
  );
  remote(
    cmd
      .command('shadow <model> [version]')
      .description('copy a share of the requests to a shadow version (its answers are compared, never returned)')
      .option('--rate <r>', 'share of requests copied, 0 to 1', '1')
      .option('--off', 'remove the shadow')
      .option('--reason <text>', 'why, for the change log'),
  ).action(
    action(async (model: string, version: string | undefined, flags: RemoteFlags & { rate: string; off?: boolean }) => {
      if (!flags.off && !version) throw new TiffinError('BAD_REQUEST', 'name the shadow version, or pass --off');
      const rate = Number(flags.rate);
      if (!(rate >= 0 && rate <= 1)) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `--rate must be from 0 to 1, got ${flags.rate}`);
      const body = flags.off ? { version: null } : { version, rate, ...(flags.reason ? { reason: flags.reason } : {}) };
      show((await call(flags, 'POST', `/${encodeURIComponent(model)}/shadow`, body)) as TrafficView, flags);
    }),
  );
  remote(cmd.command('promote <model> <version>').description('send every request to one version').option('--reason <text>', 'why, for the change log')).action(
    action(async (model: string, version: string, flags: RemoteFlags) => {
      show((await call(flags, 'POST', `/${encodeURIComponent(model)}/promote`, { version, ...(flags.reason ? { reason: flags.reason } : {}) })) as TrafficView, flags);
    }),
  );
  remote(cmd.command('rollback <model>').description('return to the route before the last change').option('--reason <text>', 'why, for the change log')).action(
    action(async (model: string, flags: RemoteFlags) => {
      show((await call(flags, 'POST', `/${encodeURIComponent(model)}/rollback`, flags.reason ? { reason: flags.reason } : {})) as TrafficView, flags);
    }),
  );
  remote(
    cmd
      .command('rollout <model> <canary>')
      .description('move traffic to a canary in steps, rolling back by itself if its error rate or p99 exceeds the baseline\'s')
      .option('--baseline <version>', 'the version to compare with (default: the heaviest variant now)')
      .option('--steps <list>', 'canary percentages', '5,25,50,100')
      .option('--interval <duration>', 'time at each step', '60s')
      .option('--window <duration>', 'sliding window of the comparison', '60s')
      .option('--min-requests <n>', 'requests on each side before comparing', '20')
      .option('--max-error-increase <rate>', 'tolerated canary error rate above the baseline\'s (0 to 1)', '0.05')
      .option('--max-p99-increase <duration>', 'tolerated canary p99 above the baseline\'s', '100ms')
      .option('--reason <text>', 'why, for the change log'),
  ).action(
    action(async (model: string, canary: string, flags: RemoteFlags & Record<string, string | undefined>) => {
      const ms = (text: string, what: string) => {
        const v = parseDuration(text);
        if (v === undefined) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `${what}: expected a duration such as 30s, got ${JSON.stringify(text)}`);
        return v;
      };
      const body: Record<string, unknown> = {
        canary,
        steps: flags.steps!.split(',').map((s) => Number(s.trim())),
        stepIntervalMs: ms(flags.interval!, '--interval'),
        windowMs: ms(flags.window!, '--window'),
        minRequests: Number(flags.minRequests),
        maxErrorRateIncrease: Number(flags.maxErrorIncrease),
        maxP99IncreaseMs: ms(flags.maxP99Increase!, '--max-p99-increase'),
      };
      if (flags.baseline) body.baseline = flags.baseline;
      if (flags.reason) body.reason = flags.reason;
      show((await call(flags, 'POST', `/${encodeURIComponent(model)}/rollout`, body)) as TrafficView, flags);
    }),
  );
  return cmd;
}
