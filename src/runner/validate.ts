// Checks a call's tensors against the method's declared inputs before it joins a batch, so that a bad
// request fails alone with a 400 naming the tensor, instead of failing the batch it would have joined.
import { TiffinError } from '../errors/index.ts';
import { isTensors } from '../batching/tensor-batch.ts';
import { assertTensor, elementCount, shapeMatches, type TensorSpec, type Tensors } from '../runtime/tensor.ts';
import type { Signature } from '../store/manifest.ts';
import { isDetached } from './transfer.ts';

export function checkInputs(signature: Signature, input: unknown, method: string): void {
  if (signature.inputs.length === 0) return; // a custom method that declares nothing takes anything
  if (!isTensors(input)) throw new TiffinError('TENSOR_INVALID', `${method} takes named tensors (${signature.inputs.map((s) => s.name).join(', ')})`);
  const feeds: Tensors = input;
  const known = new Map(signature.inputs.map((s) => [s.name, s]));
  for (const name of Object.keys(feeds)) {
    if (!known.has(name)) throw new TiffinError('TENSOR_INVALID', `unknown input "${name}"; ${method} takes ${[...known.keys()].join(', ')}`);
  }
  for (const spec of signature.inputs) {
    const t = feeds[spec.name];
    if (!t) throw new TiffinError('TENSOR_INVALID', `missing input "${spec.name}" (${spec.dtype} [${spec.shape.join(', ')}])`);
    if (elementCount(t.shape) > 0 && isDetached(t.data)) {
      throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" has no data left: its buffer was moved to a runner by an earlier call (runners take over the tensors they are given; pass a copy to reuse one)`);
    }
    assertTensor(t, `input "${spec.name}"`);
    if (t.dtype !== spec.dtype) throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" must be ${spec.dtype}, got ${t.dtype}`);
    if (!shapeMatches(spec.shape, t.shape)) {
      throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" must have shape [${spec.shape.join(', ')}] (-1: any size), got [${t.shape.join(', ')}]`);
    }
  }
}

export function checkOutputs(outputs: readonly TensorSpec[], wanted: readonly string[] | undefined, method: string): void {
  if (!wanted || outputs.length === 0) return;
  for (const name of wanted) {
    if (!outputs.some((o) => o.name === name)) {
      throw new TiffinError('TENSOR_INVALID', `unknown output "${name}"; ${method} returns ${outputs.map((o) => o.name).join(', ')}`);
    }
  }
}
