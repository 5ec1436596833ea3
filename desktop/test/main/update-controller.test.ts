// The updater's wiring (updates/update-controller.ts) over a hand-written stand-in of electron-updater's
// autoUpdater. A stand-in because electron-updater needs a running, packaged Electron (app-update.yml,
// Electron's net module, an installer to run), which cannot exist here; the decision it is wired to
// (core/updates/update-decision.ts) is the real one.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { Settings } from '../../src/common/ipc-contract.js';
import type { InstallKind } from '../../src/core/updates/install-kind.js';
import { rolloutBucket, updatePolicyFromSettings, type UpdateDecisionInput } from '../../src/core/updates/update-decision.js';
import { UpdateController, type AutoUpdaterPort, type IntervalTimers, type ReleaseInfo, type UpdaterLogger } from '../../src/main/updates/update-controller.js';

type CheckResult = Awaited<ReturnType<AutoUpdaterPort['checkForUpdates']>>;

/** Behaves like electron-updater's AppUpdater where the controller can tell: the channel setter allows downgrades. */
class StandInUpdater extends EventEmitter implements AutoUpdaterPort {
  autoDownload = false;
  autoInstallOnAppQuit = true;
  allowDowngrade = false;
  allowPrerelease = false;
  logger: UpdaterLogger | null = null;
  checks: { channel: string | null; allowPrerelease: boolean; allowDowngrade: boolean }[] = [];
  /** What the next checkForUpdates does; default: nothing new. */
  nextCheck: () => Promise<CheckResult> = async () => ({ downloadPromise: null });
  private feed: string | null = null;

  get channel(): string | null {
    return this.feed;
  }

  set channel(value: string | null) {
    this.feed = value;
    this.allowDowngrade = true;
  }

  isUserWithinRollout(_info: ReleaseInfo): boolean | Promise<boolean> {
    throw new Error('electron-updater\'s own per-user rollout must not be used');
  }

  checkForUpdates(): Promise<CheckResult> {
    this.checks.push({ channel: this.channel, allowPrerelease: this.allowPrerelease, allowDowngrade: this.allowDowngrade });
    return this.nextCheck();
  }
}

class ManualTimers implements IntervalTimers {
  running: (() => void)[] = [];
  setInterval(run: () => void): unknown {
    this.running.push(run);
    return run;
  }
  clearInterval(handle: unknown): void {
    this.running = this.running.filter((run) => run !== handle);
  }
  tick(): void {
    for (const run of [...this.running]) run();
  }
}

interface World {
  controller: UpdateController;
  updater: StandInUpdater;
  timers: ManualTimers;
  log: string[];
  ready: string[];
  created: () => number;
}

function world(options: { installKind?: InstallKind | (() => Promise<InstallKind>); policy?: UpdateDecisionInput['policy']; machineId?: string | null } = {}): World {
  const updater = new StandInUpdater();
  const timers = new ManualTimers();
  const log: string[] = [];
  const ready: string[] = [];
  let created = 0;
  const kind = options.installKind ?? 'nsis';
  const controller = new UpdateController({
    updater: () => {
      created += 1;
      return updater;
    },
    installKind: typeof kind === 'function' ? kind : async () => kind,
    machineId: async () => (options.machineId === undefined ? 'machine-a' : options.machineId),
    policy: options.policy ?? {},
    log: (line) => log.push(line),
    onUpdateReady: (version) => ready.push(version),
    intervalMs: 4 * 3_600_000,
    timers,
  });
  return { controller, updater, timers, log, ready, created: () => created };
}

const on: Settings['updates'] = { enabled: true, channel: 'stable' };
const off: Settings['updates'] = { enabled: false, channel: 'stable' };
const beta: Settings['updates'] = { enabled: true, channel: 'beta' };
const flush = () => new Promise((resolve) => setImmediate(resolve));
async function configure(w: World, preferences: Settings['updates']): Promise<void> {
  w.controller.configure(preferences);
  await w.controller.settled();
  await flush();
}

describe('UpdateController', () => {
  it.each([
    ['msi', 'msi-managed-by-it'],
    ['deb', 'package-manager'],
    ['unknown', 'install-kind-unknown'],
    ['development', 'development'],
  ] as const)('never checks a %s install, and logs why once', async (installKind, reason) => {
    const w = world({ installKind, policy: { enabled: true } });
    await configure(w, on);
    await configure(w, beta);
    expect(w.created()).toBe(0);
    expect(w.updater.checks).toEqual([]);
    expect(w.timers.running).toEqual([]);
    expect(w.log.filter((line) => line.includes(`not checking (${reason})`))).toHaveLength(1);
  });

  it('never checks when policy turns updates off, whatever the user says', async () => {
    const w = world({ policy: { enabled: false } });
    await configure(w, on);
    await configure(w, beta);
    expect(w.updater.checks).toEqual([]);
    expect(w.log.join('\n')).toContain('not checking (policy-disabled)');
  });

  it('never checks when the updates policy could not be read', async () => {
    const w = world({ policy: updatePolicyFromSettings({ locked: { updates: true }, values: {} }) });
    await configure(w, on);
    expect(w.updater.checks).toEqual([]);
    expect(w.log.join('\n')).toContain('not checking (policy-unreadable)');
  });

  it('checks when policy turns updates on although the user turned them off', async () => {
    const w = world({ policy: { enabled: true, channel: 'stable' } });
    await configure(w, off);
    expect(w.updater.checks).toHaveLength(1);
  });

  it('checks a self-updating install at start on the stable feed, downloads in the background and installs on quit, never downgrading', async () => {
    const w = world();
    await configure(w, on);
    expect(w.updater.checks).toEqual([{ channel: 'latest', allowPrerelease: false, allowDowngrade: false }]);
    expect(w.updater).toMatchObject({ autoDownload: true, autoInstallOnAppQuit: true });
    expect(w.log.join('\n')).toMatch(/checking now and every 4 hours \(enabled, stable channel\)/);
  });

  it('reads the beta feed with prereleases on the beta channel, still never downgrading', async () => {
    const w = world();
    await configure(w, beta);
    expect(w.updater.checks).toEqual([{ channel: 'beta', allowPrerelease: true, allowDowngrade: false }]);
  });

  it('checks again every interval while updates are on', async () => {
    const w = world();
    await configure(w, on);
    w.timers.tick();
    w.timers.tick();
    await flush();
    expect(w.updater.checks).toHaveLength(3);
    expect(w.timers.running).toHaveLength(1);
  });

  it('starts checking when the user turns updates on, and stops when they turn them off', async () => {
    const w = world();
    await configure(w, off);
    expect(w.updater.checks).toEqual([]);
    expect(w.log.join('\n')).toContain('not checking (user-disabled)');

    await configure(w, on);
    expect(w.updater.checks).toHaveLength(1);

    await configure(w, off);
    expect(w.timers.running).toEqual([]);
    // An update downloaded before is not installed at quit either.
    expect(w.updater.autoInstallOnAppQuit).toBe(false);
    w.timers.tick();
    await flush();
    expect(w.updater.checks).toHaveLength(1);
  });

  it('checks again when the channel changes, and not when another setting changed', async () => {
    const w = world();
    await configure(w, on);
    await configure(w, on);
    expect(w.updater.checks).toHaveLength(1);
    await configure(w, beta);
    expect(w.updater.checks.map((check) => check.channel)).toEqual(['latest', 'beta']);
    expect(w.timers.running).toHaveLength(1);
  });

  it('answers electron-updater\'s staged-rollout question with the decision for this machine', async () => {
    const machineId = 'workstation-7';
    const bucket = rolloutBucket(machineId);
    const w = world({ machineId });
    await configure(w, on);
    const release = (stagingPercentage?: number | string | null): ReleaseInfo => ({ version: '1.3.0', stagingPercentage });
    expect(await w.updater.isUserWithinRollout(release())).toBe(true);
    expect(await w.updater.isUserWithinRollout(release(null))).toBe(true);
    expect(await w.updater.isUserWithinRollout(release(100))).toBe(true);
    expect(await w.updater.isUserWithinRollout(release(0))).toBe(false);
    expect(await w.updater.isUserWithinRollout(release(Math.ceil(bucket + 0.001)))).toBe(true);
    expect(await w.updater.isUserWithinRollout(release(Math.floor(bucket)))).toBe(false);
    // The YAML may carry it as a string.
    expect(await w.updater.isUserWithinRollout(release(String(Math.ceil(bucket + 0.001))))).toBe(true);
    expect(w.log.join('\n')).toContain('version 1.3.0 not taken (outside-rollout)');
  });

  it('waits for a full rollout when the machine has no id', async () => {
    const w = world({ machineId: null });
    await configure(w, on);
    expect(await w.updater.isUserWithinRollout({ version: '1.3.0', stagingPercentage: 99 })).toBe(false);
    expect(await w.updater.isUserWithinRollout({ version: '1.3.0', stagingPercentage: 100 })).toBe(true);
  });

  it('logs an updater error once and keeps going', async () => {
    const w = world();
    const failure = Object.assign(new Error('Cannot find channel "latest.yml" update info: HttpError: 404\nHeaders: {...}'), { code: 'ERR_UPDATER_CHANNEL_FILE_NOT_FOUND' });
    // electron-updater emits 'error' and rejects the check's promise with the same error.
    w.updater.nextCheck = async () => {
      w.updater.emit('error', failure);
      throw failure;
    };
    await configure(w, on);
    const errors = w.log.filter((line) => line.includes('ERR_UPDATER_CHANNEL_FILE_NOT_FOUND'));
    expect(errors).toEqual(['updates: ERR_UPDATER_CHANNEL_FILE_NOT_FOUND: Cannot find channel "latest.yml" update info: HttpError: 404; trying again at the next check']);

    w.updater.nextCheck = async () => ({ downloadPromise: null });
    w.timers.tick();
    await flush();
    expect(w.updater.checks).toHaveLength(2);
  });

  it('logs a failed background download without an unhandled rejection', async () => {
    const w = world();
    const failure = new Error('sha512 checksum mismatch');
    w.updater.nextCheck = async () => ({ downloadPromise: Promise.reject(failure) });
    await configure(w, on);
    await flush();
    // A plain 'error' event (electron-updater's download errors) is logged too.
    w.updater.emit('error', new Error('net::ERR_CONNECTION_RESET'));
    expect(w.log.filter((line) => line.startsWith('updates: ') && line.endsWith('trying again at the next check'))).toEqual([
      'updates: sha512 checksum mismatch; trying again at the next check',
      'updates: net::ERR_CONNECTION_RESET; trying again at the next check',
    ]);
  });

  it('treats an install kind it cannot find as unknown: no updates', async () => {
    const w = world({ installKind: async () => { throw new Error('reg.exe could not be started'); } });
    await configure(w, on);
    expect(w.updater.checks).toEqual([]);
    expect(w.log.join('\n')).toContain('not checking (install-kind-unknown)');
  });

  it('tells the user once when an update has been downloaded', async () => {
    const w = world();
    await configure(w, on);
    w.updater.emit('update-available', { version: '1.3.0' });
    w.updater.emit('update-downloaded', { version: '1.3.0' });
    w.updater.emit('update-downloaded', { version: '1.3.0' });
    expect(w.ready).toEqual(['1.3.0']);
    expect(w.log.join('\n')).toContain('version 1.3.0 downloaded; it is installed when RelayPACS quits');
  });

  it('sends electron-updater\'s own log lines to the app\'s log, one line each', async () => {
    const w = world();
    await configure(w, on);
    w.updater.logger?.info('Checking for update');
    w.updater.logger?.warn('Staging percentage is NaN: x\nsecond line');
    expect(w.log).toContain('updates: electron-updater info: Checking for update');
    expect(w.log).toContain('updates: electron-updater warning: Staging percentage is NaN: x');
  });

  it('stops checking when disposed and ignores later settings', async () => {
    const w = world();
    await configure(w, on);
    w.controller.dispose();
    expect(w.timers.running).toEqual([]);
    await configure(w, beta);
    expect(w.updater.checks).toHaveLength(1);
  });
});

describe('updatePolicyFromSettings', () => {
  it('reads updates as the settings screen shows them', () => {
    expect(updatePolicyFromSettings({ locked: {} })).toEqual({});
    expect(updatePolicyFromSettings({ locked: { relayUrl: true }, values: { relayUrl: 'https://relay.example' } })).toEqual({});
    expect(updatePolicyFromSettings({ locked: { updates: true }, values: { updates: { enabled: false, channel: 'stable' } } })).toEqual({ enabled: false, channel: 'stable' });
    expect(updatePolicyFromSettings({ locked: { updates: true }, values: { updates: { enabled: true, channel: 'beta' } } })).toEqual({ enabled: true, channel: 'beta' });
    // Locked without a value: the policy could not be read.
    expect(updatePolicyFromSettings({ locked: { updates: true }, values: {} })).toEqual({ unreadable: true });
  });
});
