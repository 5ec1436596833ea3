// `npm run dist [-- --win|--mac|--linux] [--release]`: builds the installers with electron-builder
// (electron-builder.yml): renderer and main first (npm run build:renderer, build:desktop), then the
// packages. Before building anything it checks what electron-builder needs and cannot fetch here:
//   - an Electron binary for the target (this repository denies Electron's download script; a machine
//     with internet may let electron-builder download it with RELAYPACS_DIST_DOWNLOAD_ELECTRON=1);
//   - the host OS the target needs: MSI needs Windows (WiX), DMG and notarization need macOS.
// If one is missing it stops at once and says what could not be built and why. docs/deploy/packaging.md.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { findElectronBinary, type ElectronBinaryLookup } from './electron-binary.js';

const root = join(import.meta.dirname, '..');

export type DistTarget = 'win' | 'mac' | 'linux';

export interface DistPlanInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  hostPlatform: NodeJS.Platform;
  electron: ElectronBinaryLookup;
  /** Scripts of package.json: the build steps are chained when present. */
  scripts: Readonly<Record<string, string>>;
}

export type DistPlan =
  | { ok: true; target: DistTarget; steps: string[]; builderArgs: string[]; env: Record<string, string>; warnings: string[] }
  | { ok: false; message: string };

/** Where electron-builder.yml's publish URL comes from when the build does not set one: never resolves. */
export const PLACEHOLDER_UPDATE_URL = 'https://updates.invalid/relaypacs';

const HOST_TARGET: Partial<Record<NodeJS.Platform, DistTarget>> = { win32: 'win', darwin: 'mac', linux: 'linux' };
const ARTIFACTS: Record<DistTarget, string> = { win: 'the Windows MSI and NSIS installers', mac: 'the macOS DMG and zip', linux: 'the Linux AppImage and deb' };

export function planDist(input: DistPlanInput): DistPlan {
  const flags = input.argv.filter((a) => a.startsWith('--'));
  const unknown = flags.filter((f) => !['--win', '--mac', '--linux', '--release'].includes(f));
  if (unknown.length > 0) return { ok: false, message: `dist: unknown option ${unknown.join(' ')} (use --win, --mac, --linux, --release)` };
  const requested = (['win', 'mac', 'linux'] as const).filter((t) => flags.includes(`--${t}`));
  if (requested.length > 1) return { ok: false, message: 'dist: one target per run (--win, --mac or --linux): each needs its own OS and Electron binary' };
  const host = HOST_TARGET[input.hostPlatform];
  const target = requested[0] ?? host;
  if (!target) return { ok: false, message: `dist: nothing can be built on ${input.hostPlatform}` };
  const what = ARTIFACTS[target];
  const cannot = (why: string): DistPlan => ({ ok: false, message: `dist: ${what} could not be built: ${why}. Nothing was built.` });

  // electron-builder can build an NSIS installer under wine, but not the MSI (WiX runs on Windows),
  // and only macOS has codesign, hdiutil and notarytool.
  if (target === 'win' && input.hostPlatform !== 'win32') return cannot('the MSI is built with the WiX toolset, which runs on Windows only; build on a Windows machine or CI runner');
  if (target === 'mac' && input.hostPlatform !== 'darwin') return cannot('DMG creation, code signing and notarization need macOS; build on a Mac or a macOS CI runner');

  const builderArgs = [`--${target}`, '--config', 'electron-builder.yml', '--publish', 'never'];
  const env: Record<string, string> = {};
  const warnings: string[] = [];
  const downloadAllowed = input.env.RELAYPACS_DIST_DOWNLOAD_ELECTRON === '1';
  if (input.electron.found) {
    // Package the Electron already on this machine instead of downloading one.
    builderArgs.push(`-c.electronDist=${electronDistDir(input.electron.binary.path, target)}`, `-c.electronVersion=${input.electron.binary.version}`);
  } else if (!downloadAllowed) {
    return cannot(`no Electron binary on this machine (${input.electron.reason}). Electron's download script is denied in package.json allowScripts and this machine cannot reach Electron's download servers. Put an unpacked Electron of the same version in ELECTRON_OVERRIDE_DIST_PATH, or on a machine with internet set RELAYPACS_DIST_DOWNLOAD_ELECTRON=1 to let electron-builder download it`);
  } else {
    warnings.push('dist: no local Electron binary; electron-builder will download it (RELAYPACS_DIST_DOWNLOAD_ELECTRON=1)');
  }

  const release = flags.includes('--release');
  const updateUrl = input.env.RELAYPACS_UPDATE_URL;
  if (!updateUrl) {
    if (release) return cannot('a release build needs RELAYPACS_UPDATE_URL, the https address the update files are served from');
    env.RELAYPACS_UPDATE_URL = PLACEHOLDER_UPDATE_URL;
    warnings.push(`dist: RELAYPACS_UPDATE_URL is not set; this build looks for updates at ${PLACEHOLDER_UPDATE_URL}, which never answers`);
  } else if (!updateUrl.startsWith('https://')) {
    return cannot(`RELAYPACS_UPDATE_URL must be an https:// address (electron-updater trusts what it downloads from there), not ${updateUrl}`);
  }

  const azure = ['AZURE_TRUSTED_SIGNING_ENDPOINT', 'AZURE_TRUSTED_SIGNING_ACCOUNT', 'AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE', 'AZURE_TRUSTED_SIGNING_PUBLISHER_NAME'] as const;
  const azureSet = azure.filter((name) => input.env[name]);
  if (target === 'win' && azureSet.length > 0) {
    if (azureSet.length < azure.length) return cannot(`Azure Trusted Signing needs all of ${azure.join(', ')}; missing ${azure.filter((n) => !input.env[n]).join(', ')}`);
    if (input.env.CSC_LINK || input.env.WIN_CSC_LINK) return cannot('both a certificate file (CSC_LINK / WIN_CSC_LINK) and Azure Trusted Signing are configured; choose one');
    // electron-builder.yml cannot read the environment in azureSignOptions, so the values come in here.
    builderArgs.push(
      `-c.win.azureSignOptions.endpoint=${input.env.AZURE_TRUSTED_SIGNING_ENDPOINT}`,
      `-c.win.azureSignOptions.codeSigningAccountName=${input.env.AZURE_TRUSTED_SIGNING_ACCOUNT}`,
      `-c.win.azureSignOptions.certificateProfileName=${input.env.AZURE_TRUSTED_SIGNING_CERTIFICATE_PROFILE}`,
      `-c.win.azureSignOptions.publisherName=${input.env.AZURE_TRUSTED_SIGNING_PUBLISHER_NAME}`,
    );
  }
  const signed = target === 'win' ? Boolean(input.env.CSC_LINK || input.env.WIN_CSC_LINK || azureSet.length > 0)
    : target === 'mac' ? Boolean(input.env.CSC_LINK || input.env.CSC_NAME) : true;
  if (!signed) {
    if (release) return cannot(target === 'win' ? 'a release build must be signed: set CSC_LINK and CSC_KEY_PASSWORD, or the AZURE_TRUSTED_SIGNING_* variables (docs/deploy/signing.md)' : 'a release build must be signed and notarized: set CSC_LINK, CSC_KEY_PASSWORD and APPLE_API_KEY, APPLE_API_KEY_ID, APPLE_API_ISSUER (docs/deploy/signing.md)');
    warnings.push(`dist: no signing certificate configured: the installers are unsigned${target === 'mac' ? ' (unless electron-builder finds a Developer ID identity in the keychain)' : ''}; fine for development, not for distribution (docs/deploy/signing.md)`);
  }
  if (release && target === 'mac' && !(input.env.APPLE_API_KEY && input.env.APPLE_API_KEY_ID && input.env.APPLE_API_ISSUER)) {
    return cannot('a release build must be notarized: set APPLE_API_KEY (path of the .p8 key), APPLE_API_KEY_ID and APPLE_API_ISSUER');
  }

  const steps = ['build:renderer', 'build:desktop'].filter((name) => input.scripts[name] !== undefined);
  return { ok: true, target, steps, builderArgs, env, warnings };
}

/** The folder electron-builder copies: the one holding electron(.exe), or Electron.app on macOS. */
function electronDistDir(executable: string, target: DistTarget): string {
  if (target === 'mac') return executable.replace(/\/Electron\.app\/Contents\/MacOS\/Electron$/, '');
  return dirname(executable);
}

function run(command: string, args: string[], env: Record<string, string>): void {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env }, shell: process.platform === 'win32' });
  if (result.status !== 0) {
    console.error(`dist: ${[command, ...args].join(' ')} failed (${result.error?.message ?? `exit ${result.status ?? result.signal}`})`);
    process.exit(1);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; main?: string };
  const plan = planDist({ argv: process.argv.slice(2), env: process.env, hostPlatform: process.platform, electron: findElectronBinary(), scripts: pkg.scripts ?? {} });
  if (!plan.ok) {
    console.error(plan.message);
    process.exit(1);
  }
  for (const warning of plan.warnings) console.warn(warning);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  for (const step of plan.steps) run(npm, ['run', step], {});
  if (!pkg.main || !existsSync(join(root, pkg.main))) {
    console.error(`dist: package.json "main" (${pkg.main ?? 'unset'}) does not exist after the build steps; the app cannot be packaged without its main process. Nothing was packaged.`);
    process.exit(1);
  }
  const builder = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'electron-builder.cmd' : 'electron-builder');
  run(builder, plan.builderArgs, plan.env);
  console.log(`dist: ${ARTIFACTS[plan.target]} are in dist/desktop/`);
}
