// Route state on disk: one JSON file (routes.json) written atomically (a temporary file beside it, fsync, rename,
// fsync of the folder), so a crash leaves the old state or the new one, never half of either.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TiffinError, messageOf } from '../errors/index.ts';
import { fsyncDir } from '../store/index.ts';
import type { BanditStateJson } from './bandit.ts';
import type { RolloutSettings, RolloutState } from './rollout.ts';
import type { RouteJson } from './route.ts';

export type TrafficAction = 'config' | 'set' | 'promote' | 'rollback' | 'shadow' | 'delete' | 'rollout';

export interface TrafficChange {
  /** ISO time. */
  at: string;
  action: TrafficAction;
  /** Why: the caller's reason, or what the server did. */
  reason: string;
  /** The route after the change; null: no route (the model's default version takes every request). */
  route: RouteJson | null;
}

export interface ModelTrafficState {
  route: RouteJson | null;
  /** Earlier routes, oldest first: rollback pops the last. */
  history: (RouteJson | null)[];
  log: TrafficChange[];
  /** A bandit route's posteriors (pulls, rewards, misses per arm). */
  bandit?: BanditStateJson;
  /** The last rollout plan: a `running` one resumes at `step` when the server starts again. */
  rollout?: SavedRollout;
}

export interface SavedRollout {
  settings: RolloutSettings;
  state: RolloutState;
  /** Index into settings.steps. */
  step: number;
  reason: string;
  /** Where an automatic rollback returns. */
  before: RouteJson | null;
  /** ISO time the current step began (informative: a resumed plan counts its step's interval afresh). */
  stepStartedAt: string;
}

export interface TrafficStateFile {
  version: 1;
  models: Record<string, ModelTrafficState>;
}

export async function readState(path: string): Promise<TrafficStateFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TiffinError('TRAFFIC_STATE_FAILED', `cannot read traffic state ${path}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const doc = JSON.parse(text) as TrafficStateFile;
    if (doc?.version !== 1 || typeof doc.models !== 'object' || doc.models === null) throw new Error('not a version 1 traffic state file');
    return doc;
  } catch (err) {
    throw new TiffinError('TRAFFIC_STATE_FAILED', `traffic state ${path} is not valid: ${messageOf(err)}`, { cause: err });
  }
}

export async function writeState(path: string, state: TrafficStateFile): Promise<void> {
  const dir = dirname(path);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true });
    const file = await open(tmp, 'w');
    try {
      await file.writeFile(`${JSON.stringify(state, null, 2)}\n`);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    await fsyncDir(dir);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => {});
    throw new TiffinError('TRAFFIC_STATE_FAILED', `cannot write traffic state ${path}: ${messageOf(err)}`, { cause: err });
  }
}
