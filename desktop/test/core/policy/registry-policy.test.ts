// The Windows registry source, from recorded `reg query HKLM\Software\Policies\RelayPACS /s` output
// (fixtures/*.txt, CRLF as reg.exe prints them). reg.exe cannot run here: the command runner is the
// seam, and a fake one replays the recorded output and exit codes.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CommandRunner } from '../../../src/core/policy/command-runner.js';
import { parseRegQueryOutput, RegQueryParseError } from '../../../src/core/policy/reg-query.js';
import { loadRegistryPolicy, registryPolicyCommand, registryPolicyFromOutput } from '../../../src/core/policy/registry-policy.js';

const fixture = (name: string): Promise<string> => readFile(join(import.meta.dirname, 'fixtures', name), 'utf8');

describe('reg query output', () => {
  it('reads keys, REG_SZ, REG_EXPAND_SZ, REG_DWORD and REG_MULTI_SZ values, names with spaces and (Default)', () => {
    const keys = parseRegQueryOutput([
      '',
      'HKEY_LOCAL_MACHINE\\Software\\Policies\\RelayPACS',
      '    (Default)    REG_SZ    ',
      '    Name With Spaces    REG_SZ    a    b',
      '    Windows    REG_MULTI_SZ    20:00-07:00\\012:00-13:00',
      '    Empty list    REG_MULTI_SZ    ',
      '    Big    REG_QWORD    0x100000000',
      '    Flag    REG_DWORD    0x1',
      '',
    ].join('\r\n'));
    expect(keys).toHaveLength(1);
    expect(keys[0]!.values).toEqual([
      { name: '', type: 'REG_SZ', data: '' },
      { name: 'Name With Spaces', type: 'REG_SZ', data: 'a    b' },
      { name: 'Windows', type: 'REG_MULTI_SZ', data: ['20:00-07:00', '12:00-13:00'] },
      { name: 'Empty list', type: 'REG_MULTI_SZ', data: [] },
      { name: 'Big', type: 'REG_QWORD', data: 4294967296 },
      { name: 'Flag', type: 'REG_DWORD', data: 1 },
    ]);
  });

  it('refuses text that is not reg.exe output', () => {
    expect(() => parseRegQueryOutput('Access is denied.\r\n')).toThrow(RegQueryParseError);
  });
});

describe('Windows registry policy', () => {
  it('reads every policy value, the folder defaults key and one subkey per folder', async () => {
    const result = registryPolicyFromOutput(await fixture('reg-query-full.txt'), { ProgramData: 'C:\\ProgramData' });
    expect(result.status).toBe('applied');
    expect(result.problems).toEqual([]);
    expect(result.failedKeys).toEqual([]);
    expect(result.values).toEqual({
      relayUrl: 'https://relay.hospital.example:8780',
      deviceAccount: { username: 'ct-scanner-01', requireEnrolment: true },
      maxBytesPerSecond: 2_500_000,
      routineWindows: ['20:00-07:00', '12:00-13:00'],
      updates: { enabled: false, channel: 'stable' },
      startAtLogin: true,
      watchedFolders: [
        { path: 'D:\\Exports\\Röntgen CT', serviceLevel: 'ROUTINE', routingTag: 'east-wing', afterDelivery: 'keep', usePolling: true },
        { path: 'C:\\ProgramData\\Modality\\US', serviceLevel: 'STAT', afterDelivery: 'move', doneFolder: '\\\\pacs-share\\modality\\US-sent', usePolling: true },
      ],
    });
  });

  it('reports each bad value with the registry name and the reason, and fails (locks) only those keys', async () => {
    const result = registryPolicyFromOutput(await fixture('reg-query-invalid.txt'));
    expect(result.status).toBe('applied');
    expect([...result.failedKeys].sort()).toEqual(['maxBytesPerSecond', 'relayUrl', 'startAtLogin', 'updates', 'watchedFolders']);
    const byKey = Object.fromEntries(result.problems.map((p) => [p.key, p]));
    expect(byKey.RelayUrl).toMatchObject({ severity: 'error', source: 'HKLM\\Software\\Policies\\RelayPACS' });
    expect(byKey.RelayUrl!.message).toMatch(/RelayUrl: .*https:\/\//);
    expect(byKey.MaxBandwidth!.message).toMatch(/ambiguous.*Mbit\/s/);
    expect(byKey.UpdatesEnabled!.message).toMatch(/REG_DWORD 1 \(on\) or 0 \(off\), not REG_SZ/);
    expect(byKey.StartAtLogin!.message).toMatch(/1 \(on\) or 0 \(off\), not 2/);
    expect(byKey.Colour).toMatchObject({ severity: 'warning' });
    expect(byKey['WatchedFolders\\MR\\Path']!.message).toMatch(/must be an absolute path.*this folder is not watched/);
    expect(byKey['WatchedFolders\\US\\UsePolling']!.message).toMatch(/not REG_SZ; this folder is not watched/);
    // The good folder is still watched; the list is locked because policy sets it.
    expect(result.values.watchedFolders).toEqual([{ path: 'D:\\Exports\\CT', serviceLevel: 'ROUTINE', afterDelivery: 'keep' }]);
    expect(result.values.relayUrl).toBeUndefined();
  });

  it('runs reg.exe under code page 65001 and treats a missing key as no policy', async () => {
    const calls: string[][] = [];
    const run: CommandRunner = async (command, args) => {
      calls.push([command, ...args]);
      return { code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.\r\n' };
    };
    const result = await loadRegistryPolicy({ run });
    expect(result).toMatchObject({ status: 'absent', problems: [], failedKeys: [] });
    expect(calls).toEqual([[registryPolicyCommand().command, ...registryPolicyCommand().args]]);
    expect(calls[0]!.join(' ')).toMatch(/chcp 65001 >nul & reg query "HKLM\\Software\\Policies\\RelayPACS" \/s \/reg:64/);
  });

  it('reports a registry that cannot be read as a failed source instead of throwing', async () => {
    const denied: CommandRunner = async () => ({ code: 1, stdout: '', stderr: 'ERROR: Access is denied.\r\n' });
    const result = await loadRegistryPolicy({ run: denied });
    expect(result.status).toBe('failed');
    expect(result.problems[0]!.message).toMatch(/exited with 1: ERROR: Access is denied/);
    const missing: CommandRunner = async () => { throw new Error('spawn cmd.exe ENOENT'); };
    expect((await loadRegistryPolicy({ run: missing })).problems[0]!.message).toMatch(/reg.exe could not be run: spawn cmd.exe ENOENT/);
  });

  it('reads the recorded output through the runner end to end', async () => {
    const output = await fixture('reg-query-full.txt');
    const result = await loadRegistryPolicy({ run: async () => ({ code: 0, stdout: output, stderr: '' }), env: { PROGRAMDATA: 'C:\\ProgramData' } });
    expect(result.values.watchedFolders?.[1]?.path).toBe('C:\\ProgramData\\Modality\\US');
  });
});
