// A ModelHandle bound to a model name rather than a version: each call goes to the version that is the
// default at that moment, under a lease, so services keep working across hot reloads.
import type { Signature } from '../runtime/tensor.ts';
import type { TensorSpec, Tensors } from '../runtime/tensor.ts';
import type { CallOptions, ModelHandle } from '../runtime/types.ts';
import type { ModelLease, ResolvedModel, VersionSelector } from './types.ts';
import { type ModelOutputs } from '../runtime/model-outputs.ts';

/** The part of ModelRepository a routed handle needs (kept narrow to avoid an import cycle). */
export interface VersionRouter {
  resolve(name: string, selector?: VersionSelector): ResolvedModel;
  acquire(name: string, selector?: VersionSelector): ModelLease;
}

export class RoutedHandle implements ModelHandle {
  constructor(
    readonly name: string,
    private readonly router: VersionRouter,
    /** Pins the handle to a version or label; empty follows the default version. */
    readonly selector: VersionSelector = {},
  ) {}

  private get current(): ResolvedModel {
    return this.router.resolve(this.name, this.selector);
  }

  /** `name:version` of the version calls go to now. Throws MODEL_NOT_READY when there is none. */
  get tag(): string {
    const { name, version } = this.current;
    return `${name}:${version}`;
  }

  get framework(): string {
    return this.current.handle.framework;
  }

  get signatures(): Record<string, Signature> {
    return this.current.handle.signatures;
  }

  get inputs(): TensorSpec[] {
    return this.current.handle.inputs;
  }

  get outputs(): TensorSpec[] {
    return this.current.handle.outputs;
  }

  async run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs> {
    const lease = this.router.acquire(this.name, this.selector);
    try {
      return await lease.handle.run(feeds, options);
    } finally {
      lease.release();
    }
  }

  async call(method: string, input: unknown, options?: CallOptions): Promise<unknown> {
    const lease = this.router.acquire(this.name, this.selector);
    try {
      return await lease.handle.call(method, input, options);
    } finally {
      lease.release();
    }
  }
}
