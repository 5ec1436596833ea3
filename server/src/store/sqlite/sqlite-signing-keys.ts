import type { JWK } from 'jose';
import type { RelayDatabase } from './database.js';

/**
 * SigningKeysStore's SQL. The private key sits in relay.db, readable by the relay's account only
 * (the data directory is 0700), as the key file in DATA/keys was.
 */
export class SqliteSigningKeys {
  constructor(private readonly db: RelayDatabase, private readonly now: () => Date) {}

  find(purpose: string): JWK | undefined {
    const row = this.db.prepare('SELECT jwk FROM signing_keys WHERE purpose = ?').get(purpose) as { jwk: string } | undefined;
    return row && (JSON.parse(row.jwk) as JWK);
  }

  createOnce(purpose: string, candidate: JWK): JWK {
    // The primary key makes the first insert win; every relay then reads the same row.
    this.db.prepare('INSERT INTO signing_keys (purpose, jwk, created_at) VALUES (?, ?, ?) ON CONFLICT (purpose) DO NOTHING')
      .run(purpose, JSON.stringify(candidate), this.now().toISOString());
    return this.find(purpose)!;
  }
}
