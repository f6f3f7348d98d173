// A replica's native-code gate: one shared integer that says whether the worker has model calls under way.
// Terminating a worker thread while onnxruntime's addon is running in it can abort the whole process: when
// the run returns into a terminating isolate, the addon throws a C++ exception that nothing catches (seen as
// "terminate called after throwing an instance of 'Napi::Error'", SIGABRT). So a replica is terminated only
// with no model call under way; a kill asked for otherwise is carried out by the worker itself, from
// JavaScript, as soon as a call returns.

/** The cell holds the number of model calls under way in the worker, plus this bit once a kill was asked for. A
 * count rather than a flag: an async model can have several calls under way, and any of them may be the one in
 * native code at a given moment. */
const KILL = 1 << 30;

export function newGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

/** The main thread's side: may the worker be terminated now? */
export class GateKeeper {
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cell = new Int32Array(buffer);
  }

  /** Asks for the thread to end. True: no model call is under way and none will start, so terminate it now.
   * False: calls are under way (or a kill was already asked for); the worker ends itself when one returns. */
  requestKill(): boolean {
    for (;;) {
      const seen = Atomics.load(this.cell, 0);
      if (seen & KILL) return false;
      if (Atomics.compareExchange(this.cell, 0, seen, seen | KILL) === seen) return seen === 0;
    }
  }
}

/** The worker's side, around every call into the model's code. */
export class Gate {
  private readonly cell: Int32Array;

  constructor(
    buffer: SharedArrayBuffer,
    private readonly exit: () => never = () => process.exit(1),
  ) {
    this.cell = new Int32Array(buffer);
  }

  /** Runs `work` counted as a model call; ends the thread instead when a kill was asked for before or during it.
   * Ending it from here is safe: this is JavaScript, so no native code is running on the thread. */
  async run<T>(work: () => Promise<T> | T): Promise<T> {
    if (Atomics.add(this.cell, 0, 1) & KILL) this.exit();
    try {
      return await work();
    } finally {
      if (Atomics.sub(this.cell, 0, 1) & KILL) this.exit();
    }
  }
}
