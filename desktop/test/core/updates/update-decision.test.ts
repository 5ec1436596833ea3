// The updater decision as a table: install kind × policy × user setting × channel × staged rollout.
import { describe, expect, it } from 'vitest';
import type { InstallKind } from '../../../src/core/updates/install-kind.js';
import { decideUpdate, isWithinRollout, rolloutBucket, type UpdateDecisionInput } from '../../../src/core/updates/update-decision.js';

const on = { enabled: true, channel: 'stable' } as const;
const input = (over: Partial<UpdateDecisionInput>): UpdateDecisionInput => ({ installKind: 'nsis', policy: {}, user: on, machineId: 'machine-a', ...over });

describe('updater decision table', () => {
  const rows: [string, Partial<UpdateDecisionInput>, boolean, string, 'stable' | 'beta'][] = [
    ['NSIS, no policy, user on', {}, true, 'enabled', 'stable'],
    ['macOS app, user on, beta', { installKind: 'mac', user: { enabled: true, channel: 'beta' } }, true, 'enabled', 'beta'],
    ['AppImage, user on', { installKind: 'appimage' }, true, 'enabled', 'stable'],
    ['MSI: IT updates it, even with policy and user on', { installKind: 'msi', policy: { enabled: true } }, false, 'msi-managed-by-it', 'stable'],
    ['deb: the package manager updates it', { installKind: 'deb' }, false, 'package-manager', 'stable'],
    ['unknown install: nobody updates it', { installKind: 'unknown' }, false, 'install-kind-unknown', 'stable'],
    ['running from source', { installKind: 'development' }, false, 'development', 'stable'],
    ['policy off beats user on', { policy: { enabled: false } }, false, 'policy-disabled', 'stable'],
    ['policy on beats user off', { policy: { enabled: true }, user: { enabled: false, channel: 'stable' } }, true, 'enabled-by-policy', 'stable'],
    ['user off, no policy', { user: { enabled: false, channel: 'stable' } }, false, 'user-disabled', 'stable'],
    ['policy channel beats user channel', { policy: { channel: 'stable' }, user: { enabled: true, channel: 'beta' } }, true, 'enabled', 'stable'],
    ['policy beta channel', { policy: { channel: 'beta' } }, true, 'enabled', 'beta'],
    ['unreadable updates policy: off, never unlocked', { policy: { unreadable: true }, user: on }, false, 'policy-unreadable', 'stable'],
    ['MSI wins over an unreadable policy', { installKind: 'msi', policy: { unreadable: true } }, false, 'msi-managed-by-it', 'stable'],
  ];
  it.each(rows)('%s', (_name, over, check, reason, channel) => {
    const decision = decideUpdate(input(over));
    expect(decision).toMatchObject({ check, reason, channel });
    expect(decision.feedChannel).toBe(channel === 'beta' ? 'beta' : 'latest');
    expect(decision.allowPrerelease).toBe(channel === 'beta');
    expect(decision.message).toMatch(/\.$/);
  });

  it('every install kind has an answer', () => {
    const kinds: InstallKind[] = ['msi', 'nsis', 'mac', 'appimage', 'deb', 'development', 'unknown'];
    expect(kinds.map((installKind) => decideUpdate(input({ installKind })).check)).toEqual([false, true, true, true, false, false, false]);
  });
});

describe('staged rollout', () => {
  const machines = Array.from({ length: 2000 }, (_, i) => `machine-${i}`);

  it('offers a release to about the given share of machines', () => {
    const share = (pct: number): number => machines.filter((m) => decideUpdate(input({ machineId: m, stagingPercentage: pct })).check).length / machines.length;
    expect(share(10)).toBeGreaterThan(0.07);
    expect(share(10)).toBeLessThan(0.13);
    expect(share(50)).toBeGreaterThan(0.45);
    expect(share(50)).toBeLessThan(0.55);
    expect(share(0)).toBe(0);
    expect(share(100)).toBe(1);
  });

  it('is stable per machine and only grows as the percentage rises', () => {
    const at10 = new Set(machines.filter((m) => isWithinRollout(m, 10)));
    const at50 = new Set(machines.filter((m) => isWithinRollout(m, 50)));
    for (const m of at10) expect(at50.has(m)).toBe(true);
    expect(rolloutBucket('machine-7')).toBe(rolloutBucket('machine-7'));
    expect(rolloutBucket('machine-7')).toBeGreaterThanOrEqual(0);
    expect(rolloutBucket('machine-7')).toBeLessThan(100);
  });

  it('says why a machine waits; without a machine id it waits for the full rollout', () => {
    const outside = machines.find((m) => !isWithinRollout(m, 20))!;
    expect(decideUpdate(input({ machineId: outside, stagingPercentage: 20 }))).toMatchObject({ check: false, reason: 'outside-rollout', message: expect.stringContaining('20%') });
    expect(decideUpdate(input({ machineId: null, stagingPercentage: 99 })).check).toBe(false);
    expect(decideUpdate(input({ machineId: null, stagingPercentage: 100 })).check).toBe(true);
    expect(decideUpdate(input({ machineId: null, stagingPercentage: null })).check).toBe(true);
  });

  it('policy off is not overridden by a rollout', () => {
    expect(decideUpdate(input({ policy: { enabled: false }, stagingPercentage: 100 })).reason).toBe('policy-disabled');
  });
});
