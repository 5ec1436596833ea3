// `npm run dist`: what it checks before building, and that on a machine without an Electron binary
// (this one, and CI) it stops at once, saying what could not be built and why.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findElectronBinary } from '../../electron-binary.js';
import { PLACEHOLDER_UPDATE_URL, planDist, type DistPlanInput } from '../../dist.js';

const root = join(import.meta.dirname, '../../..');
const electron = { found: true, binary: { path: '/repo/node_modules/electron/dist/electron', version: '45.4.1' } } as const;
const noElectron = { found: false, reason: 'electron 45.4.1 is installed without its executable (nothing at /x/electron)' } as const;
const plan = (over: Partial<DistPlanInput>) => planDist({
  argv: [], env: {}, hostPlatform: 'linux', electron, scripts: { 'build:renderer': 'x', 'build:desktop': 'y' }, ...over,
});

describe('dist plan', () => {
  it('Linux with a local Electron: builds renderer and main, then packages that Electron, unsigned with a placeholder update URL', () => {
    const result = plan({});
    expect(result).toMatchObject({ ok: true, target: 'linux', steps: ['build:renderer', 'build:desktop'], env: { RELAYPACS_UPDATE_URL: PLACEHOLDER_UPDATE_URL } });
    if (!result.ok) throw new Error('unreachable');
    expect(result.builderArgs).toEqual(['--linux', '--config', 'electron-builder.yml', '--publish', 'never', '-c.electronDist=/repo/node_modules/electron/dist', '-c.electronVersion=45.4.1']);
    expect(result.warnings.join('\n')).toMatch(/RELAYPACS_UPDATE_URL is not set/);
  });

  it('chains only the build steps that exist', () => {
    expect(plan({ scripts: {} })).toMatchObject({ ok: true, steps: [] });
  });

  it('no Electron binary: fails fast, naming the installers and the reason', () => {
    const result = plan({ electron: noElectron });
    expect(result.ok).toBe(false);
    if (result.ok) throw new Error('unreachable');
    expect(result.message).toMatch(/^dist: the Linux AppImage and deb could not be built: no Electron binary on this machine \(electron 45\.4\.1 is installed without its executable/);
    expect(result.message).toMatch(/allowScripts.*ELECTRON_OVERRIDE_DIST_PATH.*RELAYPACS_DIST_DOWNLOAD_ELECTRON=1.*Nothing was built\.$/);
    expect(plan({ electron: noElectron, env: { RELAYPACS_DIST_DOWNLOAD_ELECTRON: '1' } })).toMatchObject({ ok: true });
  });

  it('MSI only on Windows, DMG only on macOS', () => {
    expect(plan({ argv: ['--win'] })).toEqual({ ok: false, message: expect.stringMatching(/Windows MSI and NSIS installers could not be built: .*WiX toolset, which runs on Windows only/) });
    expect(plan({ argv: ['--mac'] })).toEqual({ ok: false, message: expect.stringMatching(/macOS DMG and zip could not be built: .*need macOS/) });
    expect(plan({ argv: ['--win', '--linux'] })).toMatchObject({ ok: false });
    expect(plan({ argv: ['--fast'] })).toMatchObject({ ok: false, message: expect.stringMatching(/unknown option --fast/) });
  });

  it('Windows signing: a certificate file or Azure Trusted Signing from the environment, not both', () => {
    const win = { hostPlatform: 'win32' as const, electron: { found: true, binary: { path: 'C:\\r\\node_modules\\electron\\dist\\electron.exe', version: '45.4.1' } } as const };
    const azure = { AZURE_TRUSTED_SIGNING_ENDPOINT: 'https://weu.codesigning.azure.net', AZURE_TRUSTED_SIGNING_ACCOUNT: 'hospital', AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE: 'relaypacs', AZURE_TRUSTED_SIGNING_PUBLISHER_NAME: 'Hospital IT' };
    const signed = plan({ ...win, env: { ...azure, RELAYPACS_UPDATE_URL: 'https://updates.hospital.example/relaypacs' } });
    expect(signed.ok && signed.builderArgs).toEqual(expect.arrayContaining([
      '-c.win.azureSignOptions.endpoint=https://weu.codesigning.azure.net',
      '-c.win.azureSignOptions.codeSigningAccountName=hospital',
      '-c.win.azureSignOptions.certificateProfileName=relaypacs',
      '-c.win.azureSignOptions.publisherName=Hospital IT',
    ]));
    expect(signed.ok && signed.warnings).toEqual([]);
    expect(plan({ ...win, env: { ...azure, CSC_LINK: 'cert.pfx' } })).toMatchObject({ ok: false, message: expect.stringMatching(/choose one/) });
    expect(plan({ ...win, env: { AZURE_TRUSTED_SIGNING_ENDPOINT: 'x' } })).toMatchObject({ ok: false, message: expect.stringMatching(/missing AZURE_TRUSTED_SIGNING_ACCOUNT/) });
    expect(plan({ ...win })).toMatchObject({ ok: true, warnings: expect.arrayContaining([expect.stringMatching(/installers are unsigned/)]) });
  });

  it('--release refuses an unsigned build, a missing or plain-http update URL', () => {
    expect(plan({ argv: ['--release'] })).toMatchObject({ ok: false, message: expect.stringMatching(/needs RELAYPACS_UPDATE_URL/) });
    expect(plan({ env: { RELAYPACS_UPDATE_URL: 'http://updates.example' } })).toMatchObject({ ok: false, message: expect.stringMatching(/must be an https:\/\/ address/) });
    const mac = { hostPlatform: 'darwin' as const, argv: ['--release'], env: { RELAYPACS_UPDATE_URL: 'https://u.example' } };
    expect(plan(mac)).toMatchObject({ ok: false, message: expect.stringMatching(/must be signed and notarized/) });
    expect(plan({ ...mac, env: { ...mac.env, CSC_LINK: 'id.p12' } })).toMatchObject({ ok: false, message: expect.stringMatching(/must be notarized: set APPLE_API_KEY/) });
    expect(plan({ ...mac, env: { ...mac.env, CSC_LINK: 'id.p12', APPLE_API_KEY: 'k.p8', APPLE_API_KEY_ID: 'K', APPLE_API_ISSUER: 'I' } })).toMatchObject({ ok: true, target: 'mac' });
  });
});

describe('npm run dist on this machine', () => {
  it.runIf(!findElectronBinary().found)('stops before building anything and says what could not be built and why', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/dist.ts'], { cwd: root, encoding: 'utf8', env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: '', RELAYPACS_DIST_DOWNLOAD_ELECTRON: '' }, timeout: 60_000 });
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^dist: the Linux AppImage and deb could not be built: no Electron binary on this machine/m);
    expect(result.stderr).toMatch(/Nothing was built\./);
    expect(result.stdout).toBe('');
  });
});
