import { RelayError } from '../http/relay-error.js';
import { MIN_PASSWORD_LENGTH, USERNAME_PATTERN, type UserSummary } from '../protocol/auth-protocol.js';
import { UserExistsError, type UserRecord } from '../store/accounts-store.js';
import type { AuditAction, AuditStore } from '../store/audit-store.js';
import type { RelayStore } from '../store/relay-store.js';
import { hashPassword } from './passwords.js';
import type { Role } from './roles.js';
import { generateTotpSecret, totpUri } from './totp.js';

/** Who is administering: an admin over HTTP (their id and address) or the command line. */
export interface AdminActor {
  userId: number | null;
  address: string;
}

const USERNAME = new RegExp(USERNAME_PATTERN);

export function toUserSummary(user: UserRecord): UserSummary {
  return { id: user.id, username: user.username, role: user.role, disabled: user.disabled, totpEnrolled: user.totpSecret !== null, createdAt: user.createdAt };
}

/**
 * Account administration shared by the admin API and `relaypacs-relay user`: one place that hashes
 * passwords, ends sessions when access is taken away, and writes the audit row. Errors name the
 * account and the reason, so both the API and the command line can show them as they are. A change
 * and its audit row are one unit of work, and so is taking access away with ending the sessions.
 */
export class UserAccounts {
  constructor(private readonly store: RelayStore) {}

  async list(): Promise<UserSummary[]> {
    return (await this.store.users.list()).map(toUserSummary);
  }

  async add(username: string, role: Role, password: string, actor: AdminActor): Promise<UserSummary> {
    if (!USERNAME.test(username)) {
      throw new RelayError(400, 'BAD_REQUEST', `"${username}" is not a valid user name: use up to 64 letters, digits and . _ @ -, starting with a letter or digit`);
    }
    const passwordHash = await hashPassword(checkPassword(username, password));
    try {
      return await this.store.withTransaction(async (tx) => {
        const user = await tx.users.create(username, role, passwordHash);
        await record(tx.audit, 'user-add', 'success', username, actor);
        return toUserSummary(user);
      });
    } catch (error) {
      if (!(error instanceof UserExistsError)) throw error;
      await record(this.store.audit, 'user-add', 'exists', username, actor);
      throw new RelayError(409, 'USER_EXISTS', `an account named ${username} already exists`);
    }
  }

  /** A new password ends the account's sessions: whoever knew the old one is signed out. */
  async setPassword(username: string, password: string, actor: AdminActor): Promise<void> {
    const user = await this.find(username);
    // Argon2 runs before the transaction: a unit of work holds the write lock while it runs.
    const passwordHash = await hashPassword(checkPassword(username, password));
    await this.store.withTransaction(async (tx) => {
      await tx.users.setPasswordHash(user.id, passwordHash);
      await tx.sessions.revokeAllForUser(user.id, 'password-changed');
      await record(tx.audit, 'user-passwd', 'success', user.username, actor);
    });
  }

  /** Disabling ends every session at once; the request guards refuse its access tokens from then on. */
  async setDisabled(username: string, disabled: boolean, actor: AdminActor): Promise<UserSummary> {
    const user = await this.find(username);
    await this.store.withTransaction(async (tx) => {
      await tx.users.setDisabled(user.id, disabled);
      if (disabled) await tx.sessions.revokeAllForUser(user.id, 'user-disabled');
      await record(tx.audit, disabled ? 'user-disable' : 'user-enable', 'success', user.username, actor);
    });
    return toUserSummary({ ...user, disabled });
  }

  /**
   * Enrols a new TOTP secret. Refused when one is enrolled, so re-running the command cannot
   * silently break the authenticator the person already set up; remove it first to replace it.
   */
  async enrolTotp(username: string, actor: AdminActor): Promise<{ secret: string; uri: string }> {
    const user = await this.find(username);
    if (user.role === 'device') {
      throw new RelayError(400, 'BAD_REQUEST', `${user.username} is a device account: it signs in unattended and cannot type one-time codes`);
    }
    if (user.totpSecret !== null) {
      throw new RelayError(409, 'USER_TOTP_ENROLLED', `${user.username} already has a one-time code enrolled; remove it first to enrol a new one`);
    }
    const secret = generateTotpSecret();
    await this.store.withTransaction(async (tx) => {
      await tx.users.setTotpSecret(user.id, secret);
      await record(tx.audit, 'user-totp-enrol', 'success', user.username, actor);
    });
    return { secret, uri: totpUri(secret, user.username) };
  }

  /** Returns false when no code was enrolled (nothing changed). */
  async removeTotp(username: string, actor: AdminActor): Promise<boolean> {
    const user = await this.find(username);
    if (user.totpSecret === null) return false;
    await this.store.withTransaction(async (tx) => {
      await tx.users.setTotpSecret(user.id, null);
      await record(tx.audit, 'user-totp-remove', 'success', user.username, actor);
    });
    return true;
  }

  private async find(username: string): Promise<UserRecord> {
    const user = await this.store.users.findByUsername(username);
    if (!user) throw new RelayError(404, 'USER_NOT_FOUND', `there is no account named ${username}`);
    return user;
  }
}

function record(audit: AuditStore, action: AuditAction, outcome: string, target: string, actor: AdminActor): Promise<void> {
  return audit.record({ action, outcome, target, actorUserId: actor.userId, address: actor.address });
}

function checkPassword(username: string, password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new RelayError(400, 'BAD_REQUEST', `the password for ${username} is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return password;
}
