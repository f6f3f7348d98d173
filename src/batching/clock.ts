// Time as the dispatcher sees it: a monotonic `now` and one-shot timers. Injected so that tests can
// drive batching decisions with a fake clock instead of sleeping.

export interface Clock {
  /** Milliseconds on a monotonic clock (only differences mean anything). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a function that cancels the call. */
  setTimer(ms: number, fn: () => void): () => void;
  /**
   * Calls `fn` once the current event-loop turn has handled its I/O (setImmediate). Without it the
   * dispatcher decides at once, as a test clock wants.
   */
  defer?(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, Math.max(0, ms));
    return () => clearTimeout(timer);
  },
  defer(fn) {
    setImmediate(fn);
  },
};
