// A replica's native-code gate: one shared integer that says whether the worker is inside the model's
// native code. Terminating a worker thread while onnxruntime's addon is running in it can abort the whole
// process: when the run returns into a terminating isolate, the addon throws a C++ exception that nothing
// catches (seen as "terminate called after throwing an instance of 'Napi::Error'", SIGABRT). So a replica
// is never terminated inside native code; a kill asked for then is carried out by the worker itself, from
// JavaScript, as soon as the native call returns.

const IDLE = 0;
const NATIVE = 1;
const KILL = 2;

export function newGate(): SharedArrayBuffer {
  return new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
}

/** The main thread's side: may the worker be terminated now? */
export class GateKeeper {
  private readonly cell: Int32Array;

  constructor(buffer: SharedArrayBuffer) {
    this.cell = new Int32Array(buffer);
  }

  /** Asks for the thread to end. True: it is outside native code and will not enter it again, so terminate it
   * now. False: it is inside native code (or a kill was already asked for) and ends itself when it leaves. */
  requestKill(): boolean {
    for (;;) {
      const seen = Atomics.compareExchange(this.cell, 0, IDLE, KILL);
      if (seen === IDLE) return true;
      if (seen === KILL) return false;
      if (Atomics.compareExchange(this.cell, 0, NATIVE, KILL) === NATIVE) return false;
      // It left native code between the two reads: try again.
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

  /** Runs `work` marked as native; ends the thread instead when a kill was asked for before or during it. */
  async run<T>(work: () => Promise<T> | T): Promise<T> {
    if (Atomics.compareExchange(this.cell, 0, IDLE, NATIVE) === KILL) this.exit();
    try {
      return await work();
    } finally {
      if (Atomics.compareExchange(this.cell, 0, NATIVE, IDLE) === KILL) this.exit();
    }
  }
}
