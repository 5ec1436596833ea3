import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UnattendedSignIn } from '../secrets/agent-credentials.js';
import type { CredentialStore } from '../secrets/credential-store.js';
import { userAccount } from '../secrets/credential-account.js';
import { RelayRequestError, type RelayClient } from '../upload/relay-client.js';

/** Who is signed in where: kept in DATA/session.json. The refresh token lives in the keychain only. */
export interface SessionInfo {
  relayUrl: string;
  username: string;
  role: string;
}

export class NotSignedInError extends Error {
  readonly code = 'SESSION_EXPIRED';
}

/**
 * The agent's sign-in: logs in once, keeps the rotating refresh token in the OS keychain, and hands
 * out access tokens, refreshing them shortly before they expire. Each refresh stores the new
 * refresh token before using the access token, so a crash never leaves a spent token behind.
 */
export class AgentSession {
  private access: { token: string; expiresAt: number } | undefined;
  private refreshing: Promise<string> | undefined;

  /**
   * `unattended`: a sign-in the agent repeats by itself (systemd credentials): whenever no refresh
   * token is kept for that account, or the relay refuses the kept one, it signs in with the password.
   */
  constructor(
    private readonly dataDir: string,
    private readonly store: CredentialStore,
    private readonly clientFor: (relayUrl: string) => RelayClient,
    private readonly unattended?: UnattendedSignIn,
  ) {}

  async login(relayUrl: string, username: string, password: string, totp?: string): Promise<SessionInfo> {
    const answer = await this.clientFor(relayUrl).login(username, password, totp);
    const info: SessionInfo = { relayUrl, username: answer.user.username, role: answer.user.role };
    await this.store.set(userAccount(relayUrl, info.username), answer.refreshToken);
    await writeJsonAtomically(join(this.dataDir, 'session.json'), info);
    this.access = { token: answer.accessToken, expiresAt: Date.parse(answer.accessTokenExpiresAt) };
    return info;
  }

  /**
   * Signs out: the relay revokes the refresh token (best effort, so signing out works offline too),
   * then session.json and the keychain item are removed and the access token is forgotten.
   */
  async logout(): Promise<void> {
    // A refresh in flight would otherwise store a new refresh token after it was removed.
    await this.refreshing?.catch(() => undefined);
    this.access = undefined;
    const info = await this.info();
    if (!info) return;
    const account = userAccount(info.relayUrl, info.username);
    const refreshToken = await this.store.get(account).catch(() => undefined);
    if (refreshToken) await this.clientFor(info.relayUrl).logout(refreshToken).catch(() => undefined);
    await rm(join(this.dataDir, 'session.json'), { force: true });
    await this.store.delete(account);
  }

  async info(): Promise<SessionInfo | undefined> {
    let saved: SessionInfo | undefined;
    try {
      saved = JSON.parse(await readFile(join(this.dataDir, 'session.json'), 'utf8')) as SessionInfo;
    } catch {
      saved = undefined;
    }
    // With systemd credentials the agent is signed in as they say, before its first request: the
    // role is the relay's answer once it has signed in (session.json), 'device' until then.
    if (this.unattended && !(saved && this.isUnattended(saved))) return { relayUrl: this.unattended.relayUrl, username: this.unattended.username, role: 'device' };
    return saved;
  }

  private isUnattended(info: SessionInfo): boolean {
    return this.unattended !== undefined && userAccount(info.relayUrl, info.username) === userAccount(this.unattended.relayUrl, this.unattended.username);
  }

  /** Signs in with the unattended password; the new refresh token is stored as any login's. */
  private async signInUnattended(): Promise<string> {
    const { relayUrl, username, password } = this.unattended!;
    await this.login(relayUrl, username, await password());
    return this.access!.token;
  }

  /**
   * A valid access token, refreshed shortly before it expires, or when the caller says the relay
   * refused this very token (`rejected`). One refresh at a time: the upload engine and the event
   * stream may ask together, and a refresh token used twice ends the whole session on the relay
   * (it reads reuse as theft).
   */
  async accessToken(rejected?: string): Promise<string> {
    if (rejected !== undefined && this.access?.token === rejected) this.access = undefined;
    if (this.access && this.access.expiresAt - Date.now() > 30_000) return this.access.token;
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<string> {
    const info = await this.info();
    if (!info) throw new NotSignedInError('not signed in: run `relaypacs login --relay URL --user NAME` first');
    const account = userAccount(info.relayUrl, info.username);
    const refreshToken = await this.store.get(account);
    const unattended = this.isUnattended(info);
    if (!refreshToken && unattended) return this.signInUnattended();
    if (!refreshToken) throw new NotSignedInError('the saved sign-in is gone from the keychain: sign in again');
    let answer: Awaited<ReturnType<RelayClient['refresh']>>;
    try {
      answer = await this.clientFor(info.relayUrl).refresh(refreshToken);
    } catch (error) {
      // Expired or revoked: with the password at hand, sign in again rather than stop.
      if (unattended && error instanceof RelayRequestError && error.status === 401) return this.signInUnattended();
      throw error;
    }
    await this.store.set(account, answer.refreshToken);
    this.access = { token: answer.accessToken, expiresAt: Date.parse(answer.accessTokenExpiresAt) };
    return answer.accessToken;
  }
}

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  await writeFile(`${path}.tmp`, JSON.stringify(value, null, 2), { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}
