// Finds the Electron executable WITHOUT downloading it. `require('electron')` is not an option:
// when the binary is missing, the electron package's index.js starts its download script, which
// on an offline machine fails (or hangs on the network). This reads what the install script
// leaves behind instead: node_modules/electron/path.txt naming the executable inside dist/, or
// ELECTRON_OVERRIDE_DIST_PATH, the folder of an Electron unpacked by hand.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface ElectronBinary {
  path: string;
  version: string;
}

export type ElectronBinaryLookup = { found: true; binary: ElectronBinary } | { found: false; reason: string };

const require = createRequire(import.meta.url);

export function findElectronBinary(env: NodeJS.ProcessEnv = process.env): ElectronBinaryLookup {
  let packageDir: string;
  try {
    packageDir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { found: false, reason: 'the electron package is not installed' };
  }
  const version = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
  const pathFile = join(packageDir, 'path.txt');
  const executable = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : defaultExecutable();
  const override = env.ELECTRON_OVERRIDE_DIST_PATH;
  const path = override ? join(override, executable) : join(packageDir, 'dist', executable);
  if (existsSync(path)) return { found: true, binary: { path, version } };
  return {
    found: false,
    reason: override
      ? `no Electron executable at ${path} (ELECTRON_OVERRIDE_DIST_PATH)`
      : `electron ${version} is installed without its executable (nothing at ${path})`,
  };
}

function defaultExecutable(): string {
  if (process.platform === 'darwin') return 'Electron.app/Contents/MacOS/Electron';
  return process.platform === 'win32' ? 'electron.exe' : 'electron';
}
