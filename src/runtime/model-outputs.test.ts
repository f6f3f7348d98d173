import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTiffinError } from '../errors/index.ts';
import { asModelOutputs } from './model-outputs.ts';
import { tensor } from './tensor.ts';

describe('ModelOutputs', () => {
  const out = asModelOutputs({ label: tensor('int64', [1], BigInt64Array.from([2n])), p: tensor('float32', [1, 2], Float32Array.from([0.25, 0.75])) });

  it('get returns an output typed by the dtype asked for', () => {
    const label: BigInt64Array = out.get('label', 'int64').data;
    assert.deepEqual([...label], [2n]);
    assert.equal(out.get('p').shape[1], 2);
  });

  it('keeps get out of enumeration, JSON and structured clone', () => {
    assert.deepEqual(Object.keys(out), ['label', 'p']);
    assert.deepEqual(Object.keys(JSON.parse(JSON.stringify({ ...out, label: undefined }))), ['p']);
    assert.deepEqual(Object.keys(structuredClone(out)), ['label', 'p']);
  });

  it('fails naming the output when it is missing or of another dtype', () => {
    assert.throws(() => out.get('labels', 'int64'), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /no output "labels"; it returned label, p/.test(e.message));
    assert.throws(() => out.get('p', 'float64'), (e) => isTiffinError(e, 'INFERENCE_FAILED') && /"p" is float32, not float64/.test(e.message));
    assert.throws(() => out.get('toString'), (e) => isTiffinError(e, 'INFERENCE_FAILED'));
  });

  it('copies a frozen map rather than failing, and leaves an output named get alone', () => {
    const frozen = asModelOutputs(Object.freeze({ y: tensor('float32', [1], Float32Array.from([1])) }));
    assert.equal(frozen.get('y', 'float32').data[0], 1);
    const named = asModelOutputs({ get: tensor('float32', [1], Float32Array.from([3])) });
    assert.equal((named.get as unknown as { dtype: string }).dtype, 'float32');
  });
});
