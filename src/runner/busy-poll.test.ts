import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BusyPoll } from './busy-poll.ts';

/** The share of `ms` that this thread's event loop spent not asleep waiting for I/O. */
async function utilizationOver(ms: number): Promise<number> {
  const start = performance.eventLoopUtilization();
  await sleep(ms);
  return performance.eventLoopUtilization(start).utilization;
}

describe('BusyPoll', () => {
  it('keeps the event loop from sleeping for the window, then lets it sleep', async () => {
    new BusyPoll().extend(60);
    assert.ok((await utilizationOver(40)) > 0.8, 'polling: the loop never waits in epoll');
    await sleep(40);
    assert.ok((await utilizationOver(40)) < 0.3, 'after the window the loop sleeps again');
  });

  it('stops as soon as nothing is expected any more', async () => {
    let expected = true;
    let turns = 0;
    new BusyPoll(() => {
      turns++;
      return expected;
    }).extend(10_000);
    await sleep(20);
    assert.ok(turns > 10, `polled ${turns} times`);
    expected = false;
    await sleep(5);
    const after = turns;
    assert.ok((await utilizationOver(40)) < 0.3);
    assert.equal(turns, after, 'no turn once worthIt() said no');
  });

  it('lets timers fire while it polls, and a second extend lengthens the window', async () => {
    const poll = new BusyPoll();
    poll.extend(20);
    poll.extend(80);
    const started = performance.now();
    await sleep(10); // a timer fires on time while the loop polls
    assert.ok(performance.now() - started < 60);
    assert.ok((await utilizationOver(40)) > 0.8, 'still polling past the first window');
    poll.extend(0);
    await sleep(60);
    assert.ok((await utilizationOver(40)) < 0.3);
  });
});
