import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type pg from 'pg';
import { freeLoopbackPort } from './free-port.js';
import { ManagedProcess, waitUntilReady, type ExitStatus } from './managed-process.js';
import { waitForProcessGroupGone } from './process-group.js';

const run = promisify(execFile);

/** Where Debian's postgresql-NN packages put the server programs, one directory per major version. */
export const POSTGRES_LIB_DIR = '/usr/lib/postgresql';
/** The account Debian's package creates; PostgreSQL refuses to run as root. */
const SERVICE_USER = 'postgres';
const DATABASE = 'relaypacs';
const USER = 'relaypacs';

export interface PostgresOptions {
  /** A PostgreSQL bin directory; default: the newest under /usr/lib/postgresql. */
  binDir?: string;
  startTimeoutMs?: number;
}

/** The newest installed major version's bin directory, so a Debian upgrade (15 → 16) needs no edit. */
export function postgresBinDir(): string {
  const versions = existsSync(POSTGRES_LIB_DIR)
    ? readdirSync(POSTGRES_LIB_DIR).filter((name) => /^\d+$/.test(name) && existsSync(join(POSTGRES_LIB_DIR, name, 'bin', 'postgres')))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw new Error(`no PostgreSQL under ${POSTGRES_LIB_DIR}: apt-get install postgresql`);
  return join(POSTGRES_LIB_DIR, newest, 'bin');
}

/**
 * As root, programs run as the `postgres` account through setpriv, which execs (runuser would stay
 * as a parent and stand between us and the postmaster's signals). As anyone else, as themselves.
 */
function asServiceUser(command: string, args: string[]): { command: string; args: string[] } {
  if (process.getuid?.() !== 0) return { command, args };
  return { command: 'setpriv', args: [`--reuid=${SERVICE_USER}`, `--regid=${SERVICE_USER}`, '--init-groups', '--', command, ...args] };
}

async function serviceUserIds(): Promise<{ uid: number; gid: number }> {
  const line = (await readFile('/etc/passwd', 'utf8')).split('\n').find((entry) => entry.startsWith(`${SERVICE_USER}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no ${SERVICE_USER} account: apt-get install postgresql creates it`);
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A real PostgreSQL (Debian package) for one test file: a fresh cluster in a temporary directory,
 * listening on a free loopback port (its Unix socket in that directory, never /var/run), a
 * password user owning one database. fsync and synchronous commit stay on, as in production,
 * because crash tests rely on a committed row surviving kill().
 */
export class PostgresServer {
  private constructor(
    readonly port: number,
    readonly password: string,
    readonly workDir: string,
    private readonly binDir: string,
    private process: ManagedProcess,
    private readonly startTimeoutMs: number,
  ) {}

  static async start(options: PostgresOptions = {}): Promise<PostgresServer> {
    const binDir = options.binDir ?? postgresBinDir();
    const workDir = await mkdtemp(join(tmpdir(), 'relaypacs-postgres-'));
    try {
      if (process.getuid?.() === 0) {
        const { uid, gid } = await serviceUserIds();
        await chown(workDir, uid, gid);
      }
      // The superuser authenticates over the Unix socket only (trust: the socket directory is
      // the service user's, mode 0700); TCP clients need the password.
      const initdb = asServiceUser(join(binDir, 'initdb'), [
        '-D', join(workDir, 'data'), '-U', SERVICE_USER, '-E', 'UTF8', '--locale=C',
        '--auth-local=trust', '--auth-host=scram-sha-256', '--no-instructions',
      ]);
      await run(initdb.command, initdb.args, { cwd: workDir }).catch((error: { stderr?: string; message: string }) => {
        throw new Error(`initdb failed: ${error.stderr ?? error.message}`);
      });
    } catch (error) {
      await rm(workDir, { recursive: true, force: true });
      throw error;
    }
    let lastError: unknown;
    // A free port can be taken between our probe and the postmaster's bind: retry with fresh ones.
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freeLoopbackPort();
      const server = new PostgresServer(port, randomBytes(12).toString('hex'), workDir, binDir, PostgresServer.spawn(binDir, workDir, port), options.startTimeoutMs ?? 30_000);
      try {
        await server.waitReady();
        await server.createDatabase();
        return server;
      } catch (error) {
        lastError = error;
        await server.process.stop(2_000);
      }
    }
    await rm(workDir, { recursive: true, force: true });
    throw lastError;
  }

  private static spawn(binDir: string, workDir: string, port: number): ManagedProcess {
    const postgres = asServiceUser(join(binDir, 'postgres'), [
      '-D', join(workDir, 'data'),
      '-c', `port=${port}`,
      '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${workDir}`,
      '-c', 'fsync=on',
      '-c', 'synchronous_commit=on',
      '-c', 'full_page_writes=on',
      // Three relays of 10 connections each (the scale-out tests and benchmark), a test's own
      // clients, and the superuser's reserve: 30 starved three relays (53300, too many connections).
      '-c', 'max_connections=100',
    ]);
    return new ManagedProcess({
      ...postgres,
      logPath: join(workDir, 'postgres.log'),
      cwd: workDir,
      // Backends are the postmaster's children: kill() and a hung stop() must reach them too.
      processGroup: true,
      // SIGINT is PostgreSQL's fast shutdown; SIGTERM (smart) waits for every client to leave.
      stopSignal: 'SIGINT',
    });
  }

  /** The relay's view: `postgres://user:password@127.0.0.1:port/database`. */
  get url(): string {
    return `postgres://${USER}:${this.password}@127.0.0.1:${this.port}/${DATABASE}`;
  }

  get user(): string {
    return USER;
  }

  get database(): string {
    return DATABASE;
  }

  get dataDir(): string {
    return join(this.workDir, 'data');
  }

  /** The postmaster's pid, which is also its process group's id. */
  get pid(): number | undefined {
    return this.process.pid;
  }

  async logText(): Promise<string> {
    return this.process.logText();
  }

  /**
   * SIGKILL to the postmaster and its backends at once, as a crashed machine or an OOM-killed
   * container would leave them: no checkpoint, no clean shutdown. Resolves once none is left, so
   * restart() does not meet a shared memory block still attached.
   */
  async kill(): Promise<ExitStatus> {
    const pid = this.process.pid;
    const status = await this.process.kill();
    if (pid !== undefined) await waitForProcessGroupGone(pid, 10_000, 'PostgreSQL');
    return status;
  }

  /** Starts PostgreSQL again on the same data directory and port, after kill() or a shutdown. */
  async restart(): Promise<void> {
    if (!this.process.hasExited) throw new Error('PostgreSQL is still running: kill() it first');
    this.process = PostgresServer.spawn(this.binDir, this.workDir, this.port);
    await this.waitReady();
  }

  /**
   * Fast shutdown (SIGINT), SIGKILL to the whole group if it hangs, then the directory goes, and
   * with it, after a kill(), the shared memory the dead postmaster left.
   */
  async stop(options: { keepFiles?: boolean } = {}): Promise<ExitStatus & { forced: boolean }> {
    const pid = this.process.pid;
    const status = await this.process.stop(10_000);
    if (pid !== undefined) await waitForProcessGroupGone(pid, 10_000, 'PostgreSQL');
    if (!options.keepFiles) {
      await this.removeStaleSharedMemory();
      await rm(this.workDir, { recursive: true, force: true });
    }
    return status;
  }

  /**
   * The postmaster keeps a small System V segment (an interlock against two postmasters on one
   * data directory) and removes it at shutdown; a SIGKILLed one cannot, and the next start on the
   * same directory would. With the directory about to go there is no next start, so the segment
   * would outlive the test. postmaster.pid, still there only when the postmaster died, names it
   * on its seventh line: "<key> <shmid>".
   */
  private async removeStaleSharedMemory(): Promise<void> {
    const pidFile = await readFile(join(this.dataDir, 'postmaster.pid'), 'utf8').catch(() => undefined);
    const shmid = pidFile?.split('\n')[6]?.trim().split(/\s+/)[1];
    if (shmid === undefined || !/^\d+$/.test(shmid)) return;
    // Already removed (or never created) is fine: ipcrm's failure is not the test's.
    await run('ipcrm', ['-m', shmid]).catch(() => {});
  }

  /** A client for the superuser over the Unix socket, which is how the harness administers it. */
  /** pg is loaded when a server starts, not when the test kit is imported (see awsSdk in swift-s3-server.ts). */
  private async superuser(): Promise<pg.Client> {
    const { default: { Client } } = await import('pg');
    return new Client({ host: this.workDir, port: this.port, user: SERVICE_USER, database: 'postgres', connectionTimeoutMillis: 2_000 });
  }

  /** Ready means a query answers: the postmaster accepts connections while still recovering. */
  private async waitReady(): Promise<void> {
    await waitUntilReady(this.process, async () => {
      const client = await this.superuser();
      // A refused connection also emits 'error' on the client; the rejected connect() reports it.
      client.on('error', () => {});
      try {
        await client.connect();
        await client.query('SELECT 1');
        return true;
      } finally {
        await client.end().catch(() => {});
      }
    }, this.startTimeoutMs, 'PostgreSQL');
  }

  private async createDatabase(): Promise<void> {
    const client = await this.superuser();
    await client.connect();
    try {
      // DDL takes no bind parameters; the password is hex, so quoting it is safe.
      await client.query(`CREATE ROLE ${USER} LOGIN PASSWORD '${this.password}'`);
      await client.query(`CREATE DATABASE ${DATABASE} OWNER ${USER}`);
    } finally {
      await client.end();
    }
  }
}

