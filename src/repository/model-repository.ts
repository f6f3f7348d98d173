// `ModelRepository`: the live set of served models. For each configured model it keeps the versions its
// policy and labels ask for loaded, follows the store (hot reload), routes calls to a version, and drains
// a retired version's in-flight calls before closing it. Failures stay with their model.
import { TiffinError, messageOf } from '../errors/index.ts';
import type { ModelStore } from '../store/index.ts';
import type { ModelManifest } from '../store/manifest.ts';
import { isValidName } from '../store/tag.ts';
import { InFlight } from './in-flight.ts';
import { RoutedHandle } from './routed-handle.ts';
import type {
  IndexEntry, LoadedModel, ModelLease, ModelLoader, RepositoryLogger, ResolvedModel, ServedModelConfig,
  VersionSelector, VersionState,
} from './types.ts';
import { DEFAULT_VERSION_POLICY, assertVersionPolicy, selectVersions } from './version-policy.ts';

export interface ModelRepositoryOptions {
  store: ModelStore;
  loader: ModelLoader;
  /** The models to serve. More can be added with `load(name)` when `loadUnlisted` is on. */
  models?: ServedModelConfig[];
  /** How often the store is checked for new or removed versions; 0 turns hot reload off. Default 2000. */
  pollIntervalMs?: number;
  /** Longest a retired version waits for its in-flight calls before it is closed anyway. Default 30 s. */
  drainTimeoutMs?: number;
  /** Ready only when every served model has a READY version (Triton's strict readiness). Default true. */
  strictReadiness?: boolean;
  /** `load(name)` may add a stored model that was not configured. Default true. */
  loadUnlisted?: boolean;
  logger?: RepositoryLogger;
}

interface VersionSlot {
  version: string;
  manifest: ModelManifest;
  state: VersionState;
  reason: string;
  model?: LoadedModel;
  inFlight: InFlight;
}

interface ModelEntry {
  config: ServedModelConfig;
  labels: Map<string, string>;
  versions: Map<string, VersionSlot>;
  /** Stored versions, newest first, as of the last look at the store. */
  stored: Map<string, ModelManifest>;
  /** Versions the policy and labels ask for, newest first. */
  wanted: string[];
  /** Versions kept served whatever the policy says (see pin). */
  pins: Set<string>;
  /** Set by an explicit unload: nothing is loaded until an explicit load. */
  unloaded: boolean;
  /** Configured (options.models or add()), so readiness waits for it; false for one an explicit load() added. */
  configured: boolean;
  /** A model-level problem (nothing in the store, the store unreadable). */
  problem: string;
  /** Serializes everything that changes this model's versions. */
  queue: Promise<void>;
}

const silentLogger: RepositoryLogger = { info: () => {}, warn: () => {} };

/** Newest first: createdAt descending, then version descending (the store's own order). */
function newestFirst(a: { manifest: ModelManifest }, b: { manifest: ModelManifest }): number {
  if (a.manifest.createdAt !== b.manifest.createdAt) return a.manifest.createdAt < b.manifest.createdAt ? 1 : -1;
  return a.manifest.version < b.manifest.version ? 1 : a.manifest.version > b.manifest.version ? -1 : 0;
}

/** A call's hold on a version. A class rather than an object with a release closure: one is made per call. */
class Lease implements ModelLease {
  private released = false;

  constructor(
    readonly name: string,
    private readonly slot: VersionSlot,
  ) {}

  get version(): string {
    return this.slot.version;
  }

  get handle(): LoadedModel {
    return this.slot.model!;
  }

  get manifest(): ModelManifest {
    return this.slot.manifest;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.slot.inFlight.leave();
  }
}

export class ModelRepository {
  readonly store: ModelStore;
  private readonly loader: ModelLoader;
  private readonly entries = new Map<string, ModelEntry>();
  private readonly pollIntervalMs: number;
  private readonly drainTimeoutMs: number;
  private readonly strictReadiness: boolean;
  private readonly loadUnlisted: boolean;
  private readonly log: RepositoryLogger;
  private readonly draining = new Set<Promise<void>>();
  private readonly listeners = new Set<() => void>();
  private pollTimer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(options: ModelRepositoryOptions) {
    this.store = options.store;
    this.loader = options.loader;
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
    this.drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
    this.strictReadiness = options.strictReadiness ?? true;
    this.loadUnlisted = options.loadUnlisted ?? true;
    this.log = options.logger ?? silentLogger;
    for (const config of options.models ?? []) this.addEntry(config);
  }

  /** Loads every configured model (failures are recorded per model, never thrown) and starts hot reload. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await Promise.all([...this.entries.values()].map((e) => this.enqueue(e, () => this.reconcile(e, false))));
    this.schedulePoll();
  }

  /** Stops hot reload, then drains and closes every loaded version. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    await Promise.all([...this.entries.values()].map((e) => this.enqueue(e, async () => {
      for (const slot of e.versions.values()) if (slot.state === 'READY') this.retire(e, slot, true);
    })));
    while (this.draining.size > 0) await Promise.all([...this.draining]);
  }

  /** The process can answer requests (V2 "live"). */
  get live(): boolean {
    return !this.closed;
  }

  /** Ready for inference: started, not closing, and (strict) every model it is configured to serve has a READY
   * version; one unloaded by hand makes it unready too, since inference for it answers 503. */
  get ready(): boolean {
    if (!this.started || this.closed) return false;
    if (!this.strictReadiness) return true;
    for (const e of this.entries.values()) {
      if (e.configured && ![...e.versions.values()].some((s) => s.state === 'READY')) return false;
    }
    return true;
  }

  /** Model calls holding a lease now, on every version (protocol requests and services' calls alike): what a
   * draining server waits for before it closes its listener. */
  get inFlight(): number {
    let n = 0;
    for (const e of this.entries.values()) for (const slot of e.versions.values()) n += slot.inFlight.size;
    return n;
  }

  /** Names of the models this repository manages, sorted. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  config(name: string): ServedModelConfig {
    return this.entry(name).config;
  }

  /** Calls `listener` whenever a version changes state (for health watchers). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Every managed model's versions with state and reason, newest first; `all` adds stored models that are
   * not served (UNAVAILABLE). `ready` keeps only READY versions.
   */
  async index(options: { ready?: boolean; all?: boolean } = {}): Promise<IndexEntry[]> {
    const rows: IndexEntry[] = [];
    for (const name of this.names()) {
      const e = this.entries.get(name)!;
      const slots = [...e.versions.values()].sort(newestFirst);
      for (const s of slots) rows.push({ name, version: s.version, state: s.state, reason: s.reason });
      if (slots.length === 0) {
        const state: VersionState = e.unloaded || e.problem ? 'UNAVAILABLE' : 'LOADING';
        rows.push({ name, state, reason: e.unloaded ? 'unloaded' : e.problem });
      }
    }
    if (options.all) {
      const unmanaged = new Set<string>();
      for (const m of await this.store.list()) if (!this.entries.has(m.name)) unmanaged.add(m.name);
      for (const name of [...unmanaged].sort()) rows.push({ name, state: 'UNAVAILABLE', reason: 'not loaded' });
    }
    return options.ready ? rows.filter((r) => r.state === 'READY') : rows;
  }

  /** The versions of one model (all states), newest first, optionally one version or label. */
  versions(name: string, selector: VersionSelector = {}): IndexEntry[] {
    const e = this.entry(name);
    let slots = [...e.versions.values()].sort(newestFirst);
    const version = this.versionOf(e, selector);
    if (version !== undefined) {
      slots = slots.filter((s) => s.version === version);
      if (slots.length === 0) throw this.unknownVersion(e, version, selector.label);
    }
    return slots.map((s) => ({ name, version: s.version, state: s.state, reason: s.reason }));
  }

  /** The versions of a model that are READY, newest first. */
  readyVersions(name: string): string[] {
    return [...this.entry(name).versions.values()].filter((s) => s.state === 'READY').sort(newestFirst).map((s) => s.version);
  }

  /** Resolves a READY version without holding it open (for metadata). Throws MODEL_NOT_FOUND or MODEL_NOT_READY. */
  resolve(name: string, selector: VersionSelector = {}): ResolvedModel {
    const slot = this.pick(name, selector);
    return { name, version: slot.version, handle: slot.model!, manifest: slot.manifest };
  }

  /**
   * Resolves a READY version and holds it open until `release()`. Every call into a model goes through a
   * lease, so hot reload never closes a version under a running request.
   */
  acquire(name: string, selector: VersionSelector = {}): ModelLease {
    const slot = this.pick(name, selector);
    slot.inFlight.enter();
    return new Lease(name, slot);
  }

  /**
   * A handle that calls the model's default version at the time of each call (what services hold across
   * reloads), or always the version or label in `selector`.
   */
  handle(name: string, selector: VersionSelector = {}): RoutedHandle {
    this.entry(name);
    return new RoutedHandle(name, this, selector);
  }

  /** Adds a model to serve; once started, resolves after its first load attempt (failures are in the index). */
  async add(config: ServedModelConfig): Promise<void> {
    this.assertOpen();
    const e = this.addEntry(config);
    if (this.started) await this.enqueue(e, () => this.reconcile(e, false));
  }

  /** Keeps `version` served whatever the policy says (a service that names a version pins it). */
  async pin(name: string, version: string): Promise<void> {
    this.assertOpen();
    const e = this.entry(name);
    e.pins.add(version);
    if (this.started) await this.enqueue(e, () => this.reconcile(e, false));
  }

  /**
   * Loads (or reloads from the store) a model, adding it when it is stored but not configured. Resolves when
   * it has a READY version; throws MODEL_LOAD_FAILED with the reason otherwise.
   */
  async load(name: string): Promise<void> {
    this.assertOpen();
    let e = this.entries.get(name);
    if (!e) {
      if (!this.loadUnlisted) throw new TiffinError('MODEL_NOT_FOUND', `${name} is not one of the served models (${this.names().join(', ') || 'none'})`);
      if (!isValidName(name) || (await this.store.list({ name })).length === 0) {
        throw new TiffinError('MODEL_NOT_FOUND', `no model named ${name} in the store`, { details: { name } });
      }
      e = this.entries.get(name) ?? this.addEntry({ name }, false);
    }
    const entry = e;
    await this.enqueue(entry, async () => {
      entry.unloaded = false;
      await this.reconcile(entry, true);
    });
    if (![...entry.versions.values()].some((s) => s.state === 'READY')) {
      const reasons = [...entry.versions.values()].filter((s) => s.reason).map((s) => `${s.version}: ${s.reason}`);
      const why = reasons.join('; ') || entry.problem || 'no version could be loaded';
      throw new TiffinError('MODEL_LOAD_FAILED', `failed to load ${name}: ${why}`, { details: { name } });
    }
  }

  /** Unloads every version of a model (after draining); it stays listed as UNAVAILABLE until loaded again. */
  async unload(name: string): Promise<void> {
    this.assertOpen();
    const e = this.entry(name);
    const retired: Promise<void>[] = [];
    await this.enqueue(e, async () => {
      e.unloaded = true;
      for (const slot of e.versions.values()) {
        if (slot.state === 'READY') retired.push(this.retire(e, slot, true));
        else if (slot.state === 'FAILED') {
          slot.state = 'UNAVAILABLE';
          slot.reason = 'unloaded';
        }
      }
      this.changed();
    });
    await Promise.all(retired);
  }

  /** Label → version for a model. */
  labels(name: string): Record<string, string> {
    return Object.fromEntries(this.entry(name).labels);
  }

  /**
   * Points `label` at `version` (loading it if needed). The label moves only once that version is READY;
   * otherwise it keeps its old target and this throws.
   */
  async setLabel(name: string, label: string, version: string): Promise<void> {
    this.assertOpen();
    const e = this.entry(name);
    if (!isValidName(label)) throw new TiffinError('INVALID_NAME', `invalid label ${JSON.stringify(label)}: use letters, digits, '-', '.' and '_'`);
    await this.enqueue(e, async () => {
      await this.refreshStored(e);
      if (!e.stored.has(version)) throw this.unknownVersion(e, version);
      const previous = e.labels.get(label);
      e.labels.set(label, version);
      await this.reconcile(e, true);
      const slot = e.versions.get(version);
      if (slot?.state !== 'READY') {
        if (previous === undefined) e.labels.delete(label);
        else e.labels.set(label, previous);
        await this.reconcile(e, false);
        throw new TiffinError('MODEL_LOAD_FAILED', `label ${label} not moved: ${name}:${version} is not ready (${slot?.reason || slot?.state || 'not loaded'})`);
      }
    });
  }

  /** Removes a label; a version it alone kept loaded is then retired. */
  async deleteLabel(name: string, label: string): Promise<void> {
    const e = this.entry(name);
    if (!e.labels.has(label)) throw new TiffinError('MODEL_NOT_FOUND', `${name} has no label ${label}`);
    await this.enqueue(e, async () => {
      e.labels.delete(label);
      await this.reconcile(e, false);
    });
  }

  /** Looks at the store once for every served model (what the poller does); tests call it to skip the wait. */
  async refresh(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => this.enqueue(e, () => this.reconcile(e, false))));
  }

  // ---------------------------------------------------------------------------------------------------------

  private addEntry(config: ServedModelConfig, configured = true): ModelEntry {
    if (!isValidName(config.name)) throw new TiffinError('CONFIG_INVALID', `invalid model name ${JSON.stringify(config.name)}`);
    if (this.entries.has(config.name)) throw new TiffinError('CONFIG_INVALID', `model ${config.name} is listed twice`);
    assertVersionPolicy(config.versions ?? DEFAULT_VERSION_POLICY, config.name);
    const entry: ModelEntry = {
      config: { ...config, versions: config.versions ?? DEFAULT_VERSION_POLICY },
      labels: new Map(Object.entries(config.labels ?? {})),
      versions: new Map(),
      stored: new Map(),
      wanted: [],
      pins: new Set(),
      unloaded: false,
      configured,
      problem: '',
      queue: Promise.resolve(),
    };
    this.entries.set(config.name, entry);
    return entry;
  }

  private entry(name: string): ModelEntry {
    const e = this.entries.get(name);
    if (!e) {
      const known = this.names();
      throw new TiffinError('MODEL_NOT_FOUND', `unknown model ${JSON.stringify(name)}; served models: ${known.join(', ') || 'none'}`, {
        details: { name, models: known },
      });
    }
    return e;
  }

  private assertOpen(): void {
    if (this.closed) throw new TiffinError('SHUTTING_DOWN', 'the model repository is closing');
  }

  /** Runs `task` after everything already queued for this model; a failing task does not block the next. */
  private enqueue(e: ModelEntry, task: () => Promise<void>): Promise<void> {
    const run = e.queue.then(task);
    e.queue = run.catch(() => {});
    return run;
  }

  private changed(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch {
        // A watcher's failure is its own.
      }
    }
  }

  private schedulePoll(): void {
    if (this.pollIntervalMs <= 0 || this.closed) return;
    this.pollTimer = setTimeout(() => {
      this.refresh()
        .catch((err: unknown) => this.log.warn({ err: messageOf(err) }, 'model repository poll failed'))
        .finally(() => this.schedulePoll());
    }, this.pollIntervalMs);
    this.pollTimer.unref();
  }

  private async refreshStored(e: ModelEntry): Promise<boolean> {
    try {
      const manifests = await this.store.list({ name: e.config.name });
      e.stored = new Map(manifests.map((m) => [m.version, m]));
      e.problem = manifests.length === 0 ? `no versions of ${e.config.name} in the store (${this.store.root})` : '';
      return true;
    } catch (err) {
      e.problem = `cannot read the store: ${messageOf(err)}`;
      return false;
    }
  }

  /**
   * Brings one model in line with the store, its policy and its labels: loads wanted versions (in
   * parallel), then retires the others, keeping the newest READY one when no wanted version is READY so a
   * failed new version never leaves the model without one.
   */
  private async reconcile(e: ModelEntry, retryFailed: boolean): Promise<void> {
    if (this.closed || !(await this.refreshStored(e))) return;
    const storedNewestFirst = [...e.stored.keys()];
    const wanted = new Set(selectVersions(e.config.versions ?? DEFAULT_VERSION_POLICY, storedNewestFirst));
    for (const v of [...e.labels.values(), ...e.pins]) if (e.stored.has(v)) wanted.add(v);
    e.wanted = e.unloaded ? [] : storedNewestFirst.filter((v) => wanted.has(v));
    if (e.unloaded) return;

    const loads: Promise<void>[] = [];
    for (const version of e.wanted) {
      const slot = e.versions.get(version);
      if (slot && (slot.state === 'READY' || slot.state === 'LOADING')) continue;
      if (slot?.state === 'FAILED' && !retryFailed) continue;
      loads.push(this.loadVersion(e, e.stored.get(version)!));
    }
    await Promise.all(loads);
    if (this.closed) return;

    const wantedReady = e.wanted.some((v) => e.versions.get(v)?.state === 'READY');
    let keptFallback = false;
    for (const slot of [...e.versions.values()].sort(newestFirst)) {
      if (wanted.has(slot.version)) continue;
      if (slot.state === 'READY') {
        if (!wantedReady && !keptFallback && e.stored.has(slot.version)) {
          keptFallback = true;
          continue;
        }
        void this.retire(e, slot, false);
      } else if (slot.state === 'FAILED' || slot.state === 'UNAVAILABLE') {
        e.versions.delete(slot.version);
        this.changed();
      }
    }
  }

  private async loadVersion(e: ModelEntry, manifest: ModelManifest): Promise<void> {
    const tag = `${manifest.name}:${manifest.version}`;
    const slot: VersionSlot = { version: manifest.version, manifest, state: 'LOADING', reason: '', inFlight: new InFlight() };
    e.versions.set(manifest.version, slot);
    this.changed();
    try {
      const model = await this.loader(tag, { manifest, config: e.config });
      if (this.closed) {
        await model.close();
        slot.state = 'UNAVAILABLE';
        slot.reason = 'the repository closed while the model loaded';
        return;
      }
      slot.model = model;
      slot.state = 'READY';
      this.log.info({ model: tag }, `model ${tag} is ready`);
    } catch (err) {
      slot.state = 'FAILED';
      slot.reason = messageOf(err);
      this.log.warn({ model: tag, err: slot.reason }, `model ${tag} failed to load`);
    } finally {
      this.changed();
    }
  }

  /** Takes a version out of routing at once, closes it once its in-flight calls finished (or timed out). */
  private retire(e: ModelEntry, slot: VersionSlot, keepListed: boolean): Promise<void> {
    const tag = `${e.config.name}:${slot.version}`;
    slot.state = 'UNLOADING';
    slot.reason = keepListed ? 'unloading' : 'retired by the version policy';
    this.changed();
    const done = (async () => {
      if (!(await slot.inFlight.idle(this.drainTimeoutMs))) {
        this.log.warn({ model: tag, inFlight: slot.inFlight.size }, `closing ${tag} with calls still in flight after ${this.drainTimeoutMs} ms`);
      }
      try {
        await slot.model?.close();
      } catch (err) {
        this.log.warn({ model: tag, err: messageOf(err) }, `closing ${tag} failed`);
      }
      slot.model = undefined;
      if (keepListed) {
        slot.state = 'UNAVAILABLE';
        slot.reason = 'unloaded';
      } else if (e.versions.get(slot.version) === slot) {
        e.versions.delete(slot.version);
      }
      this.log.info({ model: tag }, `model ${tag} unloaded`);
      this.changed();
    })();
    this.draining.add(done);
    void done.finally(() => this.draining.delete(done));
    return done;
  }

  /** The version a selector names: a label's target, a version (or a label given as a version), or undefined. */
  private versionOf(e: ModelEntry, selector: VersionSelector): string | undefined {
    if (selector.label !== undefined) {
      const target = e.labels.get(selector.label);
      if (target === undefined) {
        const known = [...e.labels.keys()];
        throw new TiffinError('MODEL_NOT_FOUND', `${e.config.name} has no label ${JSON.stringify(selector.label)} (labels: ${known.join(', ') || 'none'})`);
      }
      return target;
    }
    const v = selector.version;
    if (v !== undefined && !e.versions.has(v) && !e.stored.has(v) && e.labels.has(v)) return e.labels.get(v);
    return v;
  }

  private pick(name: string, selector: VersionSelector): VersionSlot {
    const e = this.entry(name);
    const version = this.versionOf(e, selector);
    if (version === undefined) {
      const slot = e.wanted.map((v) => e.versions.get(v)).find((s) => s?.state === 'READY')
        ?? [...e.versions.values()].sort(newestFirst).find((s) => s.state === 'READY');
      if (slot) return slot;
      throw this.notReady(e);
    }
    const slot = e.versions.get(version);
    if (slot?.state === 'READY') return slot;
    if (!slot && !e.stored.has(version)) throw this.unknownVersion(e, version, selector.label);
    const why = slot ? `${slot.state.toLowerCase()}${slot.reason ? `: ${slot.reason}` : ''}` : 'not served by its version policy';
    throw new TiffinError('MODEL_NOT_READY', `${name}:${version} is not ready (${why})`, { details: { name, version, state: slot?.state ?? 'UNAVAILABLE' } });
  }

  private notReady(e: ModelEntry): TiffinError {
    const name = e.config.name;
    const slots = [...e.versions.values()].sort(newestFirst);
    const why = e.unloaded
      ? 'it was unloaded'
      : slots.length > 0
        ? slots.map((s) => `${s.version} ${s.state.toLowerCase()}${s.reason ? `: ${s.reason}` : ''}`).join('; ')
        : e.problem || 'it is still loading';
    return new TiffinError('MODEL_NOT_READY', `model ${name} has no ready version (${why})`, { details: { name } });
  }

  private unknownVersion(e: ModelEntry, version: string, label?: string): TiffinError {
    const name = e.config.name;
    const served = [...e.versions.keys()];
    const via = label === undefined ? '' : ` (label ${label})`;
    return new TiffinError('MODEL_NOT_FOUND', `unknown version ${JSON.stringify(version)}${via} of model ${name}; served versions: ${served.join(', ') || 'none'}`, {
      details: { name, version, versions: served },
    });
  }
}
