// Checks a call's tensors against the method's declared inputs before it joins a batch, so that a bad
// request fails alone with a 400 naming the tensor, instead of failing the batch it would have joined.
import { TiffinError } from '../errors/index.ts';
import { isTensors } from '../batching/tensor-batch.ts';
import { checkFeeds, checkOutputNames } from '../runtime/check.ts';
import { elementCount, type TensorSpec } from '../runtime/tensor.ts';
import type { Signature } from '../runtime/tensor.ts';
import { isDetached } from './transfer.ts';

export function checkInputs(signature: Signature, input: unknown, method: string): void {
  if (signature.inputs.length === 0) return; // a custom method that declares nothing takes anything
  if (!isTensors(input)) throw new TiffinError('TENSOR_INVALID', `${method} takes named tensors (${signature.inputs.map((s) => s.name).join(', ')})`);
  checkFeeds(signature.inputs, input, method, (spec, t) => {
    if (elementCount(t.shape) > 0 && isDetached(t.data)) {
      throw new TiffinError('TENSOR_INVALID', `input "${spec.name}" has no data left: its buffer was moved to a runner by an earlier call (runners take over the tensors they are given; pass a copy to reuse one)`);
    }
  });
}

export function checkOutputs(outputs: readonly TensorSpec[], wanted: readonly string[] | undefined, method: string): void {
  if (wanted && outputs.length > 0) checkOutputNames(outputs, wanted, method);
}
