import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkAccountName } from './credential-account.js';
import { KeychainUnavailableError, type CredentialStore } from './credential-store.js';

/** The credential file's name in the agent's data folder. */
export const CREDENTIAL_FILE_NAME = 'credentials.json';

interface CredentialFile {
  version: 1;
  /** Account name (credential-account.ts) → secret. */
  credentials: Record<string, string>;
}

/**
 * The headless agent's credentials in one file, DATA/credentials.json, for machines without a
 * Secret Service (servers, containers, CI). Used only when chosen (`--credential-store file`,
 * RELAYPACS_CREDENTIAL_STORE=file, or `npm start` on a machine where no Secret Service answers),
 * never as a silent fallback, and never by the desktop app, which requires the OS keychain.
 *
 * The file is as safe as the account that owns it: anything running as that user, and root, can
 * read it. So it is written with mode 0600 and, before every read or write, refused when it is
 * readable or writable by group or others, not a regular file (a symlink could point anywhere), or
 * not owned by the user the agent runs as: a file someone else owns could have been planted, or be
 * read by its owner. Writes are atomic (a temporary file of mode 0600, fsync, rename, fsync of the
 * folder), so a crash mid-refresh leaves the old refresh token or the new one, never half a file.
 *
 * Not on Windows, where mode bits mean nothing and every account, a service account too, has
 * Windows Credential Manager.
 */
export class FileCredentialStore implements CredentialStore {
  readonly path: string;
  /** One read-modify-write at a time within this process. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(dataDir: string) {
    this.path = join(dataDir, CREDENTIAL_FILE_NAME);
  }

  /**
   * Refuses now what get and set would refuse later (permissions, owner, a damaged file), so the
   * agent stops at start with the sentence instead of failing its first upload over and over.
   */
  async check(): Promise<void> {
    await this.serial(() => this.load());
  }

  async get(account: string): Promise<string | undefined> {
    checkAccountName(account);
    return this.serial(async () => (await this.load()).credentials[account]);
  }

  async set(account: string, secret: string): Promise<void> {
    checkAccountName(account);
    if (typeof secret !== 'string' || secret.length === 0) throw new RangeError('A credential to keep must be a non-empty string.');
    await this.serial(async () => {
      const file = await this.load();
      file.credentials[account] = secret;
      await this.save(file);
    });
  }

  async delete(account: string): Promise<boolean> {
    checkAccountName(account);
    return this.serial(async () => {
      const file = await this.load();
      if (!(account in file.credentials)) return false;
      delete file.credentials[account];
      await this.save(file);
      return true;
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async load(): Promise<CredentialFile> {
    if (process.platform === 'win32') {
      throw new KeychainUnavailableError('unsupported-platform', 'The credential file is for Linux and macOS; on Windows the agent keeps credentials in Windows Credential Manager, which every account (a service account too) has.');
    }
    let stats: Stats;
    try {
      stats = await lstat(this.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, credentials: {} };
      throw error;
    }
    checkPrivateFile(this.path, stats, 'credential file');
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.path, 'utf8'));
    } catch {
      // Never the parser's words: they could quote part of a secret.
      throw new KeychainUnavailableError('backend-error', `The credential file ${this.path} is not valid JSON; remove it and sign in again (relaypacs login).`);
    }
    const credentials = (parsed as Partial<CredentialFile> | null)?.credentials;
    if (typeof credentials !== 'object' || credentials === null || Object.values(credentials).some((v) => typeof v !== 'string')) {
      throw new KeychainUnavailableError('backend-error', `The credential file ${this.path} is not a RelayPACS credential file; remove it and sign in again (relaypacs login).`);
    }
    return { version: 1, credentials: { ...credentials } };
  }

  private async save(file: CredentialFile): Promise<void> {
    const temp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    // O_EXCL: never write through a file or symlink someone placed at the temporary name.
    const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      try {
        // The umask cannot widen 0600, but a restrictive one could narrow it; make it exactly 0600.
        await handle.chmod(0o600);
        await handle.writeFile(`${JSON.stringify(file, null, 2)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    // The rename itself is durable only once the folder is synced.
    const folder = await open(dirname(this.path), 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}

/**
 * Refuses a file holding secrets that others could read, write or have planted: not a regular file,
 * any group or other permission bit, or an owner other than this process's user. `what` names it in
 * the sentence ("credential file", "systemd credential"). `systemd`: only the bits for others count
 * and the owner is not checked, since systemd may give a service's user its credentials through an
 * ACL on a root-owned file, whose group bits then show the ACL mask (systemd.exec(5), "Credentials").
 */
export function checkPrivateFile(path: string, stats: Stats, what: string, systemd = false): void {
  if (!stats.isFile()) {
    throw new KeychainUnavailableError('file-unsafe', `The ${what} ${path} is not a regular file (a symbolic link or a folder), so RelayPACS does not use it; replace it with a plain file of mode 0600.`);
  }
  const mode = stats.mode & 0o777;
  if ((mode & (systemd ? 0o007 : 0o077)) !== 0) {
    throw new KeychainUnavailableError('file-unsafe', `The ${what} ${path} has mode ${mode.toString(8).padStart(4, '0')}, so other users can read or change it, and RelayPACS refuses to use it; run \`chmod 600 ${path}\` and try again.`);
  }
  const uid = process.getuid?.();
  if (!systemd && uid !== undefined && stats.uid !== uid) {
    throw new KeychainUnavailableError('file-unsafe', `The ${what} ${path} belongs to user id ${stats.uid}, not to the user RelayPACS runs as (${uid}), so RelayPACS refuses to use it; run \`chown ${uid} ${path}\` as root, or remove it and sign in again.`);
  }
}
