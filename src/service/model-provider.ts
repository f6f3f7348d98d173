// The seam between a service and wherever its models run. The server asks a ModelProvider for the
// service's models at startup and closes them at shutdown; it never loads models itself.
import { TiffinError, messageOf } from '../errors/index.ts';
import type { Model, ModelHandle } from '../runtime/types.ts';
import type { ModelTags } from './context.ts';

/** Models opened for one service: handles by the service's keys, and a way to release them all. */
export interface OpenedModels {
  readonly handles: Readonly<Record<string, ModelHandle>>;
  close(): Promise<void>;
  /** Whether the models can serve now (a model unloaded by hand cannot); absent: always, once opened. */
  ready?(): boolean;
  /** Why they cannot serve when ready() is false (a remote runner with no ready endpoint), for /readyz; absent: a generic message. */
  notReadyReason?(): string | undefined;
  /** Model calls in flight now (shutdown waits for them, as for requests); absent: not counted. */
  inFlight?(): number;
}

export interface ModelProvider {
  /** Loads every model (key -> store tag); fails as a whole, releasing what it had loaded. */
  open(models: ModelTags): Promise<OpenedModels>;
}

/** Anything that loads a stored model by tag, such as `Models` from src/models. */
export interface ModelLoader {
  load(tag: string): Promise<Model>;
}

/** One opened model: what handlers call, and how to release it. */
export interface OpenedModel {
  handle: ModelHandle;
  close(): Promise<void>;
}

/**
 * Opens every model of a service with `openOne`, all at once. Fails as a whole, naming the service's key and
 * tag, and releases whatever had opened.
 */
export async function openAll(models: ModelTags, openOne: (tag: string) => Promise<OpenedModel>): Promise<OpenedModels> {
  const entries = Object.entries(models);
  const results = await Promise.allSettled(entries.map(([, tag]) => openOne(tag)));
  const opened = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const closeAll = async () => {
    await Promise.allSettled(opened.map((m) => m.close()));
  };
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed !== -1) {
    await closeAll();
    const [key, tag] = entries[failed]!;
    const reason = (results[failed] as PromiseRejectedResult).reason;
    if (reason instanceof TiffinError) throw new TiffinError(reason.code, `model "${key}" (${tag}): ${reason.message}`, { cause: reason, details: reason.details });
    throw new TiffinError('MODEL_LOAD_FAILED', `model "${key}" (${tag}) failed to load: ${messageOf(reason)}`, { cause: reason });
  }
  const handles: Record<string, ModelHandle> = {};
  entries.forEach(([key], i) => {
    handles[key] = (results[i] as PromiseFulfilledResult<OpenedModel>).value.handle;
  });
  return { handles, close: closeAll };
}

/**
 * Loads each model into this thread with the framework's runtime. For tests and tools only: ONNX `run`
 * blocks the event loop while it computes, so servers use runners (the default, see src/server).
 */
export class InProcessModelProvider implements ModelProvider {
  /** `loader` defaults to the models API over the default store ($TIFFIN_HOME). */
  constructor(private readonly loader?: ModelLoader) {}

  private async resolveLoader(): Promise<ModelLoader> {
    if (this.loader) return this.loader;
    // Imported late so that defining a service does not load the store or any runtime.
    const { Models } = await import('../models/index.ts');
    return new Models();
  }

  async open(models: ModelTags): Promise<OpenedModels> {
    if (Object.keys(models).length === 0) return { handles: {}, close: async () => {} };
    const loader = await this.resolveLoader();
    return openAll(models, async (tag) => {
      const model = await loader.load(tag);
      return { handle: model, close: () => model.dispose() };
    });
  }
}
