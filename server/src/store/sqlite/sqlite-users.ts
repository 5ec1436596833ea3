import type { Role } from '../../auth/roles.js';
import type { RelayDatabase } from './database.js';
import { UserExistsError, type UserRecord } from '../accounts-store.js';

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

function findById(db: RelayDatabase, id: number): UserRecord | undefined {
  const row = db.prepare('SELECT * FROM users WHERE id = ?').get(id) as UserRow | undefined;
  return row && toRecord(row);
}

/** UsersStore's SQL (users.username is COLLATE NOCASE: names compare without case). */
export class SqliteUsers {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  create(username: string, role: Role, passwordHash: string): UserRecord {
    try {
      const info = this.db
        .prepare('INSERT INTO users (username, role, password_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(username, role, passwordHash, this.now().toISOString());
      return findById(this.db, Number(info.lastInsertRowid))!;
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new UserExistsError(`user ${username} already exists`);
      throw error;
    }
  }

  findById(id: number): UserRecord | undefined {
    return findById(this.db, id);
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

  claimTotpStep(id: number, step: number): boolean {
    const info = this.db
      .prepare('UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)')
      .run(step, id, step);
    return info.changes === 1;
  }
}
