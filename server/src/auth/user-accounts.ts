import { RelayError } from '../http/relay-error.js';
import { MIN_PASSWORD_LENGTH, USERNAME_PATTERN, type UserSummary } from '../protocol/auth-protocol.js';
import type { AuditAction, AuditLog } from './audit-log.js';
import { hashPassword } from './passwords.js';
import type { Role } from './roles.js';
import type { SessionStore } from './session-store.js';
import { generateTotpSecret, totpUri } from './totp.js';
import { UserExistsError, type UserRecord, type UsersRepository } from './users-repository.js';

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
 * account and the reason, so both the API and the command line can show them as they are.
 */
export class UserAccounts {
  constructor(private readonly users: UsersRepository, private readonly sessions: SessionStore, private readonly audit: AuditLog) {}

  list(): UserSummary[] {
    return this.users.list().map(toUserSummary);
  }

  async add(username: string, role: Role, password: string, actor: AdminActor): Promise<UserSummary> {
    if (!USERNAME.test(username)) {
      throw new RelayError(400, 'BAD_REQUEST', `"${username}" is not a valid user name: use up to 64 letters, digits and . _ @ -, starting with a letter or digit`);
    }
    const passwordHash = await hashPassword(checkPassword(username, password));
    try {
      const user = this.users.create(username, role, passwordHash);
      this.record('user-add', 'success', username, actor);
      return toUserSummary(user);
    } catch (error) {
      if (!(error instanceof UserExistsError)) throw error;
      this.record('user-add', 'exists', username, actor);
      throw new RelayError(409, 'USER_EXISTS', `an account named ${username} already exists`);
    }
  }

  /** A new password ends the account's sessions: whoever knew the old one is signed out. */
  async setPassword(username: string, password: string, actor: AdminActor): Promise<void> {
    const user = this.find(username);
    this.users.setPasswordHash(user.id, await hashPassword(checkPassword(username, password)));
    this.sessions.revokeAllForUser(user.id, 'password-changed');
    this.record('user-passwd', 'success', user.username, actor);
  }

  /** Disabling ends every session at once; the request guards refuse its access tokens from then on. */
  setDisabled(username: string, disabled: boolean, actor: AdminActor): UserSummary {
    const user = this.find(username);
    this.users.setDisabled(user.id, disabled);
    if (disabled) this.sessions.revokeAllForUser(user.id, 'user-disabled');
    this.record(disabled ? 'user-disable' : 'user-enable', 'success', user.username, actor);
    return toUserSummary({ ...user, disabled });
  }

  /**
   * Enrols a new TOTP secret. Refused when one is enrolled, so re-running the command cannot
   * silently break the authenticator the person already set up; remove it first to replace it.
   */
  enrolTotp(username: string, actor: AdminActor): { secret: string; uri: string } {
    const user = this.find(username);
    if (user.role === 'device') {
      throw new RelayError(400, 'BAD_REQUEST', `${user.username} is a device account: it signs in unattended and cannot type one-time codes`);
    }
    if (user.totpSecret !== null) {
      throw new RelayError(409, 'USER_TOTP_ENROLLED', `${user.username} already has a one-time code enrolled; remove it first to enrol a new one`);
    }
    const secret = generateTotpSecret();
    this.users.setTotpSecret(user.id, secret);
    this.record('user-totp-enrol', 'success', user.username, actor);
    return { secret, uri: totpUri(secret, user.username) };
  }

  /** Returns false when no code was enrolled (nothing changed). */
  removeTotp(username: string, actor: AdminActor): boolean {
    const user = this.find(username);
    if (user.totpSecret === null) return false;
    this.users.setTotpSecret(user.id, null);
    this.record('user-totp-remove', 'success', user.username, actor);
    return true;
  }

  private find(username: string): UserRecord {
    const user = this.users.findByUsername(username);
    if (!user) throw new RelayError(404, 'USER_NOT_FOUND', `there is no account named ${username}`);
    return user;
  }

  private record(action: AuditAction, outcome: string, target: string, actor: AdminActor): void {
    this.audit.record({ action, outcome, target, actorUserId: actor.userId, address: actor.address });
  }
}

function checkPassword(username: string, password: string): string {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new RelayError(400, 'BAD_REQUEST', `the password for ${username} is too short: use at least ${MIN_PASSWORD_LENGTH} characters`);
  }
  return password;
}
