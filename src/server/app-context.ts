// What every part of the HTTP app shares: the service, the resolved options, its lifecycle and logger.
import type { Logger } from 'pino';
import type { ModelTags } from '../service/context.ts';
import type { Telemetry } from '../telemetry/index.ts';
import type { ApiMap, Service } from '../service/service.ts';
import type { Dependencies } from './dependencies.ts';
import type { ServiceLifecycle } from './lifecycle.ts';
import type { ResolvedServerOptions } from './options.ts';
import type { ServiceTasks } from './tasks.ts';

export interface AppContext {
  svc: Service<ModelTags, ApiMap>;
  options: ResolvedServerOptions;
  lifecycle: ServiceLifecycle;
  /** The services this one calls (`ctx.services`). */
  dependencies: Dependencies;
  /** The service's tasks (src/server/tasks.ts): their store and queues. */
  tasks: ServiceTasks;
  log: Logger;
  /** Metrics, access log, tracing and prediction logs of this server. */
  telemetry: Telemetry;
  startedAt: number;
}
