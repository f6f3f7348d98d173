// Owns: durable async tasks — the SQLite task store (task-store.ts), the state machine (task-state.ts) and the
// in-process queue/executor per task kind (task-queue.ts) with its restart policy and retention.
// Knows nothing about HTTP: src/server/task-routes.ts maps these to routes and Tiffin's error shape.
export { TASK_STATUSES, canMove, isFinished, type TaskStatus } from './task-state.ts';
export { TaskStore, type TaskRecord, type TaskStoreOptions } from './task-store.ts';
export { TaskQueue, type RestartPolicy, type TaskQueueOptions } from './task-queue.ts';
export { startRetention } from './retention.ts';
