// The task state machine: which status may follow which. Kept apart from storage so both the store and the
// executor check transitions the same way, and so it can be tested without a database.
export const TASK_STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

const NEXT: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['running', 'cancelled'],
  // running -> pending: a restart re-queues an interrupted task (onRestart: 'retry').
  running: ['done', 'failed', 'cancelled', 'pending'],
  done: [],
  // retry: a failed or cancelled task runs again.
  failed: ['pending'],
  cancelled: ['pending'],
};

export function canMove(from: TaskStatus, to: TaskStatus): boolean {
  return NEXT[from].includes(to);
}

/** Finished: nothing runs it any more (retention applies to these). */
export function isFinished(status: TaskStatus): boolean {
  return status === 'done' || status === 'failed' || status === 'cancelled';
}
