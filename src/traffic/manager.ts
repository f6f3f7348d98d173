// TrafficManager: the live routes of every model, what changes them (set, promote, rollback, shadow) and their
// history, persisted to routes.json after each change. Requests read a model's CompiledRoute with one Map lookup;
// a change builds a new one and swaps it in, so no request sees half a change.
import { TiffinError, messageOf } from '../errors/index.ts';
import type { RepositoryLogger } from '../repository/index.ts';
import type { Tensor } from '../runtime/tensor.ts';
import { CompiledRoute, type Routing, type VariantPick } from './router.ts';
import { Bandit, type ArmStats } from './bandit.ts';
import { isBanditStrategy, parseRoute, routeToJson, routeVersions, type RouteJson, type TrafficRoute } from './route.ts';
import { ShadowStats, type ShadowStatsJson } from './shadow.ts';
import { OutcomeWindow, parseRollout, verdict, type RolloutSettings, type RolloutState, type RolloutView } from './rollout.ts';
import { readState, writeState, type ModelTrafficState, type SavedRollout, type TrafficAction, type TrafficChange, type TrafficStateFile } from './state-file.ts';

/** The part of ModelRepository traffic needs. */
export interface TrafficRepository {
  has(name: string): boolean;
  pin(name: string, version: string): Promise<void>;
  readyVersions(name: string): string[];
  resolve(name: string): { version: string };
  readonly store: { list(filter: { name: string }): Promise<{ version: string }[]> };
}

export interface TrafficManagerOptions {
  repository: TrafficRepository;
  /** routes.json; undefined keeps routes in memory only. */
  statePath?: string;
  /** model → route spec (tiffin.yaml's traffic.routes); a persisted route of the same model wins. */
  routes?: Record<string, unknown>;
  /** Most shadow copies running at once per model; more are dropped. Default 4. */
  shadowMaxInFlight?: number;
  /** Routes kept for rollback and changes kept in the log, per model. Default 20 and 50. */
  historyLimit?: number;
  logLimit?: number;
  logger?: RepositoryLogger;
  /** Longest a reward waits before the bandit posteriors are written to routes.json (feedback comes per request, so
   * writes are batched; close() writes what is left). Default 1000 ms. */
  banditPersistDelayMs?: number;
}

/** Told of every routed call's outcome (Prometheus counters by variant: traffic/traffic-metrics.ts). */
export interface RoutedCallSink {
  routed(model: string, version: string, routing: Routing, ok: boolean): void;
}

/** What the management API shows of a model. */
export interface TrafficView {
  model: string;
  /** null: no route, the model's default version takes every request. */
  route: RouteJson | null;
  /** Routes rollback can return to, the next one last. */
  history: (RouteJson | null)[];
  log: TrafficChange[];
  shadow: ShadowStatsJson | null;
  /** The last rollout plan (running or how it ended); null: none since the server started. */
  rollout: RolloutView | null;
  /** Per arm of a bandit route: pulls, rewards, posterior mean; null for other strategies. */
  bandit: ArmStats[] | null;
}

interface RolloutRun {
  settings: RolloutSettings;
  state: RolloutState;
  step: number;
  reason: string;
  /** The route before the plan started: where an automatic rollback returns. */
  before: TrafficRoute | null;
  stepStartedAt: number;
  timer: NodeJS.Timeout | undefined;
  windows: Map<string, OutcomeWindow>;
  busy: boolean;
}

interface ModelTraffic {
  compiled: CompiledRoute | undefined;
  history: (TrafficRoute | null)[];
  log: TrafficChange[];
  shadow: ShadowStats | undefined;
  rollout?: RolloutRun;
  bandit?: Bandit;
}

const silent: RepositoryLogger = { info: () => {}, warn: () => {} };

export class TrafficManager {
  private readonly repository: TrafficRepository;
  private readonly statePath: string | undefined;
  private readonly models = new Map<string, ModelTraffic>();
  private readonly shadowMaxInFlight: number;
  private readonly historyLimit: number;
  private readonly logLimit: number;
  private readonly log: RepositoryLogger;
  private readonly configured: Record<string, unknown>;
  private readonly banditPersistDelayMs: number;
  private banditTimer: NodeJS.Timeout | undefined;
  private banditDirty = false;
  private sink: RoutedCallSink | undefined;
  /** Serializes changes and their writes. */
  private queue: Promise<void> = Promise.resolve();

  constructor(options: TrafficManagerOptions) {
    this.repository = options.repository;
    this.statePath = options.statePath;
    this.shadowMaxInFlight = options.shadowMaxInFlight ?? 4;
    this.historyLimit = options.historyLimit ?? 20;
    this.logLimit = options.logLimit ?? 50;
    this.log = options.logger ?? silent;
    this.configured = options.routes ?? {};
    this.banditPersistDelayMs = options.banditPersistDelayMs ?? 1000;
    // Validate the configured routes now, so a bad tiffin.yaml fails before the server starts.
    for (const [model, spec] of Object.entries(this.configured)) parseRoute(model, spec);
  }

  /** Reads the persisted state (it wins over configured routes), applies configured routes of the other models, and
   * pins every routed version in the repository so it stays loaded. */
  async start(): Promise<void> {
    const state = this.statePath ? await readState(this.statePath) : undefined;
    const resume: [string, SavedRollout][] = [];
    for (const [model, saved] of Object.entries(state?.models ?? {})) {
      const route = saved.route ? parseRoute(model, saved.route) : null;
      // The posteriors learnt before the restart carry on (the request ids awaiting feedback do not).
      const bandit = isBanditStrategy(route?.strategy) ? Bandit.fromJSON(saved.bandit) : undefined;
      if (saved.rollout && (route || saved.rollout.state !== 'running')) resume.push([model, saved.rollout]);
      this.models.set(model, {
        ...(bandit ? { bandit } : {}),
        compiled: route ? new CompiledRoute(model, route, bandit) : undefined,
        history: (saved.history ?? []).map((r) => (r ? parseRoute(model, r) : null)),
        log: saved.log ?? [],
        shadow: route?.shadow ? new ShadowStats(route.shadow.version) : undefined,
      });
    }
    let fromConfig = false;
    for (const [model, spec] of Object.entries(this.configured)) {
      if (this.models.has(model)) continue;
      const route = parseRoute(model, spec);
      const bandit = isBanditStrategy(route.strategy) ? new Bandit() : undefined;
      const entry: ModelTraffic = { ...(bandit ? { bandit } : {}), compiled: new CompiledRoute(model, route, bandit), history: [], log: [], shadow: route.shadow ? new ShadowStats(route.shadow.version) : undefined };
      entry.log.push({ at: new Date().toISOString(), action: 'config', reason: 'tiffin.yaml traffic.routes', route: routeToJson(route) });
      this.models.set(model, entry);
      fromConfig = true;
    }
    for (const [model, entry] of this.models) {
      if (!entry.compiled || !this.repository.has(model)) continue;
      for (const version of routeVersions(entry.compiled.route)) {
        await this.repository.pin(model, version).catch((err: unknown) => this.log.warn({ model, version, err: messageOf(err) }, `cannot pin ${model}:${version} for its traffic route`));
      }
    }
    for (const [model, saved] of resume) this.resumeRollout(model, saved);
    if (fromConfig) await this.persist();
  }

  /** Every routed call's outcome goes to `sink` too (the server's Prometheus counters). */
  observe(sink: RoutedCallSink): void {
    this.sink = sink;
  }

  /** Per model with a shadow: its agreement statistics now (for metrics). */
  shadowStats(): { model: string; stats: ShadowStatsJson }[] {
    const out: { model: string; stats: ShadowStatsJson }[] = [];
    for (const [model, e] of this.models) if (e.shadow) out.push({ model, stats: e.shadow.toJSON() });
    return out;
  }

  /** Settles once every change made so far is written. */
  async flush(): Promise<void> {
    await this.queue;
  }

  // --- the request path -----------------------------------------------------------------------------------

  /** The route of `model` now, if it has one. */
  route(model: string): CompiledRoute | undefined {
    return this.models.get(model)?.compiled;
  }

  /** The variant a request goes to (override header, bandit, sticky key, weighted split); undefined without a route.
   * `input` is a service API's parsed input, for a route whose sticky key is one of its fields. */
  pick(model: string, headers: Readonly<Record<string, string | string[] | undefined>>, input?: unknown): VariantPick | undefined {
    return this.models.get(model)?.compiled?.pick(headers, Math.random, input);
  }

  /**
   * Before a live call on `servedVersion`: whether this request also goes to the route's shadow (sampled at its rate,
   * and only while fewer than shadowMaxInFlight copies run: shadows are dropped first under load). A ticket holds a
   * slot until it is run or cancelled; take it before the live call so the caller can copy its inputs first.
   */
  planShadow(model: string, servedVersion: string, random: () => number = Math.random): ShadowTicket | undefined {
    const entry = this.models.get(model);
    const shadow = entry?.compiled?.route.shadow;
    const stats = entry?.shadow;
    if (!shadow || !stats || shadow.version === servedVersion || shadow.version !== stats.version) return undefined;
    if (!(random() < shadow.rate)) return undefined;
    if (stats.inFlight >= this.shadowMaxInFlight) {
      stats.dropped++;
      return undefined;
    }
    stats.inFlight++;
    return new ShadowTicket(model, shadow.version, stats, this.log);
  }

  // --- management -------------------------------------------------------------------------------------------

  list(): TrafficView[] {
    return [...this.models.keys()].sort().map((m) => this.view(m));
  }

  view(model: string): TrafficView {
    const entry = this.models.get(model);
    if (!entry) return { model, route: null, history: [], log: [], shadow: null, rollout: null, bandit: null };
    return {
      model,
      route: entry.compiled ? routeToJson(entry.compiled.route) : null,
      history: entry.history.map((r) => (r ? routeToJson(r) : null)),
      log: entry.log,
      shadow: entry.shadow?.toJSON() ?? null,
      rollout: entry.rollout ? rolloutView(entry.rollout) : null,
      bandit: entry.compiled?.bandit ? entry.compiled.bandit.stats(entry.compiled.versions) : null,
    };
  }

  /** Stops every running rollout's timer (the server is closing) and writes the bandits' latest posteriors. A plan
   * running now stays `running` in routes.json, so the next start resumes it at the step it had reached. */
  async close(): Promise<void> {
    for (const e of this.models.values()) {
      if (e.rollout?.state === 'running' && e.rollout.timer) clearInterval(e.rollout.timer);
      if (e.rollout) e.rollout.timer = undefined;
    }
    this.closed = true;
    if (this.banditTimer) clearTimeout(this.banditTimer);
    this.banditTimer = undefined;
    await this.queue;
    if (this.banditDirty) await this.persist().catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'cannot write the bandit posteriors'));
  }

  private closed = false;

  /** Remembers which variant served a bandit-routed request, for its feedback. */
  served(model: string, requestId: string, version: string): void {
    this.models.get(model)?.bandit?.remember(requestId, version);
  }

  /** Credits a reward (0 to 1) to the variant that served `requestId` under a bandit route; returns that variant. */
  feedback(model: string, requestId: string, reward: number): string {
    const bandit = this.models.get(model)?.bandit;
    if (!bandit) throw new TiffinError('TRAFFIC_ROUTE_NOT_FOUND', `${model} has no bandit route to take feedback`, { details: { model } });
    if (!(reward >= 0 && reward <= 1)) throw new TiffinError('BAD_REQUEST', '"reward" must be a number from 0 to 1');
    const version = bandit.feedback(requestId, reward);
    if (version === undefined) throw new TiffinError('NOT_FOUND', `no recent bandit-routed request ${JSON.stringify(requestId)} of ${model} (unknown, already rewarded, or too old)`, { details: { model, id: requestId } });
    this.banditChanged();
    return version;
  }

  /** Schedules one write of routes.json for the rewards that came in (a write per reward would fsync per request). */
  private banditChanged(): void {
    this.banditDirty = true;
    if (!this.statePath || this.banditTimer || this.closed) return;
    this.banditTimer = setTimeout(() => {
      this.banditTimer = undefined;
      const write = this.queue.then(() => (this.banditDirty ? this.persist() : undefined));
      this.queue = write.catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'cannot write the bandit posteriors'));
    }, this.banditPersistDelayMs);
    this.banditTimer.unref();
  }

  /** The outcome of a routed call: for a running rollout's comparison, and the per-variant counters. `ok` is false
   * only for the server's failures (a client's bad request is not the variant's fault). */
  record(model: string, pick: VariantPick, ok: boolean, latencyMs: number): void {
    this.sink?.routed(model, pick.version, pick.routing, ok);
    const run = this.models.get(model)?.rollout;
    if (run?.state === 'running') run.windows.get(pick.version)?.record(ok, latencyMs);
  }

  /**
   * Starts a rollout plan: the canary at steps[0] percent beside the baseline, the next step every stepIntervalMs
   * once the canary had minRequests calls, and back to the route before the plan when the canary's error rate or
   * p99 over windowMs exceeds the baseline's by the plan's margins. Any other change cancels the plan.
   */
  async startRollout(model: string, spec: unknown): Promise<TrafficView> {
    const parsed = parseRollout(model, spec);
    let settings!: RolloutSettings;
    let before: TrafficRoute | null = null;
    await this.change(model, async (current) => {
      before = current ?? null;
      const heaviest = current?.variants.filter((v) => v.version !== parsed.canary).sort((a, b) => b.weight - a.weight)[0]?.version;
      const baseline = parsed.baseline ?? heaviest ?? this.repository.resolve(model).version;
      if (baseline === parsed.canary) throw new TiffinError('TRAFFIC_ROUTE_INVALID', `rollout of ${model}: the canary ${baseline} is already the baseline; name --baseline`, { details: { model } });
      settings = { ...parsed, baseline };
      delete (settings as { reason?: string }).reason;
      return { route: stepRoute(settings, 0, current), action: 'rollout', reason: parsed.reason || `rollout of ${parsed.canary}: step 1, ${settings.steps[0]}%` };
      // The plan is written with its first step's route: a restart resumes it.
    }, false, () => this.launch(model, { settings, state: 'running', step: 0, reason: 'started', before, stepStartedAt: Date.now() }));
    return this.view(model);
  }

  private launch(model: string, saved: Omit<RolloutRun, 'timer' | 'windows' | 'busy'>): RolloutRun {
    const entry = this.models.get(model)!;
    const { settings } = saved;
    const run: RolloutRun = {
      ...saved, timer: undefined, busy: false,
      windows: new Map([[settings.canary, new OutcomeWindow()], [settings.baseline, new OutcomeWindow()]]),
    };
    entry.rollout = run;
    if (run.state !== 'running') return run;
    run.timer = setInterval(() => void this.checkRollout(model, run), Math.max(10, Math.min(1000, Math.floor(settings.stepIntervalMs / 4))));
    run.timer.unref();
    return run;
  }

  /** A plan that was running when the server stopped goes on from its step, the step's interval counted afresh; its
   * windows start empty (the calls before the restart are not kept), so the next step waits for minRequests new
   * calls. A plan that had ended is shown as it ended. */
  private resumeRollout(model: string, saved: SavedRollout): void {
    try {
      const parsed = parseRollout(model, { ...saved.settings });
      const settings: RolloutSettings = { ...parsed, baseline: saved.settings.baseline };
      delete (settings as { reason?: string }).reason;
      const step = Math.min(Math.max(0, Math.floor(saved.step)), settings.steps.length - 1);
      const before = saved.before ? parseRoute(model, saved.before) : null;
      const running = saved.state === 'running';
      const reason = running ? `resumed after a restart at step ${step + 1}` : saved.reason;
      this.launch(model, { settings, state: saved.state, step, reason, before, stepStartedAt: Date.now() });
      if (running) this.log.info({ model, step: step + 1 }, `rollout of ${model}: resumed at step ${step + 1} of ${settings.steps.length}`);
    } catch (err) {
      this.log.warn({ model, err: messageOf(err) }, `the saved rollout of ${model} could not be resumed`);
    }
  }


  private async checkRollout(model: string, run: RolloutRun): Promise<void> {
    if (run.state !== 'running' || run.busy) return;
    const s = run.settings;
    const now = Date.now();
    const bad = verdict(s, run.windows.get(s.canary)!.stats(s.windowMs, now), run.windows.get(s.baseline)!.stats(s.windowMs, now));
    run.busy = true;
    try {
      if (bad) {
        const reason = `automatic rollback: ${bad}`;
        await this.change(model, async () => ({ route: run.before, action: 'rollback', reason }), true, () => finish(run, 'rolled-back', reason));
      } else if (now - run.stepStartedAt >= s.stepIntervalMs && run.windows.get(s.canary)!.stats(s.windowMs, now).requests >= s.minRequests) {
        if (run.step === s.steps.length - 1) {
          const last = s.steps[run.step]!;
          const reason = `rollout of ${s.canary} complete at ${last}%`;
          await this.change(model, async (current) => ({ route: last === 100 ? promoted(s.canary, current) : stepRoute(s, run.step, current), action: 'rollout', reason }), true, () => finish(run, 'complete', reason));
        } else {
          const next = run.step + 1;
          await this.change(model, async (current) => ({ route: stepRoute(s, next, current), action: 'rollout', reason: `rollout of ${s.canary}: step ${next + 1}, ${s.steps[next]}%` }), true, () => {
            run.step = next;
            run.stepStartedAt = now;
            run.reason = `step ${next + 1}, ${s.steps[next]}%`;
          });
        }
      }
    } catch (err) {
      this.log.warn({ model, err: messageOf(err) }, `rollout of ${model} could not change the route`);
    } finally {
      run.busy = false;
    }
  }

  /**
   * Replaces a model's route. Keys absent from `spec` keep their current value (sticky, shadow); null clears them.
   * Every version must be stored; each is pinned and must be READY before traffic moves.
   */
  set(model: string, spec: unknown, reason = '', action: TrafficAction = 'set'): Promise<TrafficView> {
    return this.change(model, async (current) => {
      const body = (typeof spec === 'object' && spec !== null ? { ...(spec as Record<string, unknown>) } : spec) as Record<string, unknown>;
      if (typeof body === 'object' && body !== null && current) {
        const json = routeToJson(current);
        if (!('sticky' in body) && json.sticky) body.sticky = json.sticky;
        if (!('shadow' in body) && current.shadow) body.shadow = current.shadow;
        if (!('strategy' in body) && current.strategy) {
          body.strategy = current.strategy;
          if (!('epsilon' in body) && current.epsilon !== undefined) body.epsilon = current.epsilon;
        }
      }
      return { route: parseRoute(model, body), action, reason };
    });
  }

  /** Sends every request to `version` (keeping the sticky header; a shadow of the same version is dropped). */
  promote(model: string, version: string, reason = ''): Promise<TrafficView> {
    return this.change(model, async (current) => {
      return { route: parseRoute(model, routeToJson(promoted(version, current))), action: 'promote', reason: reason || `promoted ${version} to 100%` };
    });
  }

  /** Sets (rate > 0) or removes (version null) the shadow; a model with no route gets one on its default version. */
  shadow(model: string, version: string | null, rate = 1, reason = ''): Promise<TrafficView> {
    return this.change(model, async (current) => {
      let base = current;
      if (!base) {
        if (version === null) throw new TiffinError('TRAFFIC_ROUTE_NOT_FOUND', `${model} has no traffic route`, { details: { model } });
        base = { variants: [{ version: this.repository.resolve(model).version, weight: 100 }] };
      }
      const json = routeToJson(base);
      if (version === null) delete json.shadow;
      else json.shadow = { version, rate };
      return { route: parseRoute(model, json), action: 'shadow', reason: reason || (version === null ? 'shadow removed' : `shadow ${version} at rate ${rate}`) };
    });
  }

  /** Returns to the route before the last change (none: no route). Throws TRAFFIC_ROUTE_NOT_FOUND with no history. */
  rollback(model: string, reason = ''): Promise<TrafficView> {
    return this.change(model, async (_current, entry) => {
      if (!entry || entry.history.length === 0) {
        throw new TiffinError('TRAFFIC_ROUTE_NOT_FOUND', `${model} has no earlier traffic route to roll back to`, { details: { model } });
      }
      return { route: entry.history[entry.history.length - 1]!, action: 'rollback', reason: reason || 'rolled back to the previous route', pop: true };
    });
  }

  /** Removes the route: the model's default version takes every request again (rollback restores it). */
  remove(model: string, reason = ''): Promise<TrafficView> {
    return this.change(model, async (current) => {
      if (!current) throw new TiffinError('TRAFFIC_ROUTE_NOT_FOUND', `${model} has no traffic route`, { details: { model } });
      return { route: null, action: 'delete', reason: reason || 'route removed' };
    });
  }

  // ---------------------------------------------------------------------------------------------------------

  private change(
    model: string,
    decide: (current: TrafficRoute | undefined, entry: ModelTraffic | undefined) => Promise<{ route: TrafficRoute | null; action: TrafficAction; reason: string; pop?: boolean }>,
    fromRollout = false,
    /** A rollout's own bookkeeping, applied with the route so both reach routes.json in the same write. */
    alsoApply?: () => void,
  ): Promise<TrafficView> {
    const run = this.queue.then(async () => {
      if (!this.repository.has(model)) {
        throw new TiffinError('MODEL_NOT_FOUND', `unknown model ${JSON.stringify(model)}: traffic routes only models the server serves`, { details: { name: model } });
      }
      const existing = this.models.get(model);
      const { route, action, reason, pop } = await decide(existing?.compiled?.route, existing);
      if (route) await this.prepare(model, route);
      const entry: ModelTraffic = existing ?? { compiled: undefined, history: [], log: [], shadow: undefined };
      if (!fromRollout && entry.rollout?.state === 'running') finish(entry.rollout, 'cancelled', `cancelled by ${action}`);
      if (pop) entry.history.pop();
      else {
        entry.history.push(entry.compiled?.route ?? null);
        if (entry.history.length > this.historyLimit) entry.history.splice(0, entry.history.length - this.historyLimit);
      }
      const shadowVersion = route?.shadow?.version;
      if (shadowVersion === undefined) entry.shadow = undefined;
      else if (entry.shadow?.version !== shadowVersion) entry.shadow = new ShadowStats(shadowVersion);
      // The swap: requests that already picked a variant keep it; the next ones use the new route.
      if (isBanditStrategy(route?.strategy)) entry.bandit ??= new Bandit();
      else delete entry.bandit;
      entry.compiled = route ? new CompiledRoute(model, route, entry.bandit) : undefined;
      entry.log.push({ at: new Date().toISOString(), action, reason, route: route ? routeToJson(route) : null });
      if (entry.log.length > this.logLimit) entry.log.splice(0, entry.log.length - this.logLimit);
      this.models.set(model, entry);
      alsoApply?.();
      this.log.info({ model, action, reason, route: route ? routeToJson(route) : null }, `traffic of ${model}: ${action}${reason ? ` (${reason})` : ''}`);
      await this.persist();
      return this.view(model);
    });
    this.queue = run.then(() => {}, () => {});
    return run;
  }

  /** Every version of the route is stored, pinned (so it stays loaded) and READY. */
  private async prepare(model: string, route: TrafficRoute): Promise<void> {
    const stored = new Set((await this.repository.store.list({ name: model })).map((m) => m.version));
    const versions = routeVersions(route);
    const missing = versions.filter((v) => !stored.has(v));
    if (missing.length > 0) {
      throw new TiffinError('TRAFFIC_ROUTE_INVALID', `traffic route of ${model}: no version ${missing.join(', ')} in the store (stored: ${[...stored].join(', ') || 'none'})`, {
        details: { model, missing },
      });
    }
    for (const v of versions) await this.repository.pin(model, v);
    const ready = new Set(this.repository.readyVersions(model));
    const notReady = versions.filter((v) => !ready.has(v));
    if (notReady.length > 0) {
      throw new TiffinError('TRAFFIC_ROUTE_INVALID', `traffic route of ${model}: ${notReady.map((v) => `${model}:${v}`).join(', ')} did not become ready`, {
        details: { model, notReady },
      });
    }
  }

  private async persist(): Promise<void> {
    if (!this.statePath) return;
    const models: Record<string, ModelTrafficState> = {};
    this.banditDirty = false;
    for (const [model, e] of this.models) {
      const saved: ModelTrafficState = { route: e.compiled ? routeToJson(e.compiled.route) : null, history: e.history.map((r) => (r ? routeToJson(r) : null)), log: e.log };
      if (e.bandit) saved.bandit = e.bandit.toJSON();
      const run = e.rollout;
      if (run) {
        saved.rollout = { settings: run.settings, state: run.state, step: run.step, reason: run.reason, before: run.before ? routeToJson(run.before) : null, stepStartedAt: new Date(run.stepStartedAt).toISOString() };
      }
      models[model] = saved;
    }
    const state: TrafficStateFile = { version: 1, models };
    await writeState(this.statePath, state);
  }
}

function finish(run: RolloutRun, state: RolloutState, reason: string): void {
  run.state = state;
  run.reason = reason;
  if (run.timer) clearInterval(run.timer);
  run.timer = undefined;
}

function rolloutView(run: RolloutRun): RolloutView {
  const s = run.settings;
  return {
    ...s, state: run.state, step: run.step, reason: run.reason,
    canaryWindow: run.windows.get(s.canary)!.stats(s.windowMs), baselineWindow: run.windows.get(s.baseline)!.stats(s.windowMs),
  };
}

/** The route of a rollout step: canary at the step's percent, baseline at the rest (kept at 0 to stay comparable). */
function stepRoute(s: RolloutSettings, step: number, current: TrafficRoute | undefined): TrafficRoute {
  const p = s.steps[step]!;
  const route: TrafficRoute = { variants: [{ version: s.baseline, weight: 100 - p }, { version: s.canary, weight: p }] };
  keepKeys(route, current);
  if (current?.shadow && current.shadow.version !== s.canary && current.shadow.version !== s.baseline) route.shadow = current.shadow;
  return route;
}

/** Carries the sticky header and field of `current` over to a route the server builds. */
function keepKeys(route: TrafficRoute, current: TrafficRoute | undefined): void {
  if (current?.sticky) route.sticky = current.sticky;
  if (current?.stickyField) route.stickyField = current.stickyField;
}

function promoted(version: string, current: TrafficRoute | undefined): TrafficRoute {
  const route: TrafficRoute = { variants: [{ version, weight: 100 }] };
  keepKeys(route, current);
  if (current?.shadow && current.shadow.version !== version) route.shadow = current.shadow;
  return route;
}

/** One planned shadow copy: `run` it once the live answer is known (it returns at once), or `cancel` it. */
export class ShadowTicket {
  private done = false;

  constructor(
    readonly model: string,
    readonly version: string,
    private readonly stats: ShadowStats,
    private readonly log: RepositoryLogger,
  ) {}

  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.stats.inFlight--;
  }

  /** Starts `call` on the shadow version and compares its answer with `live`; never throws, never to be awaited. */
  run(live: Record<string, Tensor>, call: (version: string) => Promise<Record<string, Tensor>>): void {
    if (this.done) return;
    this.done = true;
    const { stats, model, version } = this;
    stats.sent++;
    let started: Promise<Record<string, Tensor>>;
    try {
      started = call(version);
    } catch (err) {
      started = Promise.reject(err);
    }
    started.then(
      (answer) => {
        stats.inFlight--;
        try {
          stats.compare(live, answer);
        } catch (err) {
          this.log.warn({ model, err: messageOf(err) }, 'comparing a shadow answer failed');
        }
      },
      (err: unknown) => {
        stats.inFlight--;
        stats.failed++;
        this.log.warn({ model, version, err: messageOf(err) }, `shadow call to ${model}:${version} failed`);
      },
    );
  }
}
