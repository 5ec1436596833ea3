import { describe, expect, it } from 'vitest';
import { ConnectivityMonitor } from '../../../src/core/upload/connectivity-monitor.js';
import { VirtualClock } from './virtual-clock.js';

/** A relay stand-in for the probe only: answers once `upAt` (virtual ms) has passed. */
function monitorWith(clock: VirtualClock, upAt: number) {
  const probes: number[] = [];
  const monitor = new ConnectivityMonitor({
    probe: async () => {
      probes.push(clock.now);
      return clock.now >= upAt;
    },
    backoffBaseMs: 100, backoffMaxMs: 1_000, sleep: clock.sleep, random: () => 1,
  });
  const changes: boolean[] = [];
  monitor.on('change', (online) => changes.push(online));
  return { monitor, probes, changes };
}

describe('connectivity monitor', () => {
  it('assumes online, turns offline when a check fails, and probes with backoff until the relay answers', async () => {
    const clock = new VirtualClock();
    const { monitor, probes, changes } = monitorWith(clock, 5_000);
    expect(monitor.online).toBe(true);
    expect(await monitor.check()).toBe(false);
    expect(monitor.online).toBe(false);
    const waiting = monitor.waitForOnline();
    await clock.run();
    expect(await waiting).toBe(true);
    expect(changes).toEqual([false, true]);
    // 100, 200, 400, 800, then every 1,000 ms: the first probe at or after 5 s answers.
    expect(probes).toEqual([0, 100, 300, 700, 1500, 2500, 3500, 4500, 5500]);
  });

  it('shares one probe loop between waiters, and stops probing when no one waits', async () => {
    const clock = new VirtualClock();
    const { monitor, probes } = monitorWith(clock, Infinity);
    await monitor.check();
    const first = new AbortController();
    const second = new AbortController();
    const waits = [monitor.waitForOnline(first.signal), monitor.waitForOnline(second.signal)];
    await clock.runUntil(2_000);
    first.abort();
    await clock.runUntil(4_000);
    const whileWaiting = probes.length;
    second.abort();
    expect(await Promise.all(waits)).toEqual([false, false]);
    await clock.runUntil(100_000);
    expect(probes.length).toBe(whileWaiting);
    // One loop for both waiters: the check, then backoff times, not two interleaved series.
    expect(probes).toEqual([0, 100, 300, 700, 1500, 2500, 3500]);
  });

  it('answers at once when online, and when a check elsewhere finds the relay again', async () => {
    const clock = new VirtualClock();
    let up = false;
    const monitor = new ConnectivityMonitor({ probe: async () => up, sleep: clock.sleep, backoffBaseMs: 60_000, backoffMaxMs: 60_000 });
    expect(await monitor.waitForOnline()).toBe(true);
    await monitor.check();
    const waiting = monitor.waitForOnline();
    up = true;
    await monitor.check();
    expect(await waiting).toBe(true);
    await clock.run();
  });
});
