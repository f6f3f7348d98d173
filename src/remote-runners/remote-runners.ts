// The remote runners an API server (`tiffin serve --role api`) calls instead of loading models: one RemoteRunner
// per configured model, a ModelLoader for the model repository whose versions are handles on them (so services'
// ctx.models, the protocol routes and zero-code V2 work unchanged), and their readiness for /readyz.
import { TiffinError } from '../errors/index.ts';
import type { LoadedModel, ModelLoader, RepositoryLogger } from '../repository/index.ts';
import { asModelOutputs, type ModelOutputs } from '../runtime/model-outputs.ts';
import type { Signature, TensorSpec, Tensors } from '../runtime/tensor.ts';
import type { CallOptions } from '../runtime/types.ts';
import type { ModelManifest } from '../store/manifest.ts';
import type { RunnersSection } from './config.ts';
import { RemoteRunner } from './remote-runner.ts';

/** A served version whose calls go to its model's remote runner. The contract is the in-process runner's. */
class RemoteModelHandle implements LoadedModel {
  readonly tag: string;
  readonly framework: string;
  readonly signatures: Record<string, Signature>;
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
  private readonly version: string;

  constructor(
    private readonly runner: RemoteRunner,
    manifest: ModelManifest,
  ) {
    this.version = manifest.version;
    this.tag = `${manifest.name}:${manifest.version}`;
    this.framework = manifest.framework;
    this.signatures = manifest.signatures;
    const run = manifest.signatures.run ?? Object.values(manifest.signatures)[0];
    this.inputs = run?.inputs ?? [];
    this.outputs = run?.outputs ?? [];
  }

  async run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    return asModelOutputs(await this.runner.infer(feeds, options, this.version));
  }

  call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    // KServe V2 carries named tensors to a model's one inference method; a custom model's other methods cannot cross it.
    if (method === 'run' || (Object.keys(this.signatures).length === 1 && method in this.signatures)) return this.run(input as Tensors, options);
    return Promise.reject(new TiffinError('BAD_REQUEST', `method "${method}" of ${this.tag} cannot be called on a remote runner: KServe V2 carries tensors to the model's run method only; serve this model in process (no --role api) to call its other methods`));
  }

  /** The runner's connections belong to RemoteRunners, shared by every version. */
  async close(): Promise<void> {}
}

export interface RemoteRunnersOptions {
  logger?: RepositoryLogger;
  /** Readiness poll interval per endpoint; default 1000 ms. */
  pollMs?: number;
  /** The token for runners that have none of their own (TIFFIN_RUNNER_TOKEN: the inference token runners share). */
  defaultToken?: string | undefined;
}

export class RemoteRunners {
  private readonly runners = new Map<string, RemoteRunner>();

  constructor(section: RunnersSection, options: RemoteRunnersOptions = {}) {
    const log = options.logger;
    for (const [model, config] of Object.entries(section)) {
      const token = config.token ?? options.defaultToken;
      this.runners.set(model, new RemoteRunner(model, token ? { ...config, token } : config, {
        ...(options.pollMs ? { pollMs: options.pollMs } : {}),
        onStateChange: (runner, endpoint) => {
          const line = `remote runner of model ${runner.model} at ${endpoint.address}: ${endpoint.state}${endpoint.reason ? ` (${endpoint.reason})` : ''}`;
          if (endpoint.state === 'ready') log?.info({ runner: runner.model, endpoint: endpoint.address }, line);
          else log?.warn({ runner: runner.model, endpoint: endpoint.address }, line);
        },
        onVersionMismatch: (runner, expected, answered) => {
          log?.warn({ runner: runner.model, expected, answered }, `the remote runner of model ${runner.model} answered with version ${answered}, not ${expected} as this server's store has it: give the API and runner Deployments the same bundle`);
        },
      }));
    }
  }

  names(): string[] {
    return [...this.runners.keys()].sort();
  }

  /** Fails with CONFIG_INVALID naming every model that has no runner configured. */
  requireAll(models: Iterable<string>): void {
    const missing = [...new Set(models)].filter((m) => !this.runners.has(m));
    if (missing.length === 0) return;
    throw new TiffinError(
      'CONFIG_INVALID',
      `--role api needs a remote runner for every model it serves; none is configured for ${missing.join(', ')}: add it to \`runners:\` in tiffin.yaml ` +
        `(runners: { ${missing[0]}: { endpoints: [${missing[0]}-runner:8001] } }) or TIFFIN_RUNNERS=${missing.map((m) => `${m}=host:port`).join(',')}`,
    );
  }

  /** The model repository's loader: each version a handle on its model's runner. */
  loader(): ModelLoader {
    return async (tag, { manifest }) => {
      const runner = this.runners.get(manifest.name);
      if (!runner) throw new TiffinError('CONFIG_INVALID', `model ${tag} has no remote runner configured (runners.${manifest.name} or TIFFIN_RUNNERS)`);
      return new RemoteModelHandle(runner, manifest);
    };
  }

  /** Why the server is not ready because of a runner (the first with no ready endpoint), or undefined. */
  notReady(): string | undefined {
    for (const runner of this.runners.values()) {
      const why = runner.notReady();
      if (why) return why;
    }
    return undefined;
  }

  close(): void {
    for (const runner of this.runners.values()) runner.close();
  }
}
