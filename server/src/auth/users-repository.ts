import type { RelayDatabase } from '../db/database.js';
import type { Role } from './roles.js';

export interface UserRecord {
  id: number;
  username: string;
  role: Role;
  passwordHash: string;
  disabled: boolean;
  totpSecret: string | null;
  totpLastStep: number | null;
  createdAt: string;
}

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  disabled: number;
  totp_secret: string | null;
  totp_last_step: number | null;
  created_at: string;
}

function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    passwordHash: row.password_hash,
    disabled: row.disabled === 1,
    totpSecret: row.totp_secret,
    totpLastStep: row.totp_last_step,
    createdAt: row.created_at,
  };
}

export class UserExistsError extends Error {}

export class UsersRepository {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date = () => new Date()) {}

  create(username: string, role: Role, passwordHash: string): UserRecord {
    try {
      const info = this.db
        .prepare('INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(username, role, passwordHash, this.now().toISOString());
      return this.findById(Number(info.lastInsertRowid))!;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UserExistsError(`user ${username} already exists`);
      throw error;
    }
  }

  findById(id: number): UserRecord | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
    return row && toRecord(row);
  }

  findByUsername(username: string): UserRecord | undefined {
    const row = this.db.prepare('SELECT * FROM users WHERE username = ?').get(username) as UserRow | undefined;
    return row && toRecord(row);
  }

  list(): UserRecord[] {
    return (this.db.prepare('SELECT * FROM users ORDER BY username').all() as UserRow[]).map(toRecord);
  }

  setPasswordHash(id: number, passwordHash: string): void {
    this.db.prepare('UPDATE users SET password_hash = ? WHERE id = ?').run(passwordHash, id);
  }

  setDisabled(id: number, disabled: boolean): void {
    this.db.prepare('UPDATE users SET disabled = ? WHERE id = ?').run(disabled ? 1 : 0, id);
  }

  setTotpSecret(id: number, secret: string | null): void {
    this.db.prepare('UPDATE users SET totp_secret = ?, totp_last_step = NULL WHERE id = ?').run(secret, id);
  }

  /**
   * Records the TOTP time step just used, only if it is newer than the last one: false means the
   * code was already used (RFC 6238 §5.2: a verifier must not accept the same OTP twice).
   */
  claimTotpStep(id: number, step: number): boolean {
    const info = this.db
      .prepare('UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)')
      .run(step, id, step);
    return info.changes === 1;
  }
}
