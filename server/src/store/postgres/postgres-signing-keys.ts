import type { JWK } from 'jose';
import type { SigningKeysStore, StoredSigningKey } from '../accounts-store.js';
import { SIGNING_KEYS_LOCK, type Db } from './postgres-db.js';

interface KeyRow {
  id: number;
  jwk: string;
  created_at: string;
  retired_at: string | null;
  verify_until: string | null;
}

const COLUMNS = 'id, jwk, created_at, retired_at, verify_until';

/** SigningKeysStore's SQL. The private keys sit in the database: its access is the relays' alone. */
export class PostgresSigningKeys implements SigningKeysStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async usable(now: string, retiredSince: string): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${COLUMNS} FROM jwt_signing_keys
      WHERE retired_at IS NULL OR verify_until > $1 OR (verify_until IS NULL AND retired_at > $2) ORDER BY id DESC`, [now, retiredSince]);
    return rows.map(toKey);
  }

  async all(): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.query<KeyRow>(`SELECT ${COLUMNS} FROM jwt_signing_keys ORDER BY id DESC`);
    return rows.map(toKey);
  }

  async addFirst(jwk: JWK): Promise<boolean> {
    // Under the lock, relays starting together add one key: the others find it there.
    return this.db.atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, $2)', SIGNING_KEYS_LOCK);
      const { rowCount } = await db.query(`INSERT INTO jwt_signing_keys (jwk, created_at) SELECT $1, $2
        WHERE NOT EXISTS (SELECT 1 FROM jwt_signing_keys)`, [JSON.stringify(jwk), this.now().toISOString()]);
      return rowCount === 1;
    });
  }

  async rotate(jwk: JWK, verifyUntil?: string): Promise<void> {
    const now = this.now().toISOString();
    await this.db.atomic(async (db) => {
      await db.query('SELECT pg_advisory_xact_lock($1, $2)', SIGNING_KEYS_LOCK);
      await db.query('UPDATE jwt_signing_keys SET retired_at = $1, verify_until = $2 WHERE retired_at IS NULL', [now, verifyUntil ?? null]);
      await db.query('INSERT INTO jwt_signing_keys (jwk, created_at) VALUES ($1, $2)', [JSON.stringify(jwk), now]);
    });
  }

  async prune(now: string, retiredBefore: string): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM jwt_signing_keys
      WHERE retired_at IS NOT NULL AND (verify_until <= $1 OR (verify_until IS NULL AND retired_at <= $2))`, [now, retiredBefore]);
    return rowCount ?? 0;
  }
}

function toKey(row: KeyRow): StoredSigningKey {
  return {
    id: row.id, jwk: JSON.parse(row.jwk) as JWK, createdAt: row.created_at,
    ...(row.retired_at === null ? {} : { retiredAt: row.retired_at }),
    ...(row.verify_until === null ? {} : { verifyUntil: row.verify_until }),
  };
}
