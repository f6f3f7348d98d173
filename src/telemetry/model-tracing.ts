// A span for every model call a handler or a protocol route makes (`tiffin.inference`: from the call to its
// result, queue wait and batch included), so a request's trace shows where its time went. The call passes the
// span on in CallOptions.traceContext, so a runner's queue and batch spans become its children. Handles are
// wrapped per request only when that request is traced; otherwise they are called as they are, at no cost.
import { SpanStatusCode, type Context, type Span } from '@opentelemetry/api';
import type { CallOptions, ModelHandle } from '../runtime/types.ts';
import type { Tensors } from '../runtime/tensor.ts';
import { TIFFIN_ATTR, type Tracing } from './tracing.ts';

function traced<T>(
  tracing: Tracing,
  parent: Context,
  handle: ModelHandle,
  key: string,
  method: string,
  options: CallOptions | undefined,
  run: (options: CallOptions) => Promise<T>,
): Promise<T> {
  const span: Span = tracing.startSpan('tiffin.inference', parent, {
    attributes: { [TIFFIN_ATTR.model]: handle.tag, 'tiffin.model.key': key, 'tiffin.model.method': method },
  });
  let running: Promise<T>;
  try {
    running = run({ ...options, traceContext: tracing.contextWith(parent, span) });
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

/** `handle` with run() and call() traced under `parent`: each call gets a `tiffin.inference` span, passed on to the
 * handle as CallOptions.traceContext. `key` names the model as the caller knows it (a service's model key, or the
 * model name for protocol requests). */
export function tracedHandle(handle: ModelHandle, key: string, tracing: Tracing, parent: Context): ModelHandle {
  return {
    get tag() {
      return handle.tag;
    },
    get framework() {
      return handle.framework;
    },
    get signatures() {
      return handle.signatures;
    },
    get inputs() {
      return handle.inputs;
    },
    get outputs() {
      return handle.outputs;
    },
    run: (feeds: Tensors, options?: CallOptions) => traced(tracing, parent, handle, key, 'run', options, (o) => handle.run(feeds, o)),
    call: (method: string, input: unknown, options?: CallOptions) =>
      traced(tracing, parent, handle, key, method, options, (o) => handle.call(method, input, o)),
  };
}

/** The handles a traced request's handler sees. Plain properties, not lazy accessors: objects given fresh
 * accessor closures per request each get a hidden class of their own, which costs more garbage collection than
 * wrapping every handle up front (see runtime/cancellation.ts). */
export function tracedHandles<H extends Readonly<Record<string, ModelHandle>>>(handles: H, tracing: Tracing, parent: Context): H {
  const out: Record<string, ModelHandle> = {};
  for (const key in handles) out[key] = tracedHandle(handles[key]!, key, tracing, parent);
  return out as H;
}
