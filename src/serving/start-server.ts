// startServer, the public way to serve a Service: the server layer's serveService with the default
// ModelProvider, each model in a RunnerPool (worker-thread replicas, adaptive batching).
import type { RunningServer, ServerOptions } from '../server/index.ts';
import { serveService } from '../server/index.ts';
import type { ModelTags } from '../service/context.ts';
import type { ApiMap, Service } from '../service/service.ts';
import { RunnerModelProvider } from './runner-model-provider.ts';

/** Listens first (so /livez and /readyz answer during start-up), then loads the models and runs the start-up hooks; `ready` settles when that is done. */
export function startServer<M extends ModelTags, A extends ApiMap>(svc: Service<M, A>, options: ServerOptions & { storeRoot?: string } = {}): Promise<RunningServer> {
  // storeRoot: where the runners load models from, for the service's dependencies too (default the local store).
  const { storeRoot, ...serverOptions } = options;
  return serveService(svc, serverOptions, (telemetry) => new RunnerModelProvider(storeRoot ? { storeRoot } : {}, telemetry));
}
