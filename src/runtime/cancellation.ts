// Cancelling a model call when its request goes away, without an AbortSignal per request. Node 20's
// AbortSignal is dear in a way no CPU profile of the request shows: measured, AbortSignals that die young are
// promoted to the old generation all the same, so a signal per request at a few thousand requests per second
// makes scavenges several times longer and full collections frequent (bench/RESULTS.md). Servers give each
// request a Cancellation instead; it makes a real AbortSignal only for code that asks for one.
import type { Tensors } from './tensor.ts';
import type { CallOptions, CallRouting, ModelHandle } from './types.ts';
import { WrappedHandle } from './wrapped-handle.ts';
import { type ModelOutputs } from './model-outputs.ts';

/** What a model call's `signal` must offer: an AbortSignal fits, and so does a Cancellation. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export class Cancellation implements CancelSignal {
  private isAborted = false;
  private abortReason: unknown;
  /** One listener is the common case (the call a request is waiting on): no array for it. */
  private listener: (() => void) | undefined;
  private more: (() => void)[] | undefined;
  private controller: AbortController | undefined;

  get aborted(): boolean {
    return this.isAborted;
  }

  get reason(): unknown {
    return this.abortReason;
  }

  /** Like AbortSignal's: a listener added after the abort is never called, and each is called once. */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.isAborted) return;
    if (this.listener === undefined) this.listener = listener;
    else (this.more ??= []).push(listener);
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    if (this.listener === listener) {
      this.listener = this.more?.shift();
      return;
    }
    const i = this.more?.indexOf(listener) ?? -1;
    if (i >= 0) this.more!.splice(i, 1);
  }

  abort(reason?: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    const first = this.listener;
    const more = this.more;
    this.listener = this.more = undefined;
    first?.();
    if (more) for (const listener of more) listener();
    if (this.controller) this.controller.abort(reason);
  }

  /** A real AbortSignal that aborts with this, made on first use (for fetch and other platform APIs). */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }
}

/** A handle whose calls carry `signal` unless they bring their own (and the request's `routing`, when given).
 * Servers make one per model per request. */
class CancelledHandle extends WrappedHandle {
  constructor(
    inner: ModelHandle,
    private readonly signal: CancelSignal,
    private readonly routing: CallRouting | undefined,
  ) {
    super(inner);
  }

  run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    return this.inner.run(feeds, this.withSignal(options));
  }

  call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    return this.inner.call(method, input, this.withSignal(options));
  }

  private withSignal(options: CallOptions | undefined): CallOptions {
    if (options?.signal && (options.routing || !this.routing)) return options;
    const out: CallOptions = { ...options };
    out.signal ??= this.signal;
    if (this.routing) out.routing ??= this.routing;
    return out;
  }
}

/** `handles` whose calls are cancelled with `signal` (unless a call brings its own signal) and carry `routing`. */
export function handlesCancelledWith<H extends Readonly<Record<string, ModelHandle>>>(handles: H, signal: CancelSignal, routing?: CallRouting): H {
  // Plain properties set in a loop, not accessors: objects given fresh accessor closures each get a map of their
  // own, which the garbage collector then keeps (see the file comment for what retention costs here).
  const out: Record<string, ModelHandle> = {};
  for (const key in handles) out[key] = new CancelledHandle(handles[key]!, signal, routing);
  return out as H;
}
