// Precedence: the machine store over the JSON policy file, per key; policy over user settings; a
// broken source or value locks instead of unlocking. loadPolicy picks the platform's machine source,
// so each platform is driven here with recorded reg.exe output or files in a temporary folder.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Settings, WatchedFolder } from '../../../src/common/ipc-contract.js';
import type { CommandRunner } from '../../../src/core/policy/command-runner.js';
import type { FileReader } from '../../../src/core/policy/file-policy.js';
import { loadPolicy, mergePolicySources, policyFilePath, readFileOrNull } from '../../../src/core/policy/load-policy.js';
import { NO_POLICY, type PolicySourceResult } from '../../../src/core/policy/policy-model.js';
import {
  applyPolicyToSettings, applyPolicyToWatchedFolders, deviceAccountPolicy, policyProvider, refusedSettingsKeys,
} from '../../../src/core/policy/policy-provider.js';

const fixtures = join(import.meta.dirname, 'fixtures');
let dir: string;
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'relaypacs-precedence-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const USER: Settings = {
  relayUrl: 'https://my-own-relay.example',
  maxBytesPerSecond: 1_000_000,
  routineWindows: [],
  notifications: { statDelivered: true, failures: true, reports: true },
  updates: { enabled: true, channel: 'beta' },
  startAtLogin: false,
  theme: 'dark',
};
const USER_FOLDERS: WatchedFolder[] = [{ path: '/home/me/inbox', serviceLevel: 'ROUTINE', afterDelivery: 'keep', usePolling: false }];

const noReg: CommandRunner = async () => ({ code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.' });
/** Serves /etc/relaypacs/policy.json (or the managed-preferences path) from another file. */
function redirect(from: string, to: string): FileReader {
  return (path) => readFileOrNull(path === from ? to : path);
}

describe('the policy file path', () => {
  it('comes from --policy-file (either form), else RELAYPACS_POLICY_FILE', () => {
    expect(policyFilePath(['--policy-file', '/a.json'], { RELAYPACS_POLICY_FILE: '/b.json' })).toBe('/a.json');
    expect(policyFilePath(['--policy-file=/c.json'], {})).toBe('/c.json');
    expect(policyFilePath([], { RELAYPACS_POLICY_FILE: '/b.json' })).toBe('/b.json');
    expect(policyFilePath([], { RELAYPACS_POLICY_FILE: ' ' })).toBeUndefined();
  });
});

describe('order among sources', () => {
  it('on Windows the registry wins key by key over the JSON file, which fills the rest', async () => {
    const file = join(dir, 'win-file.json');
    await writeFile(file, JSON.stringify({ relayUrl: 'https://file-relay.example', startAtLogin: false, routineWindows: ['21:00-06:00'] }));
    const output = await readFile(join(fixtures, 'reg-query-full.txt'), 'utf8');
    const policy = await loadPolicy({
      platform: 'win32', env: { RELAYPACS_POLICY_FILE: file, ProgramData: 'C:\\ProgramData' }, argv: [],
      run: async () => ({ code: 0, stdout: output, stderr: '' }),
    });
    expect(policy.values.relayUrl).toBe('https://relay.hospital.example:8780');
    expect(policy.values.startAtLogin).toBe(true);
    expect(policy.values.routineWindows).toEqual(['20:00-07:00', '12:00-13:00']);
    expect(policy.keySources.relayUrl).toBe('HKLM\\Software\\Policies\\RelayPACS');
    expect(policy.sources.map((s) => [s.kind, s.status])).toEqual([['windows-registry', 'applied'], ['policy-file', 'applied']]);
  });

  it('the file sets what the machine store leaves unset (macOS, no profile installed)', async () => {
    const file = join(dir, 'mac-file.json');
    await writeFile(file, JSON.stringify({ relayUrl: 'https://file-relay.example', updates: { enabled: false } }));
    const policy = await loadPolicy({ platform: 'darwin', env: {}, argv: ['--policy-file', file], run: noReg, readFile: redirect('/Library/Managed Preferences/com.relaypacs.desktop.plist', join(dir, 'no-profile.plist')) });
    expect(policy.values).toEqual({ relayUrl: 'https://file-relay.example', updates: { enabled: false } });
    expect(policy.keySources).toEqual({ relayUrl: file, updates: file });
  });

  it('on macOS the managed preferences win over the file', async () => {
    const file = join(dir, 'mac-file-2.json');
    await writeFile(file, JSON.stringify({ relayUrl: 'https://file-relay.example', maxBytesPerSecond: 1 }));
    const policy = await loadPolicy({ platform: 'darwin', env: { RELAYPACS_POLICY_FILE: file }, run: noReg, readFile: redirect('/Library/Managed Preferences/com.relaypacs.desktop.plist', join(fixtures, 'managed-preferences.plist')) });
    expect(policy.values.relayUrl).toBe('https://relay.hospital.example:8780');
    expect(policy.values.maxBytesPerSecond).toBe(5_000_000);
  });

  it('on Linux /etc/relaypacs/policy.json wins over the file', async () => {
    const file = join(dir, 'linux-file.json');
    await writeFile(file, JSON.stringify({ updates: { enabled: true }, theme: 'light' }));
    const policy = await loadPolicy({ platform: 'linux', env: { RELAYPACS_POLICY_FILE: file }, run: noReg, readFile: redirect('/etc/relaypacs/policy.json', join(fixtures, 'linux-policy.json')) });
    expect(policy.values.updates).toEqual({ enabled: false });
    expect(policy.problems).toEqual([expect.objectContaining({ source: file, key: 'theme', severity: 'warning' })]);
  });

  it('a machine key that failed is not filled in from the file: it stays locked at the user value', async () => {
    const file = join(dir, 'fills.json');
    await writeFile(file, JSON.stringify({ relayUrl: 'https://file-relay.example' }));
    const machine = join(dir, 'machine-bad.json');
    await writeFile(machine, JSON.stringify({ relayUrl: 'relay.example' }));
    const policy = await loadPolicy({ platform: 'linux', env: { RELAYPACS_POLICY_FILE: file }, run: noReg, readFile: redirect('/etc/relaypacs/policy.json', machine) });
    expect(policy.values.relayUrl).toBeUndefined();
    expect(policy.failedKeys).toEqual(['relayUrl']);
    const view = applyPolicyToSettings(USER, policy);
    expect(view.settings.relayUrl).toBe(USER.relayUrl);
    expect(view.locked.relayUrl).toBe(true);
  });

  it('a machine source that cannot be read at all locks every setting and is reported, not thrown', async () => {
    const machine = join(dir, 'machine-garbage.json');
    await writeFile(machine, 'this is not json');
    const file = join(dir, 'ok.json');
    await writeFile(file, JSON.stringify({ startAtLogin: true }));
    const policy = await loadPolicy({ platform: 'linux', env: { RELAYPACS_POLICY_FILE: file }, run: noReg, readFile: redirect('/etc/relaypacs/policy.json', machine) });
    expect(policy.failedKeys).toEqual(['relayUrl', 'deviceAccount', 'watchedFolders', 'maxBytesPerSecond', 'routineWindows', 'updates', 'startAtLogin', 'allowFileCredentialStore']);
    expect(policy.values).toEqual({});
    expect(policy.problems[0]).toMatchObject({ source: '/etc/relaypacs/policy.json', severity: 'error' });
    expect(policy.problems[0]!.message).toMatch(/^\/etc\/relaypacs\/policy.json is not valid JSON/);
    const view = applyPolicyToSettings(USER, policy);
    expect(view.settings).toEqual(USER);
    expect(view.locked).toEqual({ relayUrl: true, watchedFolders: true, maxBytesPerSecond: true, routineWindows: true, updates: true, startAtLogin: true });
    expect(deviceAccountPolicy(policy)).toEqual({ username: null, requireEnrolment: true });
    expect(applyPolicyToWatchedFolders(USER_FOLDERS, policy)).toEqual([{ ...USER_FOLDERS[0], locked: true }]);
  });

  it('an unforeseen error inside a loader is still a failed source, not a crash', async () => {
    const broken: CommandRunner = async () => ({ code: 0, stdout: undefined as unknown as string, stderr: '' });
    const policy = await loadPolicy({ platform: 'win32', env: {}, run: broken });
    expect(policy.sources[0]).toMatchObject({ kind: 'windows-registry', status: 'failed' });
    expect(policy.problems[0]!.message).toMatch(/^HKLM\\Software\\Policies\\RelayPACS could not be read: /);
    expect(applyPolicyToSettings(USER, policy).locked.relayUrl).toBe(true);
  });

  it('no source at all: nothing locked, user settings as they are', async () => {
    const policy = await loadPolicy({ platform: 'linux', env: {}, run: noReg, readFile: async () => null });
    expect(policy.sources.map((s) => s.status)).toEqual(['absent']);
    expect(applyPolicyToSettings(USER, policy)).toEqual({ settings: USER, locked: {} });
    expect(applyPolicyToWatchedFolders(USER_FOLDERS, policy)).toEqual(USER_FOLDERS);
    expect(policyProvider()()).toEqual({ locked: {}, values: {} });
  });
});

describe('policy over user settings', () => {
  const source = (values: PolicySourceResult['values'], failedKeys: PolicySourceResult['failedKeys'] = []): PolicySourceResult =>
    ({ kind: 'policy-file', location: '/p.json', status: 'applied', values, failedKeys, problems: [] });

  it('sets and locks what policy sets, keeps the rest of the user settings editable', () => {
    const policy = mergePolicySources([source({ relayUrl: 'https://relay.example', maxBytesPerSecond: 0, routineWindows: ['20:00-07:00'], startAtLogin: true })]);
    expect(applyPolicyToSettings(USER, policy)).toEqual({
      settings: { ...USER, relayUrl: 'https://relay.example', maxBytesPerSecond: 0, routineWindows: ['20:00-07:00'], startAtLogin: true },
      locked: { relayUrl: true, maxBytesPerSecond: true, routineWindows: true, startAtLogin: true },
    });
    expect(policyProvider(policy)()).toEqual({
      locked: { relayUrl: true, maxBytesPerSecond: true, routineWindows: true, startAtLogin: true },
      values: { relayUrl: 'https://relay.example', maxBytesPerSecond: 0, routineWindows: ['20:00-07:00'], startAtLogin: true },
    });
  });

  it('an updates policy with one field fixes the other at its default', () => {
    const onlyOff = mergePolicySources([source({ updates: { enabled: false } })]);
    expect(applyPolicyToSettings(USER, onlyOff).settings.updates).toEqual({ enabled: false, channel: 'stable' });
    const onlyBeta = mergePolicySources([source({ updates: { channel: 'beta' } })]);
    expect(applyPolicyToSettings({ ...USER, updates: { enabled: false, channel: 'stable' } }, onlyBeta).settings.updates).toEqual({ enabled: true, channel: 'beta' });
  });

  it('refuses changes to locked keys, allows the rest and unchanged values', () => {
    const policy = mergePolicySources([source({ relayUrl: 'https://relay.example', updates: { enabled: false, channel: 'stable' } })]);
    expect(refusedSettingsKeys({ relayUrl: 'https://elsewhere.example', theme: 'light' }, USER, policy)).toEqual(['relayUrl']);
    expect(refusedSettingsKeys({ relayUrl: 'https://relay.example', updates: { channel: 'stable', enabled: false } }, USER, policy)).toEqual([]);
    expect(refusedSettingsKeys({ updates: { enabled: true, channel: 'stable' } }, USER, policy)).toEqual(['updates']);
    expect(refusedSettingsKeys({ theme: 'light' }, USER, NO_POLICY)).toEqual([]);
  });

  it("policy folders replace the user's, each shown locked; UNC folders poll unless told otherwise", () => {
    const policy = mergePolicySources([source({ watchedFolders: [
      { path: '\\\\share\\ct', serviceLevel: 'STAT', afterDelivery: 'keep' },
      { path: 'D:\\US', serviceLevel: 'ROUTINE', afterDelivery: 'move', doneFolder: 'D:\\US-sent', routingTag: 'us', usePolling: false },
    ] })]);
    expect(applyPolicyToWatchedFolders(USER_FOLDERS, policy)).toEqual([
      { path: '\\\\share\\ct', serviceLevel: 'STAT', afterDelivery: 'keep', usePolling: true, locked: true },
      { path: 'D:\\US', serviceLevel: 'ROUTINE', afterDelivery: 'move', doneFolder: 'D:\\US-sent', routingTag: 'us', usePolling: false, locked: true },
    ]);
    expect(applyPolicyToSettings(USER, policy).locked).toEqual({ watchedFolders: true });
  });

  it('the device account policy names the account and requires enrolment; no secret anywhere', () => {
    const policy = mergePolicySources([source({ deviceAccount: { username: 'ct-01', requireEnrolment: true } })]);
    expect(deviceAccountPolicy(policy)).toEqual({ username: 'ct-01', requireEnrolment: true });
    expect(deviceAccountPolicy(NO_POLICY)).toBeNull();
  });
});
