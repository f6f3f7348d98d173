// A ModelHandle that wraps another and describes itself as that one (tag, framework, signatures, inputs,
// outputs); subclasses decide how calls pass through. A class rather than object literals: servers make such
// wrappers per request, and a literal's getters are new closures each time, with a hidden class of their own.
import type { Signature } from './tensor.ts';
import type { TensorSpec, Tensors } from './tensor.ts';
import type { CallOptions, ModelHandle } from './types.ts';
import { type ModelOutputs } from './model-outputs.ts';

export abstract class WrappedHandle implements ModelHandle {
  constructor(protected readonly inner: ModelHandle) {}

  get tag(): string {
    return this.inner.tag;
  }

  get framework(): string {
    return this.inner.framework;
  }

  get signatures(): Record<string, Signature> {
    return this.inner.signatures;
  }

  get inputs(): TensorSpec[] {
    return this.inner.inputs;
  }

  get outputs(): TensorSpec[] {
    return this.inner.outputs;
  }

  abstract run(feeds: Tensors, options?: CallOptions): Promise<ModelOutputs>;
  abstract call(method: string, input: unknown, options?: CallOptions): Promise<unknown>;
}
