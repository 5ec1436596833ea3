/**
 * Start at login on Linux, where Electron's login items do not exist: an entry in the desktop
 * session's autostart folder (XDG Autostart spec: $XDG_CONFIG_HOME/autostart, default ~/.config),
 * which GNOME, KDE, Xfce, Cinnamon, MATE and LXQt start at login. The file is RelayPACS's own:
 * written when the setting is on, removed when it is off. Plain Node, so it is tested in real
 * folders without Electron; login-item.ts calls it.
 *
 * Desktop Entry Specification (1.5), "The Exec key": an argument holding a reserved character is put in
 * double quotes, inside which ", `, $ and \ take a backslash; a literal % is written %%. Exec is
 * also a string value, whose own escapes (\\, \n, \t, \r) are undone before the quoting is read, so
 * they are applied after it: a backslash in a path ends up as four.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';

export const AUTOSTART_FILE_NAME = 'relaypacs.desktop';

/** $XDG_CONFIG_HOME/autostart/relaypacs.desktop; the spec ignores an empty or relative XDG_CONFIG_HOME. */
export function autostartEntryPath(env: Readonly<Record<string, string | undefined>>, homeDir: string): string {
  const configured = env.XDG_CONFIG_HOME;
  const configHome = configured && isAbsolute(configured) ? configured : join(homeDir, '.config');
  return join(configHome, 'autostart', AUTOSTART_FILE_NAME);
}

export interface LaunchInput {
  /** process.execPath */
  execPath: string;
  env: Readonly<Record<string, string | undefined>>;
  /** app.isPackaged */
  isPackaged: boolean;
  /** app.getAppPath(): what an unpackaged Electron must be given to run RelayPACS. */
  appPath: string;
  args: readonly string[];
}

/** The command that starts this copy of RelayPACS again at the next login. */
export function launchCommand(input: LaunchInput): string[] {
  // An AppImage runs from a mount that changes every start; APPIMAGE names the image file itself.
  const program = input.env.APPIMAGE || input.execPath;
  return [program, ...(input.isPackaged ? [] : [input.appPath]), ...input.args];
}

const RESERVED = /[\s"'\\><~|&;$*?#()`]/;

/** One argument of an Exec line (before the string escapes of escapeStringValue). */
export function quoteExecArgument(argument: string): string {
  const percent = argument.replace(/%/g, '%%');
  if (percent !== '' && !RESERVED.test(percent)) return percent;
  return `"${percent.replace(/["`$\\]/g, (c) => `\\${c}`)}"`;
}

/** The string-type escapes of a desktop entry value. */
function escapeStringValue(value: string): string {
  return value.replace(/[\\\n\t\r]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\t': '\\t', '\r': '\\r' })[c]!);
}

export function desktopEntry(command: readonly string[]): string {
  if (command.length === 0) throw new Error('an autostart entry needs a program to run');
  return [
    '# Written by RelayPACS for "Start at login"; removed when that is turned off.',
    '[Desktop Entry]',
    'Type=Application',
    'Version=1.0',
    'Name=RelayPACS',
    'Comment=Send DICOM studies to PACS',
    `Exec=${escapeStringValue(command.map(quoteExecArgument).join(' '))}`,
    'Terminal=false',
    'Hidden=false',
    'X-GNOME-Autostart-enabled=true',
    '',
  ].join('\n');
}

export type AutostartChange = 'written' | 'removed' | 'unchanged';

/** Writes or removes the entry; does nothing when the file already is as it should be. */
export async function applyXdgAutostart(enabled: boolean, options: { path: string; command: readonly string[] }): Promise<AutostartChange> {
  const current = await readFile(options.path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return null;
    throw error;
  });
  if (!enabled) {
    if (current === null) return 'unchanged';
    await rm(options.path, { force: true });
    return 'removed';
  }
  const wanted = desktopEntry(options.command);
  if (current === wanted) return 'unchanged';
  // The spec's mode for a configuration folder it has to create.
  await mkdir(dirname(options.path), { recursive: true, mode: 0o700 });
  // Written beside it and renamed, so a session starting meanwhile never reads half an entry.
  const partial = `${options.path}.${process.pid}.tmp`;
  await writeFile(partial, wanted, { mode: 0o644 });
  await rename(partial, options.path);
  return 'written';
}
