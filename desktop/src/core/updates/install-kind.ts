/**
 * How this copy of the app was installed, which decides who updates it. electron-updater can replace an
 * NSIS install, a macOS app and an AppImage; it cannot update an MSI (Windows Installer owns those files
 * and would repair them back, or leave two products registered), and a .deb belongs to the package
 * manager. Those are updated by IT (a new MSI through GPO/Intune/SCCM, a new .deb through apt).
 *
 * Windows evidence, strongest first:
 *   - `Uninstall RelayPACS.exe` beside the executable: the NSIS installer put it there (an MSI does not);
 *   - the MSI's upgrade code registered under HKLM\SOFTWARE\Classes\Installer\UpgradeCodes (in Windows
 *     Installer's packed GUID form): a per-machine MSI with our fixed upgradeCode is installed;
 *   - neither: an unpacked or copied folder; nobody can update it safely, so nobody tries.
 */
import type { CommandRunner } from '../policy/command-runner.js';

/** electron-builder.yml msi.upgradeCode. Fixed for the life of the product: MSI major upgrades find the old version by it. */
export const MSI_UPGRADE_CODE = '{5E8B1C3A-7F42-4D6B-9A2E-3C1D8F0B6A47}';
export const PRODUCT_NAME = 'RelayPACS';

export type InstallKind = 'msi' | 'nsis' | 'mac' | 'appimage' | 'deb' | 'development' | 'unknown';

export interface InstallKindInput {
  platform: NodeJS.Platform;
  /** app.isPackaged: false when run from the repository (electron .). */
  isPackaged: boolean;
  /** process.execPath of the packaged app. */
  execPath: string;
  env: Readonly<Record<string, string | undefined>>;
  exists: (path: string) => Promise<boolean>;
  /** Windows only: runs reg.exe to look for the MSI's upgrade code. */
  run?: CommandRunner;
}

export async function detectInstallKind(input: InstallKindInput): Promise<InstallKind> {
  if (!input.isPackaged) return 'development';
  if (input.platform === 'darwin') return 'mac';
  if (input.platform === 'linux') {
    // The AppImage runtime sets APPIMAGE to the image's own path.
    if (input.env.APPIMAGE) return 'appimage';
    // electron-builder's deb installs to /opt/<productName>.
    if (input.execPath.startsWith(`/opt/${PRODUCT_NAME}/`)) return 'deb';
    return 'unknown';
  }
  if (input.platform === 'win32') {
    const dir = input.execPath.replace(/[\\/][^\\/]+$/, '');
    if (await input.exists(`${dir}\\Uninstall ${PRODUCT_NAME}.exe`)) return 'nsis';
    if (input.run && await msiUpgradeCodeRegistered(input.run)) return 'msi';
    return 'unknown';
  }
  return 'unknown';
}

/** reg query exits 0 when the key exists, 1 when it does not. */
export async function msiUpgradeCodeRegistered(run: CommandRunner, upgradeCode = MSI_UPGRADE_CODE): Promise<boolean> {
  try {
    const result = await run('reg.exe', ['query', `HKLM\\SOFTWARE\\Classes\\Installer\\UpgradeCodes\\${packGuid(upgradeCode)}`, '/reg:64']);
    return result.code === 0;
  } catch {
    return false;
  }
}

/**
 * Windows Installer's "packed" (compressed) GUID, the form it uses for registry key names: the first
 * three groups reversed character by character, then each byte of the last two groups with its two hex
 * digits swapped. {12345678-90AB-CDEF-1234-567890ABCDEF} → 87654321BA09FEDC2143658709BADCFE.
 */
export function packGuid(guid: string): string {
  const match = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i.exec(guid.trim());
  if (!match) throw new Error(`not a GUID: ${guid}`);
  const reverse = (s: string): string => [...s].reverse().join('');
  const swapPairs = (s: string): string => s.replace(/(.)(.)/g, '$2$1');
  return (reverse(match[1]!) + reverse(match[2]!) + reverse(match[3]!) + swapPairs(match[4]!) + swapPairs(match[5]!)).toUpperCase();
}
