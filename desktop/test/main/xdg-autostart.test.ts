// Start at login on Linux (login/xdg-autostart.ts) in real temporary folders. The entry is read back
// with a parser written here from the Desktop Entry Specification (string escapes, then Exec quoting,
// then %%), not with the writer's own code.
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyXdgAutostart, autostartEntryPath, desktopEntry, launchCommand, quoteExecArgument } from '../../src/main/login/xdg-autostart.js';

/** Keys of the [Desktop Entry] group, values with the string escapes undone. */
function parseDesktopEntry(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  let group = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      group = header[1]!;
      continue;
    }
    const at = line.indexOf('=');
    if (group !== 'Desktop Entry' || at < 0) throw new Error(`not a key in [Desktop Entry]: ${line}`);
    const value = line.slice(at + 1).replace(/\\([sntr\\])/g, (_m, c: string) => ({ s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' })[c]!);
    entries.set(line.slice(0, at).trim(), value);
  }
  return entries;
}

/** An Exec value (string escapes already undone) as the argument vector a launcher runs. */
function parseExec(exec: string): string[] {
  const args: string[] = [];
  let i = 0;
  while (i < exec.length) {
    if (exec[i] === ' ') {
      i += 1;
      continue;
    }
    let arg = '';
    if (exec[i] === '"') {
      i += 1;
      while (exec[i] !== '"') {
        if (i >= exec.length) throw new Error('unterminated quote');
        if (exec[i] === '\\') {
          const next = exec[i + 1]!;
          if (!'"`$\\'.includes(next)) throw new Error(`a backslash may only escape " \` $ \\, not ${next}`);
          arg += next;
          i += 2;
        } else {
          arg += exec[i];
          i += 1;
        }
      }
      i += 1;
    } else {
      while (i < exec.length && exec[i] !== ' ') {
        if (/["'\\><~|&;$*?#()`\t\n]/.test(exec[i]!)) throw new Error(`reserved character ${exec[i]} outside quotes`);
        arg += exec[i];
        i += 1;
      }
    }
    if (/%(?!%)/.test(arg.replace(/%%/g, ''))) throw new Error(`a field code in ${arg}`);
    args.push(arg.replace(/%%/g, '%'));
  }
  return args;
}

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'relaypacs-autostart-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

describe('XDG autostart entry', () => {
  it('enable writes a valid entry that starts RelayPACS hidden', async () => {
    const path = autostartEntryPath({}, home);
    expect(path).toBe(join(home, '.config', 'autostart', 'relaypacs.desktop'));
    const command = ['/opt/RelayPACS/relaypacs-desktop', '--hidden'];
    expect(await applyXdgAutostart(true, { path, command })).toBe('written');
    const entry = parseDesktopEntry(await readFile(path, 'utf8'));
    expect(entry.get('Type')).toBe('Application');
    expect(entry.get('Name')).toBe('RelayPACS');
    expect(entry.get('Hidden')).toBe('false');
    expect(entry.get('X-GNOME-Autostart-enabled')).toBe('true');
    expect(parseExec(entry.get('Exec')!)).toEqual(command);
  });

  it('disable removes the entry', async () => {
    const path = autostartEntryPath({}, home);
    await applyXdgAutostart(true, { path, command: ['/opt/RelayPACS/relaypacs-desktop', '--hidden'] });
    expect(await applyXdgAutostart(false, { path, command: ['/opt/RelayPACS/relaypacs-desktop', '--hidden'] })).toBe('removed');
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is idempotent: the same setting twice changes nothing the second time', async () => {
    const path = autostartEntryPath({}, home);
    const command = ['/opt/RelayPACS/relaypacs-desktop', '--hidden'];
    await applyXdgAutostart(true, { path, command });
    const before = await stat(path);
    expect(await applyXdgAutostart(true, { path, command })).toBe('unchanged');
    expect((await stat(path)).mtimeMs).toBe(before.mtimeMs);
    expect(await applyXdgAutostart(false, { path, command })).toBe('removed');
    expect(await applyXdgAutostart(false, { path, command })).toBe('unchanged');
  });

  it('rewrites an entry that points elsewhere (the AppImage moved)', async () => {
    const path = autostartEntryPath({}, home);
    await applyXdgAutostart(true, { path, command: ['/home/a/Old.AppImage', '--hidden'] });
    expect(await applyXdgAutostart(true, { path, command: ['/home/a/Apps/RelayPACS.AppImage', '--hidden'] })).toBe('written');
    expect(parseExec(parseDesktopEntry(await readFile(path, 'utf8')).get('Exec')!)[0]).toBe('/home/a/Apps/RelayPACS.AppImage');
  });

  it('quotes a path with spaces, and one with every character the spec reserves', async () => {
    const path = autostartEntryPath({}, home);
    const spaced = `${home}/My Apps/RelayPACS 1.2.AppImage`;
    await applyXdgAutostart(true, { path, command: [spaced, '--hidden'] });
    const text = await readFile(path, 'utf8');
    expect(text).toContain(`Exec="${spaced}" --hidden\n`);
    expect(parseExec(parseDesktopEntry(text).get('Exec')!)).toEqual([spaced, '--hidden']);

    const awkward = '/home/o\'brien/a "b" $HOME `x` \\ 100% (c) #1 & ;|<>*?~\tend';
    await applyXdgAutostart(true, { path, command: [awkward, '--hidden'] });
    expect(parseExec(parseDesktopEntry(await readFile(path, 'utf8')).get('Exec')!)).toEqual([awkward, '--hidden']);
  });

  it('writes a literal backslash as four, as the spec says', () => {
    expect(quoteExecArgument('a\\b')).toBe('"a\\\\b"');
    expect(desktopEntry(['a\\b'])).toContain('Exec="a\\\\\\\\b"\n');
    expect(quoteExecArgument('/opt/RelayPACS/relaypacs-desktop')).toBe('/opt/RelayPACS/relaypacs-desktop');
    expect(quoteExecArgument('')).toBe('""');
  });

  it('respects XDG_CONFIG_HOME, and ignores an empty or relative one as the spec says', async () => {
    const configHome = join(home, 'cfg');
    const path = autostartEntryPath({ XDG_CONFIG_HOME: configHome }, home);
    expect(path).toBe(join(configHome, 'autostart', 'relaypacs.desktop'));
    expect(await applyXdgAutostart(true, { path, command: ['/opt/RelayPACS/relaypacs-desktop'] })).toBe('written');
    await expect(stat(join(home, '.config'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(autostartEntryPath({ XDG_CONFIG_HOME: '' }, home)).toBe(join(home, '.config', 'autostart', 'relaypacs.desktop'));
    expect(autostartEntryPath({ XDG_CONFIG_HOME: 'relative/cfg' }, home)).toBe(join(home, '.config', 'autostart', 'relaypacs.desktop'));
  });

  it('replaces a file of the same name the user left there', async () => {
    const path = autostartEntryPath({}, home);
    await applyXdgAutostart(true, { path, command: ['/x'] });
    await writeFile(path, '[Desktop Entry]\nType=Application\nExec=/x\nHidden=true\n');
    expect(await applyXdgAutostart(true, { path, command: ['/x'] })).toBe('written');
    expect(parseDesktopEntry(await readFile(path, 'utf8')).get('Hidden')).toBe('false');
  });
});

describe('launchCommand', () => {
  it('starts the AppImage file, not its temporary mount', () => {
    expect(launchCommand({ execPath: '/tmp/.mount_RelayPxyz/relaypacs-desktop', env: { APPIMAGE: '/home/a/RelayPACS.AppImage' }, isPackaged: true, appPath: '/tmp/.mount_RelayPxyz/resources/app.asar', args: ['--hidden'] }))
      .toEqual(['/home/a/RelayPACS.AppImage', '--hidden']);
  });

  it('starts the installed executable of a deb', () => {
    expect(launchCommand({ execPath: '/opt/RelayPACS/relaypacs-desktop', env: {}, isPackaged: true, appPath: '/opt/RelayPACS/resources/app.asar', args: ['--hidden'] }))
      .toEqual(['/opt/RelayPACS/relaypacs-desktop', '--hidden']);
  });

  it('gives an unpackaged Electron the app folder', () => {
    expect(launchCommand({ execPath: '/repo/node_modules/electron/dist/electron', env: {}, isPackaged: false, appPath: '/repo', args: ['--hidden'] }))
      .toEqual(['/repo/node_modules/electron/dist/electron', '/repo', '--hidden']);
  });
});
