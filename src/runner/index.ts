// Owns: runners: a stored model served by replica worker threads (spawn, crash replacement, zero-copy hand-over), with a BatchDispatcher per method.
// Knows nothing about: HTTP, services or protocols; callers hold a runner as a ModelHandle.
export {
  RunnerPool,
  type MethodOptions, type ReplicaExitInfo, type ReplicaStats, type RestartPolicy, type RunnerEvents,
  type RunnerOptions, type RunnerStats, type RunnerStatus,
} from './runner-pool.ts';
export { Replica, type ReplicaState } from './replica.ts';
export { runnerResources, type RunnerResources } from './resources.ts';
export { transferablesOf } from './transfer.ts';
