import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Gate, GateKeeper, newGate } from './native-gate.ts';

class Exited extends Error {}

function pair(): { keeper: GateKeeper; gate: Gate; exits: () => number } {
  const buffer = newGate();
  let exits = 0;
  const gate = new Gate(buffer, () => {
    exits++;
    throw new Exited();
  });
  return { keeper: new GateKeeper(buffer), gate, exits: () => exits };
}

describe('native gate', () => {
  it('lets the main thread terminate a worker that is outside native code, and keeps it out afterwards', async () => {
    const { keeper, gate, exits } = pair();
    assert.equal(await gate.run(() => 7), 7);
    assert.equal(keeper.requestKill(), true, 'idle: terminate now');
    let ran = false;
    await assert.rejects(gate.run(() => (ran = true)), Exited);
    assert.equal(ran, false, 'no native call starts once a kill was asked for');
    assert.equal(exits(), 1);
  });

  it('defers a kill asked for inside native code to the moment the call returns', async () => {
    const { keeper, gate, exits } = pair();
    let finish!: (v: string) => void;
    const running = gate.run(() => new Promise<string>((r) => (finish = r)));
    assert.equal(keeper.requestKill(), false, 'inside native code: never terminate');
    assert.equal(keeper.requestKill(), false, 'asking twice changes nothing');
    assert.equal(exits(), 0, 'the call is left to finish');
    finish('done');
    await assert.rejects(running, Exited);
    assert.equal(exits(), 1, 'the worker ends itself when the call returns');
  });

  it('counts calls under way, so a kill waits for all of them rather than the first to return', async () => {
    const { keeper, gate, exits } = pair();
    const finish: (() => void)[] = [];
    const first = gate.run(() => new Promise<void>((r) => finish.push(r)));
    const second = gate.run(() => new Promise<void>((r) => finish.push(r)));
    finish[0]!();
    await first;
    assert.equal(keeper.requestKill(), false, 'one call is still under way');
    finish[1]!();
    await assert.rejects(second, Exited);
    assert.equal(exits(), 1);
  });

  it('leaves a call that fails on its own to fail as usual', async () => {
    const { gate, keeper } = pair();
    await assert.rejects(gate.run(() => Promise.reject(new Error('bad input'))), /bad input/);
    assert.equal(keeper.requestKill(), true, 'the gate is open again after a failure');
  });
});
