import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cancellation, handlesCancelledWith } from './cancellation.ts';
import type { CallOptions, ModelHandle } from './types.ts';
import { asModelOutputs } from './model-outputs.ts';

describe('Cancellation', () => {
  it('calls each listener once on abort, not ones removed or added afterwards', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    const a = () => calls.push('a');
    const b = () => calls.push('b');
    c.addEventListener('abort', a);
    c.addEventListener('abort', b);
    c.removeEventListener('abort', b);
    assert.equal(c.aborted, false);
    c.abort('gone');
    c.abort('again');
    c.addEventListener('abort', () => calls.push('late'));
    assert.deepEqual(calls, ['a']);
    assert.equal(c.aborted, true);
    assert.equal(c.reason, 'gone');
  });

  it('makes a real AbortSignal only when asked, aborted with the same reason before or after', () => {
    const before = new Cancellation();
    const signal = before.signal;
    assert.ok(signal instanceof AbortSignal);
    assert.equal(before.signal, signal, 'one signal per cancellation');
    before.abort('first');
    assert.equal(signal.aborted, true);
    assert.equal(signal.reason, 'first');

    const after = new Cancellation();
    after.abort('second');
    assert.equal(after.signal.aborted, true);
    assert.equal(after.signal.reason, 'second');
  });

  it('gives model calls the request signal unless a call brings its own', async () => {
    const seen: (CallOptions | undefined)[] = [];
    const handle: ModelHandle = {
      tag: 'm:1', framework: 'fake', signatures: {}, inputs: [], outputs: [],
      run: async (_feeds, options) => (seen.push(options), asModelOutputs({})),
      call: async (_method, _input, options) => (seen.push(options), null),
    };
    const request = new Cancellation();
    const own = new AbortController().signal;
    const { m } = handlesCancelledWith({ m: handle }, request);
    assert.equal(m!.tag, 'm:1');
    await m!.run({});
    await m!.run({}, { timeoutMs: 5 });
    await m!.call('x', 1, { signal: own });
    assert.equal(seen[0]!.signal, request);
    assert.deepEqual({ ...seen[1], signal: undefined }, { timeoutMs: 5, signal: undefined });
    assert.equal(seen[1]!.signal, request);
    assert.equal(seen[2]!.signal, own);
  });
});
