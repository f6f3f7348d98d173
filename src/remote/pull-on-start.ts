// `remote.pullOnStart`: before `tiffin serve` starts, pull each configured model the local store does not hold.
import { isTiffinError, messageOf } from '../errors/index.ts';
import type { ServedModelConfig } from '../repository/types.ts';
import { formatTag, parseTag, type ModelStore } from '../store/index.ts';
import type { RemoteConfig } from './config.ts';
import { modelArchiveStore } from './model-archive-store.ts';
import { RemoteStore } from './remote-store.ts';

/** The parts of TiffinConfig this needs (a TiffinConfig fits). */
export interface PullOnStartConfig {
  models: readonly ServedModelConfig[];
  remote: RemoteConfig;
}

/** A pino logger fits. */
export interface PullLog {
  info(message: string): void;
  error(message: string): void;
}

export interface PullOnStartOptions {
  /** More tags to make present, such as a service's own models (`iris:1`, or `iris` for the newest). */
  tags?: readonly string[];
  /** The remote to pull from; default one made from `config.remote` (and closed afterwards). */
  remote?: RemoteStore;
}

export interface PullOnStartReport {
  pulled: string[];
  present: string[];
  failed: { tag: string; message: string }[];
}

/** Tags a served model needs: each specific version and labelled version, else the name (its newest version). */
export function tagsToServe(model: ServedModelConfig): string[] {
  const versions = new Set<string>();
  const policy = model.versions;
  if (policy && typeof policy === 'object' && 'specific' in policy) for (const v of policy.specific) versions.add(String(v));
  for (const v of Object.values(model.labels ?? {})) versions.add(String(v));
  return versions.size > 0 ? [...versions].map((v) => formatTag(model.name, v)) : [model.name];
}

/**
 * Pulls every configured model tag missing from `store`. A bare name counts as present when any version of it is
 * stored. A tag that cannot be pulled is logged and reported, not thrown: the repository then reports the model
 * as not ready, as it would without a remote. No bucket configured is REMOTE_NOT_CONFIGURED.
 */
export async function pullMissingModels(config: PullOnStartConfig, store: ModelStore, log: PullLog, options: PullOnStartOptions = {}): Promise<PullOnStartReport> {
  const tags = [...new Set([...config.models.flatMap(tagsToServe), ...(options.tags ?? [])])];
  const report: PullOnStartReport = { pulled: [], present: [], failed: [] };
  if (tags.length === 0) return report;
  const remote = options.remote ?? RemoteStore.fromConfig(config.remote);
  const archives = modelArchiveStore(store);
  try {
    for (const tag of tags) {
      try {
        if (parseTag(tag).version === undefined && (await store.list({ name: parseTag(tag).name })).length > 0) {
          report.present.push(tag);
          continue;
        }
        const result = await remote.pull(archives, tag);
        const full = formatTag(result.name, result.version);
        if (result.pulled) {
          report.pulled.push(full);
          log.info(`pulled ${full} from ${remote.location.bucket} (remote.pullOnStart)`);
        } else report.present.push(full);
      } catch (err) {
        const message = messageOf(err);
        report.failed.push({ tag, message });
        log.error(`could not pull ${tag} at start (remote.pullOnStart): ${isTiffinError(err) ? `[${err.code}] ` : ''}${message}`);
      }
    }
  } finally {
    if (!options.remote) remote.close();
  }
  return report;
}
