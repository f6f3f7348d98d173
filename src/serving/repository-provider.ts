// A service's models served from a ModelRepository: each key becomes a handle that follows the model's
// default version (hot reload included), or stays on the version its tag names. The same repository
// backs the protocol routes, so a service and the standard protocols share one set of runners.
import { TiffinError } from '../errors/index.ts';
import type { ModelRepository } from '../repository/index.ts';
import type { ModelHandle } from '../runtime/types.ts';
import type { ModelTags } from '../service/context.ts';
import type { ModelProvider, OpenedModels } from '../service/model-provider.ts';
import { parseTag } from '../store/tag.ts';

export class RepositoryModelProvider implements ModelProvider {
  /** `remote`: the remote runners the repository's versions call (`--role api`), whose readiness joins the repository's. */
  constructor(
    readonly repository: ModelRepository,
    private readonly remote?: { notReady(): string | undefined },
  ) {}

  /** Adds the service's models, loads everything, and fails (as a service's startup must) if one of its models has no ready version. */
  async open(models: ModelTags): Promise<OpenedModels> {
    const wanted = Object.entries(models).map(([key, tag]) => ({ key, tag, ...parseTag(tag) }));
    // A model missing from the store is the caller's mistake (MODEL_NOT_FOUND), not a load failure.
    const { store } = this.repository;
    for (const { key, tag, name, version } of wanted) {
      const stored = await store.list({ name });
      if (stored.length === 0) {
        throw new TiffinError('MODEL_NOT_FOUND', `model "${key}" (${tag}): no versions of ${name} in the store (${store.root})`, { details: { tag } });
      }
      if (version !== undefined && !stored.some((m) => m.version === version)) {
        const versions = stored.map((m) => m.version);
        throw new TiffinError('MODEL_NOT_FOUND', `model "${key}" (${tag}): no version ${version} of ${name} in the store (versions, newest first: ${versions.join(', ')})`, {
          details: { tag, versions },
        });
      }
    }
    for (const { name } of wanted) if (!this.repository.has(name)) await this.repository.add({ name });
    for (const { name, version } of wanted) if (version !== undefined) await this.repository.pin(name, version);
    await this.repository.start();
    const handles: Record<string, ModelHandle> = {};
    for (const { key, tag, name, version } of wanted) {
      const selector = version === undefined ? {} : { version };
      try {
        this.repository.resolve(name, selector);
      } catch (err) {
        const why = err instanceof TiffinError ? err.message : String(err);
        throw new TiffinError('MODEL_LOAD_FAILED', `model "${key}" (${tag}): ${why}`, { cause: err });
      }
      handles[key] = this.repository.handle(name, selector);
    }
    const { remote } = this;
    return {
      handles,
      close: () => this.repository.close(),
      ready: () => this.repository.ready && remote?.notReady() === undefined,
      notReadyReason: () => (this.repository.ready ? remote?.notReady() : undefined),
      inFlight: () => this.repository.inFlight,
    };
  }
}
