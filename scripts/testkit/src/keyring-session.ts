import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ManagedProcess, waitUntilReady } from './managed-process.js';

const run = promisify(execFile);

export interface KeyringSessionOptions {
  /** Password of the login keyring gnome-keyring creates and unlocks. Default: random. */
  password?: string;
  /** Start gnome-keyring on the bus. False gives a bus with no Secret Service on it. Default true. */
  secretService?: boolean;
  startTimeoutMs?: number;
}

export interface KeyringSession {
  /**
   * Variables to lay over a client's environment (process.env or a child's env) so it talks to
   * this keyring: the private bus address. libdbus reads the address once per process, so set it
   * before the first keychain call of that process.
   */
  readonly env: NodeJS.ProcessEnv;
  /** The private bus address alone, e.g. for `dbus-send --bus=`. */
  readonly busAddress: string;
  /** Where gnome-keyring keeps its keyring files (its XDG_DATA_HOME/keyrings). */
  readonly keyringDir: string;
  /**
   * Locks the default (login) keyring, as a screen lock or `secret-tool lock` would. Nothing on the private
   * bus can show an unlock prompt, so afterwards any read or write of it fails as "locked".
   */
  lock(): Promise<void>;
  /** Kills both daemons and removes the temporary directory. Safe to call twice. */
  stop(): Promise<void>;
}

const HINT = 'install the Debian packages dbus and gnome-keyring (scripts/setup/system-packages.sh)';

/**
 * A real Secret Service for one test file: a private D-Bus session bus and gnome-keyring-daemon
 * (secrets component only) with its own HOME and XDG directories under a temporary directory, so
 * the developer's own keyring and session bus are never touched. The login keyring is created and
 * unlocked with a test password; the daemons are children of the test process (ManagedProcess),
 * so they die with it even if stop() is never reached.
 */
export async function startKeyringSession(options: KeyringSessionOptions = {}): Promise<KeyringSession> {
  const timeoutMs = options.startTimeoutMs ?? 15_000;
  // Short prefix: the bus socket path must stay under the 108-byte sun_path limit.
  const root = await mkdtemp(join(tmpdir(), 'relaypacs-keyring-'));
  const dirs = { home: join(root, 'home'), data: join(root, 'data'), config: join(root, 'config'), cache: join(root, 'cache'), runtime: join(root, 'runtime') };
  const started: ManagedProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Keyring first: it would otherwise notice the bus going away and log noise before exiting.
    for (const child of started.reverse()) await child.stop(5_000);
    await rm(root, { recursive: true, force: true });
  };

  try {
    for (const dir of Object.values(dirs)) await mkdir(dir, { recursive: true, mode: 0o700 });
    const socket = join(root, 'bus');
    const busAddress = `unix:path=${socket}`;
    // A bus of our own rather than the system's session.conf: that one lists service directories,
    // and D-Bus activation could start a second gnome-keyring (or a prompter) with the real HOME.
    const configPath = join(root, 'bus.conf');
    await writeFile(configPath, busConfig(socket));

    const bus = new ManagedProcess({
      command: 'dbus-daemon',
      args: ['--config-file', configPath, '--nofork', '--nopidfile', '--nosyslog'],
      logPath: join(root, 'dbus-daemon.log'),
      env: { PATH: process.env.PATH, HOME: dirs.home },
    });
    started.push(bus);
    await waitUntilReady(bus, async () => existsSync(socket) && (await dbusSend(busAddress, ['--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.GetId'])) !== undefined, timeoutMs, `dbus-daemon (${HINT})`);

    if (options.secretService === false) {
      const lock = () => Promise.reject(new Error('this keyring session has no Secret Service to lock'));
      return { env: { DBUS_SESSION_BUS_ADDRESS: busAddress }, busAddress, keyringDir: join(dirs.data, 'keyrings'), lock, stop };
    }

    // --unlock reads the login keyring's password from stdin; ManagedProcess gives its child no
    // stdin, so a shell redirects a file and then exec's the daemon (the pid stays the daemon's).
    const passwordPath = join(root, 'login-password');
    await writeFile(passwordPath, options.password ?? randomBytes(12).toString('hex'), { mode: 0o600 });
    const keyring = new ManagedProcess({
      command: '/bin/sh',
      args: ['-c', 'exec gnome-keyring-daemon --foreground --unlock --components=secrets < "$1"', 'sh', passwordPath],
      logPath: join(root, 'gnome-keyring.log'),
      env: {
        PATH: process.env.PATH,
        HOME: dirs.home,
        XDG_DATA_HOME: dirs.data,
        XDG_CONFIG_HOME: dirs.config,
        XDG_CACHE_HOME: dirs.cache,
        XDG_RUNTIME_DIR: dirs.runtime,
        DBUS_SESSION_BUS_ADDRESS: busAddress,
      },
    });
    started.push(keyring);
    // Ready once the 'default' alias names a collection (the login keyring --unlock created) and
    // that collection is unlocked: before then a client's first write could meet a half-made keyring.
    let collection = '';
    await waitUntilReady(keyring, async () => {
      const alias = await dbusSend(busAddress, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.ReadAlias', 'string:default']);
      const path = alias?.match(/object path "(\/org\/freedesktop\/secrets\/collection\/[^"]+)"/)?.[1];
      if (!path) return false;
      const locked = await dbusSend(busAddress, ['--dest=org.freedesktop.secrets', path, 'org.freedesktop.DBus.Properties.Get', 'string:org.freedesktop.Secret.Collection', 'string:Locked']);
      collection = path;
      return locked !== undefined && /boolean false/.test(locked);
    }, timeoutMs, `gnome-keyring-daemon (${HINT})`);

    const lock = async () => {
      const reply = await dbusSend(busAddress, ['--dest=org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service.Lock', `array:objpath:${collection}`]);
      if (reply === undefined) throw new Error(`could not lock the login keyring:\n${await keyring.logTail()}`);
    };
    return { env: { DBUS_SESSION_BUS_ADDRESS: busAddress }, busAddress, keyringDir: join(dirs.data, 'keyrings'), lock, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Runs dbus-send against `busAddress`: the reply text, or undefined when the call failed. A failure
 * is an answer here (readiness polls expect "not yet"), so it is returned rather than thrown.
 */
export async function dbusSend(busAddress: string, args: string[]): Promise<string | undefined> {
  try {
    const { stdout } = await run('dbus-send', [`--bus=${busAddress}`, '--print-reply', ...args], { timeout: 5_000 });
    return stdout;
  } catch {
    return undefined;
  }
}

function busConfig(socket: string): string {
  return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`;
}
