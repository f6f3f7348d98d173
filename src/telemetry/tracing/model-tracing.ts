// A span for every model call a handler or a protocol route makes (`tiffin.inference`: from the call to its
// result, queue wait and batch included), so a request's trace shows where its time went. The call passes the
// span on in CallOptions.traceContext, so a runner's queue and batch spans become its children. Handles are
// wrapped per request only when that request is traced; otherwise they are called as they are, at no cost.
import { SpanStatusCode, type Context } from '@opentelemetry/api';
import type { CallOptions, ModelHandle } from '../../runtime/types.ts';
import type { Tensors } from '../../runtime/tensor.ts';
import { WrappedHandle } from '../../runtime/wrapped-handle.ts';
import { TIFFIN_ATTR, type Tracing } from './tracing.ts';
import { type ModelOutputs } from '../../runtime/model-outputs.ts';

/** A handle with run() and call() traced under `parent`: each call gets a `tiffin.inference` span, passed on to the
 * handle as CallOptions.traceContext. `key` names the model as the caller knows it (a service's model key, or the
 * model name for protocol requests). */
class TracedHandle extends WrappedHandle {
  constructor(
    inner: ModelHandle,
    private readonly key: string,
    private readonly tracing: Tracing,
    private readonly parent: Context,
  ) {
    super(inner);
  }

  run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    return this.traced('run', options, (o) => this.inner.run(feeds, o));
  }

  call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    return this.traced(method, options, (o) => this.inner.call(method, input, o));
  }

  /** Runs `start` with the span's context in its options and ends the span when it settles, failed on an error. */
  private traced<T>(method: string, options: CallOptions | undefined, start: (options: CallOptions) => Promise<T>): Promise<T> {
    const span = this.tracing.startSpan('tiffin.inference', this.parent, {
      attributes: { [TIFFIN_ATTR.model]: this.inner.tag, 'tiffin.model.key': this.key, 'tiffin.model.method': method },
    });
    let running: Promise<T>;
    try {
      running = start({ ...options, traceContext: this.tracing.contextWith(this.parent, span) });
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.then(
      (out) => {
        span.end();
        return out;
      },
      (err: unknown) => {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.end();
        throw err;
      },
    );
  }
}

/** `handle` traced under `parent` (see TracedHandle). */
export function tracedHandle(handle: ModelHandle, key: string, tracing: Tracing, parent: Context): ModelHandle {
  return new TracedHandle(handle, key, tracing, parent);
}

/** The handles a traced request's handler sees. Plain properties, not lazy accessors: objects given fresh
 * accessor closures per request each get a hidden class of their own, which costs more garbage collection than
 * wrapping every handle up front (see runtime/cancellation.ts). */
export function tracedHandles<H extends Readonly<Record<string, ModelHandle>>>(handles: H, tracing: Tracing, parent: Context): H {
  const out: Record<string, ModelHandle> = {};
  for (const key in handles) out[key] = tracedHandle(handles[key]!, key, tracing, parent);
  return out as H;
}
