import type { Role } from '../../auth/roles.js';
import { UserExistsError, type UserRecord, type UsersStore } from '../accounts-store.js';
import type { Db } from './postgres-db.js';

interface UserRow {
  id: number;
  username: string;
  role: Role;
  password_hash: string;
  disabled: boolean;
  totp_secret: string | null;
  totp_last_step: number | null;
  created_at: string;
}

/**
 * Named, never `*`: statements are prepared per connection (postgres-db.ts), and a prepared `*`
 * fails once a later migration adds a column ("cached plan must not change result type").
 */
const USER_COLUMNS = 'id, username, role, password_hash, disabled, totp_secret, totp_last_step, created_at';

function toRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    passwordHash: row.password_hash,
    disabled: row.disabled,
    totpSecret: row.totp_secret,
    totpLastStep: row.totp_last_step,
    createdAt: row.created_at,
  };
}

/**
 * UsersStore's SQL. Names compare without case through the unique index on lower(username), which
 * these queries use; the list is ordered by lower(username) in byte order, as SQLite's NOCASE
 * column orders it, whatever the database's collation.
 */
export class PostgresUsers implements UsersStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async create(username: string, role: Role, passwordHash: string): Promise<UserRecord> {
    // ON CONFLICT DO NOTHING rather than catching unique_violation: inside a unit of work a failed
    // statement would abort the whole transaction, where SQLite's leaves it usable.
    const { rows } = await this.db.query<UserRow>(
      `INSERT INTO users (username, role, password_hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT DO NOTHING RETURNING ${USER_COLUMNS}`,
      [username, role, passwordHash, this.now().toISOString()],
    );
    if (rows.length === 0) throw new UserExistsError(`user ${username} already exists`);
    return toRecord(rows[0]!);
  }

  async findById(id: number): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async findByUsername(username: string): Promise<UserRecord | undefined> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE lower(username) = lower($1)`, [username]);
    return rows[0] && toRecord(rows[0]);
  }

  async list(): Promise<UserRecord[]> {
    const { rows } = await this.db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY lower(username) COLLATE "C"`);
    return rows.map(toRecord);
  }

  async setPasswordHash(id: number, passwordHash: string): Promise<void> {
    await this.db.query('UPDATE users SET password_hash = $1 WHERE id = $2', [passwordHash, id]);
  }

  async setDisabled(id: number, disabled: boolean): Promise<void> {
    await this.db.query('UPDATE users SET disabled = $1 WHERE id = $2', [disabled, id]);
  }

  async setTotpSecret(id: number, secret: string | null): Promise<void> {
    await this.db.query('UPDATE users SET totp_secret = $1, totp_last_step = NULL WHERE id = $2', [secret, id]);
  }

  async claimTotpStep(id: number, step: number): Promise<boolean> {
    // Racing claims: the second UPDATE waits for the first's row lock, then re-checks the WHERE on
    // the row as the first left it (READ COMMITTED), so one step is claimed once.
    const { rowCount } = await this.db.query(
      'UPDATE users SET totp_last_step = $1 WHERE id = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)',
      [step, id],
    );
    return rowCount === 1;
  }
}
