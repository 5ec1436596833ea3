// How the install is recognised (MSI vs NSIS vs others) and the machine id for rollouts. reg.exe and
// ioreg cannot run here: a runner replays what they print.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import yaml from 'js-yaml';
import type { CommandRunner } from '../../../src/core/policy/command-runner.js';
import { detectInstallKind, MSI_UPGRADE_CODE, packGuid, type InstallKindInput } from '../../../src/core/updates/install-kind.js';
import { readMachineId } from '../../../src/core/updates/machine-id.js';

const regFound: CommandRunner = async () => ({ code: 0, stdout: 'HKEY_LOCAL_MACHINE\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\X\r\n', stderr: '' });
const regMissing: CommandRunner = async () => ({ code: 1, stdout: '', stderr: 'ERROR: The system was unable to find the specified registry key or value.' });
const base = (over: Partial<InstallKindInput>): InstallKindInput => ({
  platform: 'win32', isPackaged: true, execPath: 'C:\\Program Files\\RelayPACS\\RelayPACS.exe', env: {}, exists: async () => false, run: regMissing, ...over,
});

describe('packed GUIDs (Windows Installer registry form)', () => {
  it('reverses the first three groups and swaps the digits of each byte of the last two', () => {
    expect(packGuid('{12345678-90AB-CDEF-1234-567890ABCDEF}')).toBe('87654321BA09FEDC2143658709BADCFE');
    expect(packGuid('5e8b1c3a-7f42-4d6b-9a2e-3c1d8f0b6a47')).toBe('A3C1B8E524F7B6D4A9E2C3D1F8B0A674');
    expect(() => packGuid('not-a-guid')).toThrow(/not a GUID/);
  });

  it('uses the same upgrade code as electron-builder.yml', async () => {
    const config = yaml.load(await readFile(join(import.meta.dirname, '../../../../electron-builder.yml'), 'utf8')) as { msi: { upgradeCode: string } };
    expect(config.msi.upgradeCode).toBe(MSI_UPGRADE_CODE);
  });
});

describe('install kind', () => {
  it('Windows: the NSIS uninstaller beside the exe means NSIS', async () => {
    const calls: string[] = [];
    const kind = await detectInstallKind(base({ exists: async (p) => { calls.push(p); return p === 'C:\\Program Files\\RelayPACS\\Uninstall RelayPACS.exe'; }, run: regFound }));
    expect(kind).toBe('nsis');
    expect(calls).toEqual(['C:\\Program Files\\RelayPACS\\Uninstall RelayPACS.exe']);
  });

  it("Windows: no uninstaller and the MSI's upgrade code registered means MSI", async () => {
    const seen: string[][] = [];
    const run: CommandRunner = async (command, args) => { seen.push([command, ...args]); return regFound(command, args); };
    expect(await detectInstallKind(base({ run }))).toBe('msi');
    expect(seen).toEqual([['reg.exe', 'query', `HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\${packGuid(MSI_UPGRADE_CODE)}`, '/reg:64']]);
  });

  it('Windows: neither, or reg.exe missing, means unknown (nobody updates a copied folder)', async () => {
    expect(await detectInstallKind(base({}))).toBe('unknown');
    expect(await detectInstallKind(base({ run: async () => { throw new Error('ENOENT'); } }))).toBe('unknown');
  });

  it('other platforms and development', async () => {
    expect(await detectInstallKind(base({ isPackaged: false }))).toBe('development');
    expect(await detectInstallKind(base({ platform: 'darwin', execPath: '/Applications/RelayPACS.app/Contents/MacOS/RelayPACS' }))).toBe('mac');
    expect(await detectInstallKind(base({ platform: 'linux', execPath: '/tmp/.mount_Relay/relaypacs-desktop', env: { APPIMAGE: '/home/u/RelayPACS.AppImage' } }))).toBe('appimage');
    expect(await detectInstallKind(base({ platform: 'linux', execPath: '/opt/RelayPACS/relaypacs-desktop' }))).toBe('deb');
    expect(await detectInstallKind(base({ platform: 'linux', execPath: '/home/u/linux-unpacked/relaypacs-desktop' }))).toBe('unknown');
  });
});

describe('machine id', () => {
  it('Windows: MachineGuid from the registry', async () => {
    const run: CommandRunner = async () => ({ code: 0, stdout: '\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Cryptography\r\n    MachineGuid    REG_SZ    6F1D2E3C-AAAA-4BBB-8CCC-123456789ABC\r\n\r\n', stderr: '' });
    expect(await readMachineId({ platform: 'win32', run, readFile: async () => null })).toBe('6f1d2e3c-aaaa-4bbb-8ccc-123456789abc');
  });

  it('macOS: IOPlatformUUID from ioreg', async () => {
    const run: CommandRunner = async () => ({ code: 0, stdout: '+-o J314sAP  <class IOPlatformExpertDevice>\n    {\n      "IOPlatformUUID" = "0A1B2C3D-1111-2222-3333-444455556666"\n    }\n', stderr: '' });
    expect(await readMachineId({ platform: 'darwin', run, readFile: async () => null })).toBe('0a1b2c3d-1111-2222-3333-444455556666');
  });

  it('Linux: /etc/machine-id, then the D-Bus copy; null when neither is usable', async () => {
    const files: Record<string, string> = { '/var/lib/dbus/machine-id': '0123456789abcdef0123456789ABCDEF\n' };
    const readFile = async (path: string) => (files[path] === undefined ? null : Buffer.from(files[path]));
    expect(await readMachineId({ platform: 'linux', run: regMissing, readFile })).toBe('0123456789abcdef0123456789abcdef');
    expect(await readMachineId({ platform: 'linux', run: regMissing, readFile: async () => Buffer.from('uninitialized\n') })).toBeNull();
    expect(await readMachineId({ platform: 'linux', run: regMissing, readFile: async () => { throw new Error('EACCES'); } })).toBeNull();
  });
});
