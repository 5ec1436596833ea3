import type { JWK } from 'jose';
import type { StoredSigningKey } from './accounts-store.js';

/** The jwt_signing_keys table's rows as both SQL backends read them, and their records: mapped once. */
export interface SigningKeyRow {
  id: number;
  jwk: string;
  created_at: string;
  retired_at: string | null;
  verify_until: string | null;
}

export const SIGNING_KEY_COLUMNS = 'id, jwk, created_at, retired_at, verify_until';

export function toSigningKey(row: SigningKeyRow): StoredSigningKey {
  return {
    id: row.id, jwk: JSON.parse(row.jwk) as JWK, createdAt: row.created_at,
    ...(row.retired_at === null ? {} : { retiredAt: row.retired_at }),
    ...(row.verify_until === null ? {} : { verifyUntil: row.verify_until }),
  };
}
