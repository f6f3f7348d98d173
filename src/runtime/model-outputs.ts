// What `ModelHandle.run` answers: the named output tensors, plus `get(name, dtype)`, which returns one of them
// typed, so a handler reads `out.get('probabilities', 'float32').data` as a Float32Array without a cast, and a
// missing output or a dtype other than the one the code expects fails with a message naming both.
import { TiffinError } from '../errors/index.ts';
import type { DType, Tensor, Tensors } from './tensor.ts';

export type ModelOutputs = Tensors & {
  /** The output `name`, checked to be of `dtype` when one is given. */
  get<D extends DType>(name: string, dtype?: D): Tensor<D>;
};

function get<D extends DType>(this: Tensors, name: string, dtype?: D): Tensor<D> {
  const t = Object.hasOwn(this, name) ? this[name] : undefined;
  if (!t) {
    const names = Object.keys(this).sort();
    throw new TiffinError('INFERENCE_FAILED', `the model returned no output "${name}"; it returned ${names.length ? names.join(', ') : 'none'}`);
  }
  if (dtype !== undefined && t.dtype !== dtype) {
    throw new TiffinError('INFERENCE_FAILED', `output "${name}" is ${t.dtype}, not ${dtype}`);
  }
  return t as Tensor<D>;
}

/** `tensors` with `get` attached, not enumerable, so Object.entries, JSON and structured clone see only the
 * outputs (a frozen map is copied first). An output that is itself named "get" keeps its name and the accessor is not attached. */
export function asModelOutputs(tensors: Tensors): ModelOutputs {
  if (!Object.isExtensible(tensors)) tensors = { ...tensors }; // a custom model's frozen answer
  if (!Object.hasOwn(tensors, 'get')) Object.defineProperty(tensors, 'get', { value: get, enumerable: false, configurable: true });
  return tensors as ModelOutputs;
}
