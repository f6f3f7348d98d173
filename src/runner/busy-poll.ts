// Busy polling: keeping a thread's event loop turning for a short while when a message is expected soon,
// instead of letting it sleep. A message to a thread asleep in epoll_wait has to wake it: the sender's system
// call interrupts the other core, and the receiver starts late.
// A chain of setImmediate keeps libuv polling for I/O with a zero timeout, so the thread never sleeps, still
// handles every message, timer and socket as usual, and blocks nothing: it costs CPU only, at most the window.
// Kept for its end-to-end gain: at one connection `tiffin serve` went from 0.34 to 0.55 of a naive server's
// requests per second (`npm run bench -- batching`, the 1-connection row; bench/RESULTS.md).
export class BusyPoll {
  private until = 0;
  private polling = false;

  /** @param worthIt checked on every turn; polling stops as soon as it is false (nothing is expected). */
  constructor(private readonly worthIt: () => boolean = () => true) {}

  /** Keeps the loop polling for `ms` from now (or longer, if already asked for), while worthIt() holds. */
  extend(ms: number): void {
    if (ms <= 0) return;
    this.until = Math.max(this.until, performance.now() + ms);
    if (this.polling) return;
    this.polling = true;
    setImmediate(this.turn);
  }

  // A bound method made once, so a turn allocates nothing but the Immediate itself.
  private readonly turn = (): void => {
    if (performance.now() < this.until && this.worthIt()) setImmediate(this.turn);
    else this.polling = false;
  };
}
