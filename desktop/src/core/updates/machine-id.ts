/**
 * A stable id of the machine (not the user) for staged rollouts: every user of a shared workstation
 * lands in the same rollout bucket. Only its salted hash is used (rolloutBucket); it is never sent.
 *   Windows: HKLM\SOFTWARE\Microsoft\Cryptography MachineGuid (set at Windows setup)
 *   macOS:   IOPlatformUUID from `ioreg -rd1 -c IOPlatformExpertDevice`
 *   Linux:   /etc/machine-id (systemd), else /var/lib/dbus/machine-id
 * Null when none can be read; the caller may then fall back to electron-updater's per-user id.
 */
import type { CommandRunner } from '../policy/command-runner.js';
import type { FileReader } from '../policy/file-policy.js';
import { parseRegQueryOutput } from '../policy/reg-query.js';

export interface MachineIdOptions {
  platform: NodeJS.Platform;
  run: CommandRunner;
  readFile: FileReader;
}

export async function readMachineId(options: MachineIdOptions): Promise<string | null> {
  try {
    if (options.platform === 'win32') {
      const result = await options.run('reg.exe', ['query', 'HKLM\\SOFTWARE\\Microsoft\\Cryptography', '/v', 'MachineGuid', '/reg:64']);
      if (result.code !== 0) return null;
      const value = parseRegQueryOutput(result.stdout).flatMap((key) => key.values).find((v) => v.name.toLowerCase() === 'machineguid');
      return value && typeof value.data === 'string' && value.data.trim() !== '' ? value.data.trim().toLowerCase() : null;
    }
    if (options.platform === 'darwin') {
      const result = await options.run('/usr/sbin/ioreg', ['-rd1', '-c', 'IOPlatformExpertDevice']);
      const match = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(result.stdout);
      return match ? match[1]!.toLowerCase() : null;
    }
    for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
      const bytes = await options.readFile(path);
      const id = bytes ? Buffer.from(bytes).toString('utf8').trim() : '';
      if (/^[0-9a-f]{32}$/i.test(id)) return id.toLowerCase();
    }
    return null;
  } catch {
    // Unreadable is the same as absent here: the rollout then waits for 100 % (isWithinRollout).
    return null;
  }
}
