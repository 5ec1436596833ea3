import type { JWK } from 'jose';
import type { SigningKeysStore } from '../accounts-store.js';
import type { Db } from './postgres-db.js';

/** SigningKeysStore's SQL. The private key sits in the database: its access is the relays' alone. */
export class PostgresSigningKeys implements SigningKeysStore {
  constructor(private readonly db: Db, private readonly now: () => Date) {}

  async find(purpose: string): Promise<JWK | undefined> {
    const { rows } = await this.db.query<{ jwk: string }>('SELECT jwk FROM signing_keys WHERE purpose = $1', [purpose]);
    return rows[0] && (JSON.parse(rows[0].jwk) as JWK);
  }

  async createOnce(purpose: string, candidate: JWK): Promise<JWK> {
    // The primary key makes the first insert win: a racing INSERT waits for the first to commit,
    // then does nothing. The SELECT is a statement of its own so its snapshot sees that commit.
    await this.db.query('INSERT INTO signing_keys (purpose, jwk, created_at) VALUES ($1, $2, $3) ON CONFLICT (purpose) DO NOTHING',
      [purpose, JSON.stringify(candidate), this.now().toISOString()]);
    return (await this.find(purpose))!;
  }
}
