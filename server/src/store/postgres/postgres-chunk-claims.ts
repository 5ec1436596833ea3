import { randomUUID } from 'node:crypto';
import type { ChunkClaimsStore, HeldClaim } from '../chunk-claims-store.js';
import type { Db } from './postgres-db.js';

/**
 * ChunkClaimsStore in the table chunk_claims (UNLOGGED: a claim need not outlive a crash of the
 * database, and its writes cost no WAL). Times are the database's clock_timestamp(), so relays
 * whose clocks differ judge staleness alike.
 */
export class PostgresChunkClaims implements ChunkClaimsStore {
  constructor(private readonly db: Db) {}

  async claim(uploadId: string, index: number, [start, end]: readonly [number, number], holder: string, staleMs: number): Promise<string | undefined> {
    // Optimistic, two statements and no transaction (the chunk path's hottest step): write the
    // claim, then look for live clashing claims of others. Of two claims racing, each looks after its
    // own write committed, so at least one sees the other: never both granted (rarely, both refused;
    // the clients retry). Clashing claims not touched for staleMs are marked superseded as they are seen.
    const id = randomUUID();
    await this.db.query(`INSERT INTO chunk_claims (id, upload_id, idx, byte_start, byte_end, holder, moved_at)
      VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())`, [id, uploadId, index, start, end, holder]);
    const { rows: [clash] } = await this.db.query<{ live: number }>(`WITH clashing AS (
        SELECT id, moved_at FROM chunk_claims
        WHERE upload_id = $2 AND idx = $3 AND byte_start < $5 AND byte_end > $4 AND id <> $1 AND NOT superseded),
      stale AS (
        UPDATE chunk_claims SET superseded = true
        WHERE id IN (SELECT id FROM clashing WHERE moved_at < clock_timestamp() - make_interval(secs => $6::double precision / 1000)))
      SELECT count(*)::int AS live FROM clashing`, [id, uploadId, index, start, end, staleMs]);
    if ((clash?.live ?? 0) === 0) return id;
    await this.db.query('DELETE FROM chunk_claims WHERE id = $1', [id]);
    return undefined;
  }

  async touch(moved: readonly string[], held: readonly string[]): Promise<{ superseded: Set<string>; missing: Set<string> }> {
    const { rows } = await this.db.query<{ id: string; superseded: boolean }>(`WITH moved AS (
        UPDATE chunk_claims SET moved_at = clock_timestamp() WHERE id = ANY($1::text[]))
      SELECT id, superseded FROM chunk_claims WHERE id = ANY($2::text[])`, [moved, held]);
    const found = new Map(rows.map((row) => [row.id, row.superseded]));
    return {
      superseded: new Set(held.filter((id) => found.get(id) === true)),
      missing: new Set(held.filter((id) => !found.has(id))),
    };
  }

  async restore(claims: readonly HeldClaim[]): Promise<void> {
    if (claims.length === 0) return;
    await this.db.query(`INSERT INTO chunk_claims (id, upload_id, idx, byte_start, byte_end, holder, moved_at)
      SELECT id, upload_id, idx, byte_start, byte_end, holder, clock_timestamp()
      FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::text[]) AS c(id, upload_id, idx, byte_start, byte_end, holder)
      ON CONFLICT (id) DO NOTHING`, [
      claims.map((c) => c.id), claims.map((c) => c.uploadId), claims.map((c) => c.index),
      claims.map((c) => c.range[0]), claims.map((c) => c.range[1]), claims.map((c) => c.holder),
    ]);
  }

  async release(id: string): Promise<void> {
    await this.db.query('DELETE FROM chunk_claims WHERE id = $1', [id]);
  }

  async prune(olderThanMs: number): Promise<number> {
    const { rowCount } = await this.db.query(`DELETE FROM chunk_claims
      WHERE moved_at < clock_timestamp() - make_interval(secs => $1::double precision / 1000)`, [olderThanMs]);
    return rowCount ?? 0;
  }
}
