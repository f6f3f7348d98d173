// Deletes finished tasks older than `retentionMs`, every `everyMs` (unref'd: it never keeps the process alive).
import type { TaskStore } from './task-store.ts';

export function startRetention(store: TaskStore, retentionMs: number, everyMs = 60_000, onError?: (err: unknown) => void): () => void {
  const sweep = () => {
    try {
      store.purge(Date.now() - retentionMs);
    } catch (err) {
      onError?.(err);
    }
  };
  sweep();
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
