// The repository's public vocabulary: how a served model is configured, how a version is loaded, and
// what the index reports about each version.
import type { ModelHandle } from '../runtime/types.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { ModelMonitorConfig } from '../telemetry/index.ts';
import type { VersionPolicy } from './version-policy.ts';

/**
 * Where a served version is in its life. LOADING → READY → UNLOADING → (gone, or UNAVAILABLE after an
 * explicit unload); FAILED when loading threw (the reason says why).
 */
export type VersionState = 'LOADING' | 'READY' | 'UNLOADING' | 'UNAVAILABLE' | 'FAILED';

/** Adaptive batching for a served model; the loader (a runner pool) applies it when the signature is batchable. */
export interface ModelBatchingConfig {
  /** Default true: batch when the model's signature says it can be batched. */
  enabled?: boolean;
  maxBatchSize?: number;
  /** Longest a request waits for others to join its batch. */
  maxLatencyMs?: number;
  /** Most batches one request may be split into (more rows than maxBatchSize × maxSplits: 413). Default 64. */
  maxSplits?: number;
}

/** One model the repository serves (an entry of `models:` in tiffin.yaml, or `--models name[:version]`). */
export interface ServedModelConfig {
  name: string;
  /** Which stored versions to serve; default the newest one. */
  versions?: VersionPolicy;
  /** Label → version (for example stable, canary). Labelled versions are served whatever the policy says. */
  labels?: Record<string, string>;
  batching?: ModelBatchingConfig;
  /** Deadline of a call to this model that brings none of its own (an API's timeout or the V2 `timeout` parameter):
   * still queued at it, the call is dropped and answers 504. Default none. */
  timeoutMs?: number;
  /** Log every call's inputs and outputs to a prediction stream (needs `monitoring.dir`); see docs/observability.md. */
  monitor?: ModelMonitorConfig;
}

/** A loaded version: callable like any model handle, and closed when the version is retired. */
export interface LoadedModel extends ModelHandle {
  close(): Promise<void>;
}

export interface LoadContext {
  manifest: ModelManifest;
  config: ServedModelConfig;
}

/** Loads `name:version` (a runner pool in production, `Models.load` in process for tests and tools). */
export type ModelLoader = (tag: string, context: LoadContext) => Promise<LoadedModel>;

/** Picks a version: by version name, by label, or (neither) the default one. */
export interface VersionSelector {
  version?: string;
  label?: string;
}

/** One row of the repository index (the V2 model repository extension's shape). */
export interface IndexEntry {
  name: string;
  /** Absent for a model with no version to report (unloaded, or nothing in the store). */
  version?: string;
  state: VersionState;
  /** Why the version is in this state; empty when READY. */
  reason: string;
}

/** A resolved version, for metadata; it does not hold the version open. */
export interface ResolvedModel {
  name: string;
  version: string;
  handle: LoadedModel;
  manifest: ModelManifest;
}

/** A resolved version held open until `release()`: a retired version drains its leases before it closes. */
export interface ModelLease extends ResolvedModel {
  release(): void;
}

/** Where log lines go; pino and fastify's logger fit. */
export interface RepositoryLogger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
}
