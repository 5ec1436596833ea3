import type { PoolClient } from 'pg';
import { MIGRATION_LOCK } from './postgres-db.js';

/**
 * The PostgreSQL schema, as migrations applied in order and recorded in `relaypacs_schema` (one row
 * per version applied). A migration never changes once released; add a new one.
 *
 * Version 1 is what the SQLite schema means after its ten migrations (store/sqlite/migrations.ts),
 * written for PostgreSQL, not replayed: the SQLite history (columns added, a column dropped, failure
 * codes respelt) has no rows to carry here. Differences of type, not of meaning:
 * - times are timestamptz (SQLite: ISO-8601 text). The stores bind the interfaces' ISO strings and
 *   answer them with toISOString() (postgres-db.ts): the interfaces carry millisecond ISO strings,
 *   which timestamptz (microseconds) holds exactly, and comparisons (expiry, due times, the audit
 *   export's `since`) are by instant, whatever offset a caller wrote, not by the text's order.
 * - ids are bigint identity columns (answered as JS numbers), sizes and offsets bigint (instances
 *   may exceed 4 GB), flags boolean, the SHA-256 state bytea.
 * - users.username: names compare without case through a unique index on lower(username) (SQLite:
 *   COLLATE NOCASE, which folds ASCII only; user names are ASCII, auth/user-accounts.ts).
 * - upload_chunks.offset is byte_offset: OFFSET is a reserved word in PostgreSQL.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  // 1: the schema of SQLite migrations 1 to 10
  `
  CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    role text NOT NULL,
    password_hash text NOT NULL,
    disabled boolean NOT NULL DEFAULT false,
    totp_secret text,
    totp_last_step bigint,
    created_at timestamptz NOT NULL
  );
  CREATE UNIQUE INDEX users_username_nocase ON users (lower(username));

  CREATE TABLE sessions (
    id text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text
  );
  CREATE INDEX sessions_by_user ON sessions(user_id);

  CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    session_id text NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    issued_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    replaced_by text
  );
  CREATE INDEX refresh_tokens_by_session ON refresh_tokens(session_id);
  CREATE INDEX refresh_tokens_by_expiry ON refresh_tokens(expires_at);

  CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor_user_id bigint,
    action text NOT NULL,
    target text,
    address text,
    outcome text NOT NULL
  );
  CREATE INDEX audit_log_by_action_target ON audit_log(action, target);

  CREATE TABLE uploads (
    id text PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users(id),
    study_instance_uid text NOT NULL,
    modality text,
    service_level text NOT NULL,
    clinical_history text,
    source_workstation text,
    facility text,
    manifest_hash text NOT NULL,
    state text NOT NULL,
    chunk_bytes bigint NOT NULL,
    total_bytes bigint NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    completed_at timestamptz
  );
  CREATE INDEX uploads_by_user_state ON uploads(user_id, state);
  CREATE INDEX uploads_by_resume_key ON uploads(user_id, study_instance_uid, manifest_hash, state);

  CREATE TABLE upload_instances (
    upload_id text NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    idx integer NOT NULL,
    sop_instance_uid text NOT NULL,
    sop_class_uid text NOT NULL,
    size bigint NOT NULL,
    sha256 text NOT NULL,
    received_bytes bigint NOT NULL DEFAULT 0,
    state text NOT NULL,
    transfer_syntax_uid text,
    rejection_code text,
    rejection_reason text,
    PRIMARY KEY (upload_id, idx),
    UNIQUE (upload_id, sop_instance_uid)
  );

  CREATE TABLE upload_chunks (
    upload_id text NOT NULL,
    idx integer NOT NULL,
    byte_offset bigint NOT NULL,
    length bigint NOT NULL,
    sha256 text NOT NULL,
    received_at timestamptz NOT NULL,
    sha256_state bytea,
    PRIMARY KEY (upload_id, idx, byte_offset),
    FOREIGN KEY (upload_id, idx) REFERENCES upload_instances(upload_id, idx) ON DELETE CASCADE
  );

  -- Instances a PACS confirmed earlier: a new upload need not send them again.
  CREATE TABLE delivered_instances (
    sop_instance_uid text NOT NULL,
    sha256 text NOT NULL,
    delivered_at timestamptz NOT NULL,
    PRIMARY KEY (sop_instance_uid, sha256)
  );

  CREATE TABLE deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    upload_id text NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    destination text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (upload_id, destination)
  );

  CREATE TABLE delivery_items (
    delivery_id bigint NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
    idx integer NOT NULL,
    state text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error text,
    failure_code text,
    warning text,
    updated_at timestamptz NOT NULL,
    PRIMARY KEY (delivery_id, idx)
  );
  CREATE INDEX delivery_items_due ON delivery_items(state, next_attempt_at);

  CREATE TABLE login_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope text NOT NULL,
    key text NOT NULL,
    at_ms bigint NOT NULL
  );
  CREATE INDEX login_attempts_by_key ON login_attempts(scope, key);
  CREATE INDEX login_attempts_by_time ON login_attempts(scope, at_ms);

  CREATE TABLE signing_keys (
    purpose text PRIMARY KEY,
    jwk text NOT NULL,
    created_at timestamptz NOT NULL
  );
  `,
  // 2: SQLite migrations 11 to 13: delivery leases (owner, lease_until), job leases, kept events
  `
  ALTER TABLE delivery_items ADD COLUMN owner text;
  ALTER TABLE delivery_items ADD COLUMN lease_until timestamptz;
  CREATE INDEX delivery_items_sending ON delivery_items(state, lease_until);

  CREATE TABLE job_leases (
    job text PRIMARY KEY,
    owner text NOT NULL,
    lease_until timestamptz NOT NULL
  );

  CREATE TABLE relay_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_user_id bigint NOT NULL,
    body text NOT NULL,
    at timestamptz NOT NULL
  );
  CREATE INDEX relay_events_owner ON relay_events(owner_user_id, id);
  `,
  // 3: chunk claims shared by the relays (store/chunk-claims-store.ts). UNLOGGED: not needed after
  // a crash of the database, and not replicated to a standby, whose relays start with none.
  `
  CREATE UNLOGGED TABLE chunk_claims (
    id text PRIMARY KEY,
    upload_id text NOT NULL,
    idx integer NOT NULL,
    byte_start bigint NOT NULL,
    byte_end bigint NOT NULL,
    holder text NOT NULL,
    moved_at timestamptz NOT NULL,
    superseded boolean NOT NULL DEFAULT false
  );
  CREATE INDEX chunk_claims_instance ON chunk_claims(upload_id, idx);
  `,
  // 4: SQLite migration 14: JWT signing keys as a ring, the one key kept so far its first
  `
  CREATE TABLE jwt_signing_keys (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    jwk text NOT NULL,
    created_at timestamptz NOT NULL,
    retired_at timestamptz,
    verify_until timestamptz
  );
  INSERT INTO jwt_signing_keys (jwk, created_at) SELECT jwk, created_at FROM signing_keys WHERE purpose = 'jwt';
  DROP TABLE signing_keys;
  `,
  // 5: two writes of several statements as one round trip each (a small instance's cost is round
  // trips: docs/BENCHMARKS.md). Functions, not single statements, because each statement of a
  // VOLATILE PL/pgSQL function takes a new snapshot in READ COMMITTED (PostgreSQL manual, "Function
  // Volatility Categories"): the second statement sees what other relays committed while the first
  // waited for a lock, which one statement's snapshot would not.
  //
  // relaypacs_record_chunk: UploadsStore.recordChunk. The upload's row lock orders every chunk of
  // the upload, here and on other relays; the overlap check after it then sees every chunk
  // committed before, so two overlapping chunks cannot both be recorded. NO KEY UPDATE, the lock
  // the UPDATE takes anyway, leaves foreign-key checks (KEY SHARE) of other writers alone. Then, only
  // without overlap, the chunk, the instance's count (and 'received' with its last byte, so a crash
  // right after cannot leave a complete instance looking incomplete) and the upload's expiry.
  // Answers the instance's received bytes, or NULL when not recorded (upload not receiving, overlap).
  `
  CREATE FUNCTION relaypacs_record_chunk(p_upload text, p_idx integer, p_offset bigint, p_length bigint, p_sha256 text,
      p_state bytea, p_now timestamptz, p_expires timestamptz) RETURNS bigint LANGUAGE plpgsql VOLATILE AS $fn$
  DECLARE
    upload_state text;
    received bigint;
  BEGIN
    SELECT state INTO upload_state FROM uploads WHERE id = p_upload FOR NO KEY UPDATE;
    IF upload_state IS DISTINCT FROM 'receiving' THEN
      RETURN NULL;
    END IF;
    WITH chunk AS (
        INSERT INTO upload_chunks (upload_id, idx, byte_offset, length, sha256, sha256_state, received_at)
        SELECT p_upload, p_idx, p_offset, p_length, p_sha256, p_state, p_now WHERE NOT EXISTS (SELECT 1 FROM upload_chunks c
          WHERE c.upload_id = p_upload AND c.idx = p_idx AND c.byte_offset < p_offset + p_length AND c.byte_offset + c.length > p_offset)
        RETURNING length),
      upload AS (UPDATE uploads SET updated_at = p_now, expires_at = p_expires WHERE id = p_upload AND EXISTS (SELECT 1 FROM chunk))
    UPDATE upload_instances i SET received_bytes = i.received_bytes + p_length,
        state = CASE WHEN i.received_bytes + p_length >= i.size AND i.state = 'receiving' THEN 'received' ELSE i.state END
      WHERE i.upload_id = p_upload AND i.idx = p_idx AND EXISTS (SELECT 1 FROM chunk)
      RETURNING i.received_bytes INTO received;
    RETURN received;
  END
  $fn$;

  -- relaypacs_enqueue: DeliveriesStore.enqueue. Delivery ids follow the destinations' order; a
  -- delivery a racing relay is inserting makes the first INSERT wait for its commit, then skip it,
  -- and the second, with its own snapshot, sees it.
  CREATE FUNCTION relaypacs_enqueue(p_upload text, p_destinations text[], p_idx integer, p_now timestamptz)
      RETURNS void LANGUAGE plpgsql VOLATILE AS $fn$
  BEGIN
    INSERT INTO deliveries (upload_id, destination, created_at)
      SELECT p_upload, t.destination, p_now FROM unnest(p_destinations) WITH ORDINALITY AS t(destination, ord) ORDER BY t.ord
      ON CONFLICT (upload_id, destination) DO NOTHING;
    INSERT INTO delivery_items (delivery_id, idx, state, next_attempt_at, updated_at)
      SELECT d.id, p_idx, 'queued', p_now, p_now FROM deliveries d WHERE d.upload_id = p_upload AND d.destination = ANY(p_destinations) ORDER BY d.id
      ON CONFLICT (delivery_id, idx) DO NOTHING;
  END
  $fn$;
  `,
  // 6: SQLite migration 15: reports found in the PACS for delivered studies
  `
  CREATE TABLE report_watches (
    upload_id text NOT NULL,
    destination text NOT NULL,
    study_instance_uid text NOT NULL,
    user_id bigint NOT NULL,
    state text NOT NULL,
    started_at timestamptz NOT NULL,
    next_check_at timestamptz NOT NULL,
    interval_seconds double precision NOT NULL,
    until timestamptz NOT NULL,
    known_instances integer,
    PRIMARY KEY (upload_id, destination)
  );
  CREATE INDEX report_watches_due ON report_watches (destination, state, next_check_at);
  CREATE TABLE reports (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    upload_id text NOT NULL,
    destination text NOT NULL,
    user_id bigint NOT NULL,
    study_instance_uid text NOT NULL,
    series_instance_uid text,
    sop_instance_uid text NOT NULL,
    kind text NOT NULL,
    status text NOT NULL,
    title text,
    source text NOT NULL,
    detected_at timestamptz NOT NULL,
    content bytea,
    UNIQUE (upload_id, destination, sop_instance_uid)
  );
  CREATE INDEX reports_by_user ON reports (user_id, detected_at);
  CREATE TABLE report_non_reports (
    destination text NOT NULL,
    study_instance_uid text NOT NULL,
    sop_instance_uid text NOT NULL,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (destination, sop_instance_uid)
  );
  CREATE INDEX report_non_reports_study ON report_non_reports (destination, study_instance_uid);
  CREATE TABLE report_cursors (
    destination text PRIMARY KEY,
    cursor bigint NOT NULL,
    updated_at timestamptz NOT NULL
  );
  `,
  // 7: SQLite migration 16: the study's accession number (HL7 reports name studies by it)
  `
  ALTER TABLE uploads ADD COLUMN accession_number text;
  CREATE INDEX uploads_by_accession ON uploads (accession_number) WHERE accession_number IS NOT NULL;
  `,
];

/**
 * Applies the migrations the database lacks, each in its own transaction with its version row.
 * The whole runs under a session-level advisory lock, so of N relays starting together on one
 * database one migrates and the others wait, then find nothing left to do. Answers the versions
 * applied by this call. Changes the session's settings: the caller closes it afterwards.
 */
export async function migratePostgres(client: PoolClient): Promise<number[]> {
  // No statement_timeout here: waiting for another relay's migration, or a migration rewriting a
  // large table, may take longer than a request's statement should. The caller discards this session.
  await client.query('SET statement_timeout = 0');
  await client.query('SELECT pg_advisory_lock($1, $2)', MIGRATION_LOCK);
  try {
    await client.query(`CREATE TABLE IF NOT EXISTS relaypacs_schema (
      version integer PRIMARY KEY,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM relaypacs_schema');
    const current = rows[0]?.version ?? 0;
    if (current > POSTGRES_MIGRATIONS.length) {
      throw new Error(`the database's schema is version ${current}, newer than this relay knows (${POSTGRES_MIGRATIONS.length}): upgrade the relay`);
    }
    const applied: number[] = [];
    for (const [index, sql] of POSTGRES_MIGRATIONS.entries()) {
      const version = index + 1;
      if (version <= current) continue;
      await client.query('BEGIN');
      try {
        await client.query(sql);
        await client.query('INSERT INTO relaypacs_schema (version) VALUES ($1)', [version]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw error;
      }
      applied.push(version);
    }
    return applied;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1, $2)', MIGRATION_LOCK).catch(() => {});
  }
}
