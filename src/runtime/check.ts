// Checks of named tensors against declared specs, shared by in-process models and runners, so that a bad
// request gets a 400 naming the tensor (not a runtime trace) and fails before it can join a batch.
import { TiffinError } from '../errors/index.ts';
import { assertTensor, shapeMatches, type Tensor, type TensorSpec, type Tensors } from './tensor.ts';

/**
 * Every declared input present with the right dtype and a fitting shape, nothing undeclared.
 * `inspect` runs on each tensor before the generic checks, for a caller's own, more precise message.
 */
export function checkFeeds(specs: readonly TensorSpec[], feeds: Tensors, owner: string, inspect?: (spec: TensorSpec, t: Tensor) => void): void {
  const known = new Set(specs.map((s) => s.name));
  for (const name of Object.keys(feeds)) {
    if (!known.has(name)) throw new TiffinError('TENSOR_INVALID', `unknown input "${name}"; ${owner} takes ${[...known].join(', ')}`);
  }
  for (const spec of specs) {
    const t = feeds[spec.name];
    if (!t) throw new TiffinError('TENSOR_INVALID', `missing input "${spec.name}" (${spec.dtype} [${spec.shape.join(', ')}])`);
    inspect?.(spec, t);
    assertTensor(t, `input "${spec.name}"`);
    if (t.dtype !== spec.dtype) throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" must be ${spec.dtype}, got ${t.dtype}`);
    if (!shapeMatches(spec.shape, t.shape)) {
      throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" must have shape [${spec.shape.join(', ')}] (-1: any size), got [${t.shape.join(', ')}]`);
    }
  }
}

/** Every requested output is one the model declares. */
export function checkOutputNames(specs: readonly TensorSpec[], wanted: readonly string[], owner: string): void {
  for (const name of wanted) {
    if (!specs.some((o) => o.name === name)) {
      throw new TiffinError('TENSOR_INVALID', `unknown output "${name}"; ${owner} returns ${specs.map((o) => o.name).join(', ')}`);
    }
  }
}
