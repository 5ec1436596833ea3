import type { JWK } from 'jose';
import type { StoredSigningKey } from '../accounts-store.js';
import { SIGNING_KEY_COLUMNS, toSigningKey, type SigningKeyRow } from '../signing-key-rows.js';
import type { RelayDatabase } from './database.js';

/**
 * SigningKeysStore's SQL. The private keys sit in relay.db, readable by the relay's account only
 * (the data directory is 0700), as the key file in DATA/keys was.
 */
export class SqliteSigningKeys {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  usable(now: string, retiredSince: string): StoredSigningKey[] {
    return (this.db.prepare(`SELECT ${SIGNING_KEY_COLUMNS} FROM jwt_signing_keys
      WHERE retired_at IS NULL OR verify_until > ? OR (verify_until IS NULL AND retired_at > ?) ORDER BY id DESC`).all(now, retiredSince) as SigningKeyRow[]).map(toSigningKey);
  }

  all(): StoredSigningKey[] {
    return (this.db.prepare(`SELECT ${SIGNING_KEY_COLUMNS} FROM jwt_signing_keys ORDER BY id DESC`).all() as SigningKeyRow[]).map(toSigningKey);
  }

  addFirst(jwk: JWK): boolean {
    // One statement: SQLite has one writer, so two relays' inserts cannot both find the table empty.
    return this.db.prepare('INSERT INTO jwt_signing_keys (jwk, created_at) SELECT ?, ? WHERE NOT EXISTS (SELECT 1 FROM jwt_signing_keys)')
      .run(JSON.stringify(jwk), this.now().toISOString()).changes === 1;
  }

  rotate(jwk: JWK, verifyUntil?: string): void {
    const now = this.now().toISOString();
    this.db.transaction(() => {
      this.db.prepare('UPDATE jwt_signing_keys SET retired_at = ?, verify_until = ? WHERE retired_at IS NULL').run(now, verifyUntil ?? null);
      this.db.prepare('INSERT INTO jwt_signing_keys (jwk, created_at) VALUES (?, ?)').run(JSON.stringify(jwk), now);
    })();
  }

  prune(now: string, retiredBefore: string): number {
    return this.db.prepare(`DELETE FROM jwt_signing_keys
      WHERE retired_at IS NOT NULL AND (verify_until <= ? OR (verify_until IS NULL AND retired_at <= ?))`).run(now, retiredBefore).changes;
  }
}
