// Opens what `tiffin run` names as `tiffin serve` would: a service module, or a built bundle (checked against its
// bundle.yaml, models from its own models/ folder); then its models in runner pools and its startup hooks.
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { BUNDLE_LAYOUT, checkBundle, findBundle, linkDependencies } from '../bundle/index.ts';
import { TiffinError, messageOf } from '../errors/index.ts';
import type { LifecycleContext, ModelTags, RequestContext } from '../service/context.ts';
import { loadServiceModule } from '../service/load-module.ts';
import type { OpenedModels } from '../service/model-provider.ts';
import type { ApiMap, Service } from '../service/service.ts';
import { openDependencies, type Dependencies } from '../server/index.ts';
import { RunnerModelProvider } from '../serving/index.ts';

export interface OpenedService {
  svc: Service<ModelTags, ApiMap>;
  /** Names it in checkpoints: the bundle's tag, or the module's path. */
  id: string;
  models: OpenedModels;
  /** `ctx.services` for one row: the service's dependencies, each served by this process on a loopback port. */
  services(requestId: string): RequestContext<ModelTags>['services'];
  /** Runs the shutdown hooks (failures logged), then releases the models. */
  close(): Promise<void>;
}

export async function openService(target: string, log: Logger, warn: (line: string) => void): Promise<OpenedService> {
  const bundle = await findBundle(target);
  let file: string, id: string, storeRoot: string | undefined;
  if (bundle) {
    await checkBundle(bundle, { forServing: true });
    for (const w of linkDependencies(bundle)) warn(w);
    for (const [key, value] of Object.entries(bundle.manifest.env)) process.env[key] ??= value;
    file = join(bundle.dir, bundle.manifest.service.entry);
    id = `${bundle.manifest.name}:${bundle.manifest.version}`;
    storeRoot = join(bundle.dir, BUNDLE_LAYOUT.models);
  } else {
    file = resolve(target);
    id = file;
  }
  const svc = await loadServiceModule(file);
  const provider = () => new RunnerModelProvider(storeRoot ? { storeRoot } : {});
  // Dependencies run as they do under `tiffin serve` without --split: each its own server in this process, with
  // its own runners and batching, reached over loopback HTTP by the same typed calls.
  let dependencies: Dependencies | undefined;
  if (Object.keys(svc.depends).length > 0) dependencies = await openDependencies(svc, { logger: log }, log, provider);
  const services = (requestId: string) => (dependencies?.clients({ fetch: globalThis.fetch, requestId }) ?? {}) as RequestContext<ModelTags>['services'];
  let models: OpenedModels;
  try {
    models = await provider().open(svc.models);
  } catch (err) {
    await dependencies?.close();
    throw err;
  }
  const ctx: LifecycleContext<ModelTags> = { service: svc.name, models: models.handles, services: services('startup'), log };
  try {
    for (const hook of svc.startupHooks) await hook(ctx);
  } catch (err) {
    await models.close();
    await dependencies?.close();
    throw err instanceof TiffinError ? err : new TiffinError('INTERNAL', `startup hook failed: ${messageOf(err)}`, { cause: err });
  }
  return {
    svc, id, models, services,
    close: async () => {
      for (const hook of svc.shutdownHooks) await Promise.resolve().then(() => hook(ctx)).catch((err: unknown) => log.error({ err }, `shutdown hook failed: ${messageOf(err)}`));
      await models.close();
      await dependencies?.close();
    },
  };
}
