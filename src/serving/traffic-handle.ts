// A service's model handle under traffic routing: a handler's `ctx.models.iris.run(...)` goes to the variant iris's
// route picks for the API request behind it (CallOptions.routing: its headers, its parsed input, its id), exactly as
// an unversioned protocol request would. The server names the variant in the answer's x-tiffin-variant
// (`iris=2`) and access log; a sampled copy goes to the shadow; a bandit learns from feedback by the API request's id.
// Without a route (or outside a request) calls follow the model's default version, as before.
import type { ModelRepository } from '../repository/index.ts';
import type { ModelOutputs } from '../runtime/model-outputs.ts';
import type { Tensors } from '../runtime/tensor.ts';
import type { CallOptions, ModelHandle } from '../runtime/types.ts';
import { WrappedHandle } from '../runtime/wrapped-handle.ts';
import type { ModelTags } from '../service/context.ts';
import type { ModelProvider, OpenedModels } from '../service/model-provider.ts';
import { parseTag } from '../store/tag.ts';
import { RoutedCall, copyTensors, type TrafficManager } from '../traffic/index.ts';

const NO_HEADERS: Readonly<Record<string, string | undefined>> = Object.freeze({});

export class TrafficRoutedHandle extends WrappedHandle {
  constructor(
    /** The handle that follows the model's default version: unrouted calls, and what the handle reports. */
    inner: ModelHandle,
    private readonly name: string,
    private readonly repository: ModelRepository,
    private readonly traffic: TrafficManager,
  ) {
    super(inner);
  }

  private begin(options: CallOptions | undefined): RoutedCall | undefined {
    const routing = options?.routing;
    const routed = RoutedCall.begin(this.traffic, this.name, routing?.headers ?? NO_HEADERS, routing?.input);
    if (routed) routing?.routed(this.name, routed.version);
    return routed;
  }

  /** Runs `work` on `version` under a lease, so hot reload never closes it mid-call. */
  private async onVersion<T>(version: string, work: (handle: ModelHandle) => Promise<T>): Promise<T> {
    const lease = this.repository.acquire(this.name, { version });
    try {
      return await work(lease.handle);
    } finally {
      lease.release();
    }
  }

  async run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    const routed = this.begin(options);
    if (!routed) return this.inner.run(feeds, options);
    const shadowFeeds = routed.planShadow() ? copyTensors(feeds) : undefined;
    const requestId = options?.routing?.requestId ?? options?.requestId;
    const results = await routed.run(requestId, () => this.onVersion(routed.version, (h) => h.run(feeds, options)));
    if (shadowFeeds) {
      // Not the request's signal: the shadow outlives it, and its answer goes nowhere.
      const shadowOptions: CallOptions = {};
      if (options?.outputs) shadowOptions.outputs = options.outputs;
      if (requestId !== undefined) shadowOptions.requestId = requestId;
      routed.shadow(results, (version) => this.onVersion(version, (h) => h.run(shadowFeeds, shadowOptions)));
    }
    return results;
  }

  /** Any method (custom models): routed like run; no shadow copy (its answers are not tensors to compare). */
  async call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    const routed = this.begin(options);
    if (!routed) return this.inner.call(method, input, options);
    return routed.run(options?.routing?.requestId ?? options?.requestId, () => this.onVersion(routed.version, (h) => h.call(method, input, options)));
  }
}

/** `provider` with each key whose tag names no version (`iris`, `iris:latest`) routed by its model's traffic route;
 * a tag that names a version is a fixed choice and never rerouted (as /versions/{v}/infer). No traffic: `provider`. */
export function withTrafficRoutes(provider: ModelProvider, repository: ModelRepository, traffic: TrafficManager | undefined): ModelProvider {
  if (!traffic) return provider;
  return {
    async open(models: ModelTags): Promise<OpenedModels> {
      const opened = await provider.open(models);
      const handles: Record<string, ModelHandle> = { ...opened.handles };
      for (const [key, tag] of Object.entries(models)) {
        const { name, version } = parseTag(tag);
        if (version === undefined && handles[key]) handles[key] = new TrafficRoutedHandle(handles[key], name, repository, traffic);
      }
      return { ...opened, handles };
    },
  };
}
