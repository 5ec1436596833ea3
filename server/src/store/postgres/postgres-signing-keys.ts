import type { JWK } from 'jose';
import type { SigningKeysStore, StoredSigningKey } from '../accounts-store.js';
import { SIGNING_KEY_COLUMNS, toSigningKey, type SigningKeyRow } from '../signing-key-rows.js';
import { SIGNING_KEYS_LOCK, type Db } from './postgres-db.js';

/** SigningKeysStore's SQL. The private keys sit in the database: its access is the relays' alone. */
export class PostgresSigningKeys implements SigningKeysStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async usable(now: string, retiredSince: string): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.query<SigningKeyRow>(`SELECT ${SIGNING_KEY_COLUMNS} FROM jwt_signing_keys
      WHERE retired_at IS NULL OR verify_until > $1 OR (verify_until IS NULL AND retired_at > $2) ORDER BY id DESC`, [now, retiredSince]);
    return rows.map(toSigningKey);
  }

  async all(): Promise<StoredSigningKey[]> {
    const { rows } = await this.db.query<SigningKeyRow>(`SELECT ${SIGNING_KEY_COLUMNS} FROM jwt_signing_keys ORDER BY id DESC`);
    return rows.map(toSigningKey);
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
